"""GET /insights (filters, sort, pages), GET /insights/{id} with proposals, POST .../action."""

from __future__ import annotations

import json
from datetime import date

import pytest

from chanperf.core.enums import InsightCategory, InsightStatus, InsightType, Severity
from tests.api.conftest import PREFIX, add_insight, add_proposal, error_of


@pytest.fixture
def insights(sessions) -> dict[str, int]:
    with sessions.begin() as s:
        ids = {
            "crit": add_insight(
                s,
                severity=Severity.CRITICAL,
                insight_type=InsightType.POLICY_TOO_LAX,
                category=InsightCategory.REACTIVATION,
                affected_region=None,
                affected_segment="VAREJO",
            ).id,
            "high": add_insight(s, severity=Severity.HIGH).id,
            "low": add_insight(
                s,
                severity=Severity.LOW,
                status=InsightStatus.DISMISSED,
                analysis_period_start=date(2026, 1, 1),
                analysis_period_end=date(2026, 1, 31),
            ).id,
            "med": add_insight(s, severity=Severity.MEDIUM, affected_region="Sul").id,
        }
        add_proposal(s, insight_id=ids["high"])
        return ids


def _ids(r) -> list[int]:
    assert r.status_code == 200, r.get_json()
    return [i["id"] for i in r.get_json()]


def test_list_default_sort_is_severity_then_newest(client, keys, insights):
    r = client.get(f"{PREFIX}/insights", headers=keys.header())
    assert _ids(r) == [insights["crit"], insights["high"], insights["med"], insights["low"]]
    first = r.get_json()[0]
    assert first["type"] == "POLICY_TOO_LAX" and first["severity"] == "CRITICAL"
    # the shape of the design's examples, then the rest of the row
    for key in (
        "type",
        "severity",
        "category",
        "title",
        "observation",
        "evidence",
        "recommendation",
        "suggested_action",
        "status",
        "analysis_period_end",
    ):
        assert key in first, key
    assert "insight_type" not in first and "proposals" not in first


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("type=POLICY_TOO_LAX", ["crit"]),
        ("severity=HIGH&severity=MEDIUM", ["high", "med"]),
        ("status=DISMISSED", ["low"]),
        ("category=reactivation", ["crit"]),
        ("region=Sul", ["med"]),
        ("segment=VAREJO", ["crit"]),
        ("period=2026-01", ["low"]),
        ("period=2026-W47", ["crit", "high", "med"]),
        ("period=2026-01-15", ["low"]),
        ("period=2026-02-01..2026-03-01", []),
        ("sort=severity", ["low", "med", "high", "crit"]),
        ("sort=-id", ["med", "low", "high", "crit"]),
    ],
)
def test_filters_and_sort(client, keys, insights, query, expected):
    r = client.get(f"{PREFIX}/insights?{query}", headers=keys.header())
    assert _ids(r) == [insights[k] for k in expected]


def test_pagination_header(client, keys, insights):
    r = client.get(f"{PREFIX}/insights?page=2&page_size=3", headers=keys.header())
    assert _ids(r) == [insights["low"]]
    assert json.loads(r.headers["X-Pagination"]) == {
        "total": 4,
        "total_pages": 2,
        "first_page": 1,
        "last_page": 2,
        "page": 2,
        "previous_page": 1,
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("severity=SEVERE", "severity"),
        ("type=BUG", "type"),
        ("status=OPEN", "status"),
        ("category=" + "x" * 51, "category"),
        ("period=last-week", "period"),
        ("period=2026-03-01..2026-02-01", "period"),
        ("period=2026-W60", "period"),
        ("sort=title", "sort"),
        ("page=0", "page"),
        ("page_size=1000", "page_size"),
    ],
)
def test_bad_filters_are_422_naming_the_field(client, keys, query, field):
    r = client.get(f"{PREFIX}/insights?{query}", headers=keys.header())
    assert r.status_code == 422, r.get_json()
    errors = error_of(r)["errors"]
    assert field in errors or field in errors.get("query", {}), errors


