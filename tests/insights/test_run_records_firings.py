"""A real analysis run records what `rules stats` reads: each rule's matches and each finding
kind's fields, in the run's transaction; two runs count twice."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from chanperf.analysis.context import load_packs
from chanperf.analysis.findings import FINDING_FIELDS
from chanperf.analysis.run import analyze
from chanperf.models.firings import FindingFieldsSeen, RuleFiring
from chanperf.rules.stats import rule_stats
from tests.metrics.test_collect_golden import load_channel

AS_OF = date(2026, 6, 30)

pytestmark = pytest.mark.slow


def test_an_analysis_records_its_firings_and_the_fields_its_findings_had(
    engine, settings, sessions
):
    load_channel(engine)
    summary = analyze(settings, 1, AS_OF)
    assert summary.by_rule  # the planted channel fires rules
    with sessions() as s:
        fired = {
            r.rule_id: (r.matches, r.analysis_run_id, r.as_of)
            for r in s.scalars(select(RuleFiring))
        }
        seen = list(s.scalars(select(FindingFieldsSeen)))
    assert fired == {rule: (n, summary.run_id, AS_OF) for rule, n in summary.by_rule.items()}
    assert sum(row.findings for row in seen) == summary.findings
    for row in seen:
        assert set(row.fields_set) == set(FINDING_FIELDS[row.finding_kind])
        assert row.fields_set["kind"] == row.findings
        assert row.fields_set["period_end"] == row.findings  # every finding has its period
        assert all(0 <= n <= row.findings for n in row.fields_set.values())

    again = analyze(settings, 1, AS_OF)
    _, rules = load_packs(settings)
    with sessions() as s:
        report = rule_stats(s, 1, rules, AS_OF, days=90)
    by_id = {r.rule_id: r for r in report.rules}
    for rule, n in summary.by_rule.items():
        assert by_id[rule].fired == n + again.by_rule.get(rule, 0)
        assert by_id[rule].last_fired == AS_OF
    assert set(report.never_fired) == {r.id for r in rules} - set(summary.by_rule) - set(
        again.by_rule
    )
    assert report.runs_in_window == 2
