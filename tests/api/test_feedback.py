"""Feedback through the API: labels and snoozes on POST /insights/{id}/action, and
GET /rules with precision and coverage per rule; bad input answers 422 naming the field."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chanperf.core.enums import FeedbackLabel, RunStatus
from chanperf.models.runs import AnalysisRun
from chanperf.rules.firings import record_firings
from tests.api.conftest import PREFIX, add_insight, error_of
from tests.insights.test_rule_stats import adjusted, hand_wilson
from tests.insights.test_store import kit_finding

KIT_RULE = "kit_better_than_policy_kit"


@pytest.fixture
def insight_id(sessions) -> int:
    with sessions.begin() as s:
        return add_insight(s).id


def act(client, keys, iid, body, role="analyst"):
    return client.post(f"{PREFIX}/insights/{iid}/action", json=body, headers=keys.header(role))


def test_a_label_round_trips_with_the_reviewer_from_the_key(client, keys, insight_id):
    r = act(client, keys, insight_id, {"action": "review", "label": "TRUE_POSITIVE"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["status"], body["label"], body["labelled_by"], body["reviewed_by"]) == (
        "REVIEWED",
        "TRUE_POSITIVE",
        "analyst-ana",
        "analyst-ana",
    )
    again = client.get(f"{PREFIX}/insights/{insight_id}", headers=keys.header()).get_json()
    assert (again["label"], again["labelled_by"]) == ("TRUE_POSITIVE", "analyst-ana")
    assert again["labelled_at"] == body["labelled_at"] and body["labelled_at"].endswith("+00:00")
    listed = client.get(f"{PREFIX}/insights", headers=keys.header()).get_json()
    assert listed[0]["label"] == "TRUE_POSITIVE" and listed[0]["snooze_until"] is None


def test_label_alone_then_a_second_label_is_a_conflict(client, keys, insight_id):
    r = act(client, keys, insight_id, {"action": "label", "label": "NOT_ACTIONABLE"})
    assert r.status_code == 200 and r.get_json()["status"] == "NEW"
    r = act(client, keys, insight_id, {"action": "label", "label": "TRUE_POSITIVE"}, "approver")
    assert r.status_code == 409
    assert "already labelled NOT_ACTIONABLE" in error_of(r)["message"]


def test_a_snooze_round_trips_with_its_offset(client, keys, insight_id):
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
    local = until.astimezone(ZoneInfo("America/Sao_Paulo"))
    r = act(
        client,
        keys,
        insight_id,
        {"action": "snooze", "snooze_until": local.isoformat(), "label": "EXPECTED"},
    )
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "DISMISSED" and body["label"] == "EXPECTED"
    assert datetime.fromisoformat(body["snooze_until"]) == until
    assert body["snooze_until"].endswith("+00:00")
    r = act(client, keys, insight_id, {"action": "snooze", "snooze_until": local.isoformat()})
    assert r.status_code == 409


def _future() -> str:
    return (datetime.now(UTC) + timedelta(days=3)).isoformat()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "review", "label": "MAYBE"}, "label"),
        ({"action": "label"}, "label"),
        ({"action": "snooze"}, "snooze_until"),
        ({"action": "snooze", "snooze_until": "2026-01-01T00:00:00+00:00"}, "snooze_until"),
        ({"action": "snooze", "snooze_until": "2099-01-01T00:00:00"}, "snooze_until"),  # no offset
        ({"action": "snooze", "snooze_until": "next week"}, "snooze_until"),
        ({"action": "review", "snooze_until": "FUTURE"}, "snooze_until"),
    ],
)
def test_bad_feedback_is_a_422_naming_the_field(client, keys, sessions, insight_id, body, field):
    body = {k: _future() if v == "FUTURE" else v for k, v in body.items()}
    r = act(client, keys, insight_id, body)
    assert r.status_code == 422, r.get_json()
    err = error_of(r)
    assert list(err["errors"]) == [field], err
    after = client.get(f"{PREFIX}/insights/{insight_id}", headers=keys.header()).get_json()
    assert (after["status"], after["label"], after["snooze_until"]) == ("NEW", None, None)


@pytest.fixture
def recorded(sessions) -> None:
    """One run as of 2026-11-29 in which the kit rule matched 2 findings; its insights
    labelled 3 TRUE_POSITIVE, 1 FALSE_POSITIVE."""
    with sessions.begin() as s:
        run = AnalysisRun(
            org_id=1,
            as_of=date(2026, 11, 29),
            started_at=datetime(2026, 11, 30, 6, 0),
            status=RunStatus.SUCCEEDED,
        )
        s.add(run)
        s.flush()
        kits = [adjusted(kit_finding()), adjusted(kit_finding(effect=0.2))]
        record_firings(s, run, kits, [(KIT_RULE, "kit_effectiveness")] * 2)
        for label in [FeedbackLabel.TRUE_POSITIVE] * 3 + [FeedbackLabel.FALSE_POSITIVE]:
            add_insight(s, rule_id=KIT_RULE, label=label)


def test_rules_gives_precision_with_its_wilson_interval(client, keys, recorded):
    r = client.get(f"{PREFIX}/rules?as_of=2026-11-30&days=90", headers=keys.header())
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["as_of"], body["window_start"], body["runs_in_window"]) == (
        "2026-11-30",
        "2026-09-02",
        1,
    )
    kit = next(x for x in body["rules"] if x["rule_id"] == KIT_RULE)
    assert kit["fired"] == {"all_time": 2, "window": 2}
    assert (kit["last_fired"], kit["last_fired_at"]) == ("2026-11-29", "2026-11-30T06:00:00+00:00")
    assert kit["labelled"] == 4 and kit["labels"]["TRUE_POSITIVE"] == 3
    low, high = hand_wilson(3, 4)
    assert kit["precision"] == pytest.approx({"value": 0.75, "low": low, "high": high})
    assert KIT_RULE not in body["never_fired"]
    assert len(body["never_fired"]) == len(body["rules"]) - 1
    # The fixture's kit findings have no n, ratio, CI or median days; the shipped rule
    # quotes all of them.
    assert kit["unproduced_fields"] == [
        "ci_high",
        "ci_low",
        "median_days_a",
        "median_days_b",
        "n",
        "ratio",
        "relative_effect",
    ]
    assert KIT_RULE in body["reads_unproduced"]
    # A window that ends before the run: fired all time, not in the window.
    early = client.get(f"{PREFIX}/rules?as_of=2026-11-28", headers=keys.header()).get_json()
    kit = next(x for x in early["rules"] if x["rule_id"] == KIT_RULE)
    assert kit["fired"] == {"all_time": 2, "window": 0} and KIT_RULE in early["never_fired"]


def test_rules_is_per_org(client, keys, recorded):
    body = client.get(f"{PREFIX}/rules?as_of=2026-11-30", headers=keys.other_header()).get_json()
    kit = next(x for x in body["rules"] if x["rule_id"] == KIT_RULE)
    assert kit["fired"]["all_time"] == 0 and kit["labelled"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("days=0", "days"),
        ("as_of=2999-01-01", "as_of"),
        ("as_of=ontem", "as_of"),
        ("dias=9", "dias"),
    ],
)
def test_rules_bad_query_is_a_422_naming_it(client, keys, query, field):
    r = client.get(f"{PREFIX}/rules?{query}", headers=keys.header())
    assert r.status_code == 422
    assert field in error_of(r)["errors"]