def test_detail_includes_evidence_and_proposals(client, keys, insights):
    r = client.get(f"{PREFIX}/insights/{insights['high']}", headers=keys.header())
    body = r.get_json()
    assert r.status_code == 200 and body["evidence"]["kit_b_activation_rate"] == 0.78
    assert [p["policy_name"] for p in body["proposals"]] == ["onboarding"]
    assert body["proposals"][0]["status"] == "PENDING_REVIEW"
    assert (
        client.get(f"{PREFIX}/insights/{insights['crit']}", headers=keys.header()).get_json()[
            "proposals"
        ]
        == []
    )


@pytest.mark.parametrize("path", ["/insights/999999", "/insights/abc", "/insights/-1"])
def test_unknown_insight_is_404(client, keys, path):
    r = client.get(PREFIX + path, headers=keys.header())
    assert r.status_code == 404
    error_of(r)


def test_actions_follow_the_allowed_transitions(client, keys, insights, sessions):
    url = f"{PREFIX}/insights/{insights['high']}/action"
    h = keys.header("analyst")
    r = client.post(url, json={"action": "start"}, headers=h)
    assert r.status_code == 409 and "is NEW; start needs it REVIEWED" in error_of(r)["message"]
    r = client.post(url, json={"action": "review"}, headers=h)
    assert r.status_code == 200
    assert r.get_json()["status"] == "REVIEWED" and r.get_json()["reviewed_by"] == "analyst-ana"
    r = client.post(url, json={"action": "start"}, headers=h)
    assert r.get_json()["status"] == "IN_PROGRESS"
    r = client.post(url, json={"action": "review"}, headers=h)
    assert r.status_code == 409 and "IN_PROGRESS" in error_of(r)["message"]
    r = client.post(url, json={"action": "implement"}, headers=h)
    assert r.status_code == 422 and "implementation_notes" in str(error_of(r)["errors"])
    r = client.post(
        url, json={"action": "implement", "implementation_notes": "kit trocado"}, headers=h
    )
    body = r.get_json()
    assert (body["status"], body["implementation_notes"]) == ("IMPLEMENTED", "kit trocado")
    r = client.post(url, json={"action": "dismiss", "reason": "sazonal"}, headers=h)
    assert r.status_code == 409  # implemented is final
    other = f"{PREFIX}/insights/{insights['med']}/action"
    r = client.post(other, json={"action": "dismiss", "reason": "sazonal"}, headers=h)
    assert r.get_json()["status"] == "DISMISSED" and r.get_json()["status_reason"] == "sazonal"
    r = client.post(other, json={"action": "review"}, headers=h)
    assert r.status_code == 409  # acting on a dismissed insight
    r = client.post(other, json={"action": "reopen"}, headers=h)
    assert r.get_json()["status"] == "NEW"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "dismiss"}, "reason"),
        ({"action": "delete"}, "action"),
        ({}, "action"),
        ({"action": "review", "reason": ""}, "reason"),
    ],
)
def test_bad_action_bodies_are_422(client, keys, insights, body, field):
    r = client.post(
        f"{PREFIX}/insights/{insights['high']}/action", json=body, headers=keys.header("analyst")
    )
    assert r.status_code == 422
    errors = error_of(r)["errors"]
    assert field in errors or field in errors.get("json", {}), errors


def test_non_json_body_is_not_a_500(client, keys, insights):
    r = client.post(
        f"{PREFIX}/insights/{insights['high']}/action",
        data="action=review",
        content_type="text/plain",
        headers=keys.header("analyst"),
    )
    assert 400 <= r.status_code < 500
    r = client.post(
        f"{PREFIX}/insights/{insights['high']}/action",
        data="{not json",
        content_type="application/json",
        headers=keys.header("analyst"),
    )
    assert 400 <= r.status_code < 500
    error_of(r)


def test_action_on_unknown_insight_is_404(client, keys):
    r = client.post(
        f"{PREFIX}/insights/424242/action",
        json={"action": "review"},
        headers=keys.header("analyst"),
    )
    assert r.status_code == 404
