"""What would the analysis say under the proposed policy? Replay the last weeks, write nothing.

The detectors and rules run twice over the same source data: once with the
current PolicySet and once with the proposal applied (`PolicySet.with_params`).
Insights are compared by their identity (rule + affected fields). The connection
only reads and its transaction is rolled back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Any

from chanperf.analysis.context import AnalysisContext, load_analysis_config
from chanperf.analysis.detect import run_detectors
from chanperf.core.clock import yesterday
from chanperf.core.database import make_engine, session_factory
from chanperf.core.errors import ValidationError
from chanperf.core.settings import Settings
from chanperf.insights.drafts import InsightDraft, build_insight_drafts
from chanperf.policies.load import PolicySet, load_policies
from chanperf.proposals.queries import get_proposal
from chanperf.rules.engine import evaluate
from chanperf.rules.load import load_rules

# rule, region, segment, policy, sku, cut: InsightDraft.fingerprint_inputs
Identity = tuple[str | None, ...]


@dataclass(frozen=True)
class ReplayResult:
    proposal_id: int
    address: str
    proposed_value: Any
    as_of: date
    weeks: int
    disappear: tuple[Identity, ...]  # raised under the current policy only
    appear: tuple[Identity, ...]  # raised under the proposed policy only
    remain: tuple[Identity, ...]

    def lines(self) -> list[str]:
        def show(ident: Identity) -> str:
            rule, region, segment, policy, sku, cut = ident
            fields = {"region": region, "segment": segment, "policy": policy, "sku": sku}
            shown = str(rule) + "".join(f" {k}={v}" for k, v in fields.items() if v is not None)
            return shown + (f" [{cut}]" if cut else "")

        out = [
            f"proposal {self.proposal_id}: {self.address} = {self.proposed_value!r}, "
            f"last {self.weeks} weeks to {self.as_of}"
        ]
        out += [f"  - disappears: {show(i)}" for i in self.disappear]
        out += [f"  + appears:    {show(i)}" for i in self.appear]
        out.append(f"  {len(self.remain)} insight(s) unchanged")
        return out


def _identities(drafts: list[InsightDraft]) -> set[Identity]:
    return {d.fingerprint_inputs for d in drafts}


def replay_proposal(
    settings: Settings,
    org_id: int,
    proposal_id: int,
    weeks: int = 12,
    as_of: date | None = None,
) -> ReplayResult:
    """Re-run detectors and rules over the last `weeks` with the proposed value; write nothing."""
    if weeks < 1:
        raise ValidationError([], summary="weeks must be at least 1")
    as_of = as_of or yesterday(settings.tz)
    current = load_policies(settings.policies_dir)
    config = dataclasses.replace(load_analysis_config(settings.rules_dir), lookback_days=7 * weeks)
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as session:
            row = get_proposal(session, org_id, proposal_id)
            address, value = f"{row.policy_name}.{row.parameter_path}", row.proposed_value
            proposed = current.with_params({address: value})
            conn = session.connection()
            try:
                runs = {}
                for name, policies in (("current", current), ("proposed", proposed)):
                    runs[name] = _analyse(conn, settings, org_id, as_of, policies, config)
            finally:
                session.rollback()  # nothing a detector might have touched is kept
    finally:
        engine.dispose()
    before, after = runs["current"], runs["proposed"]
    return ReplayResult(
        proposal_id,
        address,
        value,
        as_of,
        weeks,
        tuple(sorted(before - after, key=str)),
        tuple(sorted(after - before, key=str)),
        tuple(sorted(before & after, key=str)),
    )


def _analyse(
    conn: Any, settings: Settings, org_id: int, as_of: date, policies: PolicySet, config: Any
) -> set[Identity]:
    ctx = AnalysisContext(org_id, as_of, policies, config, settings.timezone)
    findings = run_detectors(conn, ctx)
    rules = load_rules(settings.rules_dir, policies)
    return _identities(build_insight_drafts(evaluate(rules, policies, findings)))
