"""Feedback on insights: a label rides with any action (or alone), a snooze keeps an insight
quiet until its end unless its effect grows past the rule's margin; each a compare-and-set."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from chanperf.analysis.context import load_analysis_config
from chanperf.core.enums import FeedbackLabel, InsightStatus
from chanperf.core.errors import ConflictError, ValidationError
from chanperf.insights.store import generate_insights
from chanperf.insights.workflow import act_on_insight
from chanperf.models.performance import PerformanceInsight
from tests.insights.test_store import BASIS, count, draft, kit_finding

NOW = datetime(2026, 11, 30, 12, 0, 0)
DAY = timedelta(days=1)


def new_insight(sessions, effect: float = 0.20, margin: float | None = 0.10) -> int:
    with sessions.begin() as s:
        (iid,) = generate_insights(
            s, 1, [draft(kit_finding(effect=effect), margin=margin)], BASIS, now=NOW
        ).created
    return iid


def row(sessions, iid: int) -> PerformanceInsight:
    with sessions() as s:
        found = s.get(PerformanceInsight, iid)
        s.expunge(found)
        return found


def test_a_label_rides_with_an_action_and_records_who_and_when(sessions):
    iid = new_insight(sessions)
    with sessions.begin() as s:
        act_on_insight(s, 1, iid, "review", "ana", label="TRUE_POSITIVE", now=NOW)
    got = row(sessions, iid)
    assert (got.status, got.label, got.labelled_by, got.labelled_at) == (
        InsightStatus.REVIEWED,
        FeedbackLabel.TRUE_POSITIVE,
        "ana",
        NOW,
    )
    # A later status action may change the label; its author and time follow.
    later = NOW + DAY
    with sessions.begin() as s:
        act_on_insight(
            s, 1, iid, "dismiss", "bia", reason="já sabido", label=FeedbackLabel.EXPECTED, now=later
        )
    got = row(sessions, iid)
    assert (got.status, got.label, got.labelled_by, got.labelled_at, got.status_reason) == (
        InsightStatus.DISMISSED,
        FeedbackLabel.EXPECTED,
        "bia",
        later,
        "já sabido",
    )
    assert got.snooze_until is None  # a dismissal is for good


def test_label_alone_keeps_the_status_and_the_first_label_wins(sessions):
    iid = new_insight(sessions)
    with sessions.begin() as s:
        act_on_insight(s, 1, iid, "dismiss", "ana", reason="ruído", now=NOW)
    with sessions.begin() as s:
        act_on_insight(s, 1, iid, "label", "bia", label="FALSE_POSITIVE", now=NOW)
    got = row(sessions, iid)
    assert (got.status, got.label, got.labelled_by) == (
        InsightStatus.DISMISSED,
        FeedbackLabel.FALSE_POSITIVE,
        "bia",
    )
    assert got.reviewed_by == "ana"  # labelling is not a status move
    with (
        sessions.begin() as s,
        pytest.raises(ConflictError, match="already labelled FALSE_POSITIVE"),
    ):
        act_on_insight(s, 1, iid, "label", "caio", label="TRUE_POSITIVE", now=NOW)
    assert row(sessions, iid).labelled_by == "bia"


@pytest.mark.parametrize(
    ("action", "kwargs", "field", "message"),
    [
        ("review", {"label": "RIGHT"}, "label", "unknown label 'RIGHT'"),
        ("label", {}, "label", "label needs a label"),
        ("snooze", {}, "snooze_until", "snooze needs snooze_until"),
        ("snooze", {"snooze_until": NOW - DAY}, "snooze_until", "must be in the future"),
        ("snooze", {"snooze_until": NOW}, "snooze_until", "must be in the future"),
        ("review", {"snooze_until": NOW + DAY}, "snooze_until", "only snooze takes"),
    ],
)
def test_bad_feedback_names_the_field_and_changes_nothing(sessions, action, kwargs, field, message):
    iid = new_insight(sessions)
    with sessions.begin() as s, pytest.raises(ValidationError) as exc:
        act_on_insight(s, 1, iid, action, "ana", now=NOW, **kwargs)
    assert exc.value.problems[0].field == field
    assert message in exc.value.problems[0].message
    got = row(sessions, iid)
    assert (got.status, got.label, got.snooze_until, got.reviewed_by) == (
        InsightStatus.NEW,
        None,
        None,
        None,
    )


def test_snooze_until_an_aware_moment_is_stored_in_utc(sessions):
    iid = new_insight(sessions)
    brasilia = datetime(2026, 12, 7, 6, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))  # 09:00 UTC
    with sessions.begin() as s:
        act_on_insight(s, 1, iid, "snooze", "ana", snooze_until=brasilia, now=NOW)
    got = row(sessions, iid)
    assert (got.status, got.snooze_until) == (InsightStatus.DISMISSED, datetime(2026, 12, 7, 9, 0))
    # Snoozed is not open: a second snooze (a racing client) is a conflict.
    with sessions.begin() as s, pytest.raises(ConflictError, match="is DISMISSED; snooze needs"):
        act_on_insight(s, 1, iid, "snooze", "bia", snooze_until=NOW + 3 * DAY, now=NOW)
    # Reopening wakes it for good.
    with sessions.begin() as s:
        act_on_insight(s, 1, iid, "reopen", "bia", now=NOW)
    assert row(sessions, iid).snooze_until is None


def analyse(sessions, effect: float, when: datetime, margin: float | None = 0.10, end_days=7):
    finding = kit_finding(effect=effect, end=kit_finding().period_end + end_days * DAY)
    with sessions.begin() as s:
        return generate_insights(
            s, 1, [draft(finding, margin=margin)], BASIS, now=when, reraise_growth=0.25
        )


def test_a_snoozed_insight_stays_quiet_until_its_end_then_comes_back(sessions):
    iid = new_insight(sessions, effect=0.20)
    with sessions.begin() as s:
        act_on_insight(
            s, 1, iid, "snooze", "ana", snooze_until=NOW + 7 * DAY, label="TRUE_POSITIVE", now=NOW
        )
    # A day before the end, an effect within the margin (0.29 <= 0.20 + 0.10): quiet.
    sync = analyse(sessions, 0.29, NOW + 6 * DAY)
    assert (sync.suppressed, sync.created, sync.updated, sync.reraised) == (1, (), (), ())
    got = row(sessions, iid)
    assert (got.status, got.occurrences, float(got.effect_size)) == (
        InsightStatus.DISMISSED,
        1,
        0.20,
    )
    # At its end, the same effect brings the same insight back, awake, its label kept.
    sync = analyse(sessions, 0.29, NOW + 7 * DAY, end_days=14)
    assert sync.reraised == (iid,) and not sync.created and count(sessions) == 1
    got = row(sessions, iid)
    assert (got.status, got.snooze_until, got.occurrences, float(got.effect_size)) == (
        InsightStatus.NEW,
        None,
        2,
        0.29,
    )
    assert got.label == FeedbackLabel.TRUE_POSITIVE


def test_a_snoozed_insight_whose_effect_grows_past_the_margin_comes_back_early(sessions):
    iid = new_insight(sessions, effect=0.20)
    with sessions.begin() as s:
        act_on_insight(s, 1, iid, "snooze", "ana", snooze_until=NOW + 30 * DAY, now=NOW)
    sync = analyse(sessions, 0.31, NOW + DAY)  # 0.31 > 0.20 + 0.10
    assert sync.reraised == (iid,) and count(sessions) == 1
    assert row(sessions, iid).status == InsightStatus.NEW


def test_a_rule_without_a_margin_uses_the_configured_growth_share(sessions):
    iid = new_insight(sessions, effect=0.20, margin=None)
    with sessions.begin() as s:
        act_on_insight(s, 1, iid, "snooze", "ana", snooze_until=NOW + 30 * DAY, now=NOW)
    # reraise_growth 0.25: back when |effect| > 0.20 x 1.25 = 0.25
    assert analyse(sessions, 0.24, NOW + DAY, margin=None).suppressed == 1
    assert analyse(sessions, 0.26, NOW + 2 * DAY, margin=None).reraised == (iid,)


def test_a_dismissed_insight_is_not_woken_by_time(sessions):
    iid = new_insight(sessions, effect=0.20)
    with sessions.begin() as s:
        act_on_insight(s, 1, iid, "dismiss", "ana", reason="não é problema", now=NOW)
    assert analyse(sessions, 0.29, NOW + 400 * DAY).suppressed == 1
    assert row(sessions, iid).status == InsightStatus.DISMISSED


def test_reraise_growth_is_read_from_the_config_and_schema_checked(tmp_path: Path):
    folder = tmp_path / "analysis"
    folder.mkdir()
    (folder / "config.yaml").write_text("version: 1\nreraise_growth: 0.4\n")
    assert load_analysis_config(tmp_path).reraise_growth == 0.4
    (folder / "config.yaml").write_text("version: 1\nreraise_growth: -1\n")
    with pytest.raises(ValidationError, match=r"config.yaml:2:\d+: .*reraise_growth"):
        load_analysis_config(tmp_path)
    shipped = load_analysis_config(Path(__file__).parents[2] / "rules")
    assert shipped.reraise_growth == 0.25
