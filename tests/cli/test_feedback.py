"""`chanperf insights act` (labels, snoozes; the reviewer is --as or the OS user) and
`chanperf rules stats` (precision with its Wilson interval, silent rules), on both backends."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from click.testing import CliRunner

from chanperf.cli import insights as insights_cli
from chanperf.cli.main import main
from chanperf.core.enums import FeedbackLabel, InsightStatus
from chanperf.models.performance import PerformanceInsight
from tests.api.conftest import add_insight
from tests.insights.test_rule_stats import RULES_FILE, hand_wilson
from tests.insights.test_rule_stats import recorded as recorded


@pytest.fixture
def insight_id(sessions) -> int:
    with sessions.begin() as s:
        return add_insight(s).id


def cli(settings, *args: str):
    return CliRunner().invoke(main, ["--database-url", settings.database_url, *args])


def stored(sessions, iid: int) -> PerformanceInsight:
    with sessions() as s:
        row = s.get(PerformanceInsight, iid)
        s.expunge(row)
        return row


def test_act_with_a_label_records_the_named_reviewer(settings, sessions, insight_id):
    result = cli(
        settings, "insights", "act", str(insight_id), "review", "--label", "TRUE_POSITIVE",
        "--as", "ana",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == f"insight {insight_id}: REVIEWED, label TRUE_POSITIVE by ana\n"
    row = stored(sessions, insight_id)
    assert (row.status, row.label, row.labelled_by, row.reviewed_by) == (
        InsightStatus.REVIEWED,
        FeedbackLabel.TRUE_POSITIVE,
        "ana",
        "ana",
    )


def test_the_reviewer_defaults_to_the_os_user(settings, sessions, insight_id, monkeypatch):
    monkeypatch.setattr(insights_cli.getpass, "getuser", lambda: "joana")
    result = cli(settings, "insights", "act", str(insight_id), "label", "--label", "EXPECTED")
    assert result.exit_code == 0, result.output
    row = stored(sessions, insight_id)
    assert (row.status, row.label, row.labelled_by) == (
        InsightStatus.NEW,
        FeedbackLabel.EXPECTED,
        "joana",
    )


def test_snooze_until_a_day_starts_it_in_the_org_time_zone(settings, sessions, insight_id):
    result = cli(
        settings, "insights", "act", str(insight_id), "snooze", "--snooze-until", "2099-01-15",
        "--label", "NOT_ACTIONABLE", "--as", "bia",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # midnight in America/Sao_Paulo (UTC-3) is 03:00 UTC
    assert "snoozed until 2099-01-15T03:00:00Z" in result.output
    row = stored(sessions, insight_id)
    assert (row.status, row.snooze_until, row.label) == (
        InsightStatus.DISMISSED,
        datetime(2099, 1, 15, 3, 0),
        FeedbackLabel.NOT_ACTIONABLE,
    )
    again = cli(settings, "insights", "act", str(insight_id), "snooze", "--snooze-until",
                "2099-02-01T00:00:00+00:00", "--as", "caio")  # fmt: skip
    assert again.exit_code == 1 and "is DISMISSED; snooze needs" in again.output


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["snooze"], 1, "snooze_until: snooze needs snooze_until"),
        (["snooze", "--snooze-until", "2020-01-01"], 1, "snooze_until must be in the future"),
        (["snooze", "--snooze-until", "semana que vem"], 2, "--snooze-until"),
        (["review", "--label", "MAYBE"], 2, "--label"),
        (["label"], 1, "label: label needs a label"),
        (["accept"], 2, "ACTION"),
    ],
)
def test_bad_input_exits_non_zero_naming_the_field(
    settings, sessions, insight_id, args, code, says
):
    result = cli(settings, "insights", "act", str(insight_id), *args, "--as", "ana")
    assert result.exit_code == code, result.output
    assert says in result.output
    row = stored(sessions, insight_id)
    assert (row.status, row.label, row.snooze_until) == (InsightStatus.NEW, None, None)


def test_rules_stats_prints_precision_and_silent_rules(settings, recorded):
    args = ["rules", "stats", "--as-of", "2026-11-30", "--rules-dir", str(RULES_FILE.parent)]
    result = cli(settings, *args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "org 1, 90 days 2026-09-02 to 2026-11-30 (1 runs)" in lines
    assert "kit_better\tkit_effectiveness\t3\t1\t2026-11-29\t4\t3/1/0/0\t0.75 [0.30, 0.95]" in lines
    assert "quiet_rule\tregion_failure\t0\t0\t-\t0\t0/0/0/0\t-" in lines
    assert "never fired in the window: quiet_rule" in lines
    assert "reads fields no finding of its kind ever had: kit_better (median_days_b)" in lines
    assert "fired or labelled, not in the pack: retired_rule" in lines
    data = json.loads(cli(settings, *args, "--json").stdout)
    kit = data["rules"][0]
    low, high = hand_wilson(3, 4)
    assert kit["precision"] == pytest.approx({"value": 0.75, "low": low, "high": high})
    assert kit["fired"] == {"all_time": 3, "window": 1} and kit["last_fired"] == "2026-11-29"
