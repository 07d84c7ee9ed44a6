"""What one analysis run records for rule statistics: each rule's matches, each kind's fields.

Written in the run's transaction, so a failed run records nothing. `rules stats`
(rules/stats.py) reads them back.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from chanperf.analysis.findings import Finding
from chanperf.models.firings import FindingFieldsSeen, RuleFiring
from chanperf.models.runs import AnalysisRun


def is_set(value: Any) -> bool:
    """A field is set when it holds a value: not None, and not an empty mapping (`filters`,
    `extra`), which is how a detector says "nothing here"."""
    if value is None:
        return False
    return not (isinstance(value, Mapping) and not value)


def fields_set(findings: Sequence[Finding]) -> dict[str, dict[str, int]]:
    """Per finding kind: how many findings had each field set (fields never set count 0)."""
    out: dict[str, dict[str, int]] = {}
    for finding in findings:
        counts = out.setdefault(
            finding.kind, {f.name: 0 for f in dataclasses.fields(finding)} | {"kind": 0}
        )
        counts["kind"] += 1
        for f in dataclasses.fields(finding):
            if is_set(getattr(finding, f.name)):
                counts[f.name] += 1
    return out


def record_firings(
    session: Session,
    run: AnalysisRun,
    findings: Sequence[Finding],
    fired: Iterable[tuple[str, str]],
) -> None:
    """Store the run's firings (`fired`: one (rule id, finding kind) per match) and, per
    finding kind the detectors returned, how many findings had each field set."""
    matches = Counter(fired)
    for (rule_id, kind), count in sorted(matches.items()):
        session.add(
            RuleFiring(
                org_id=run.org_id,
                analysis_run_id=run.id,
                rule_id=rule_id,
                finding_kind=kind,
                as_of=run.as_of,
                fired_at=run.started_at,
                matches=count,
            )
        )
    for kind, counts in sorted(fields_set(findings).items()):
        session.add(
            FindingFieldsSeen(
                org_id=run.org_id,
                analysis_run_id=run.id,
                finding_kind=kind,
                as_of=run.as_of,
                findings=counts["kind"],
                fields_set=counts,
            )
        )
    session.flush()
