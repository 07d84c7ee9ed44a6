"""The dashboard: the last complete week's KPI cards against the week before, new insights by
severity, 30-day trends with each day's state, pending proposals, what the caller may do."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chanperf.core.enums import InsightStatus, PeriodType, ProposalStatus, Severity
from tests.api.conftest import PREFIX, add_insight, add_metric, add_proposal

AS_OF = date(2026, 11, 19)  # a Thursday: the last complete week is 9-15 November


@pytest.fixture
def data(sessions) -> None:
    with sessions.begin() as s:
        # The week shown (Mon 9 Nov), the one before, and the one before that (for growth).
        add_metric(s, 1, PeriodType.WEEKLY, date(2026, 11, 9), onboarding_rate=62.0,
                   reactivation_rate=40.0, total_revenue=11200.0)  # fmt: skip
        add_metric(s, 1, PeriodType.WEEKLY, date(2026, 11, 2), onboarding_rate=55.0,
                   reactivation_rate=40.02, total_revenue=10000.0)  # fmt: skip
        add_metric(s, 1, PeriodType.WEEKLY, date(2026, 10, 26), total_revenue=12500.0)
        # The running week: ignored by the cards.
        add_metric(s, 1, PeriodType.WEEKLY, date(2026, 11, 16), onboarding_rate=10.0)
        for i in range(0, 30, 2):
            add_metric(s, 1, PeriodType.DAILY, AS_OF - timedelta(days=i), onboarding_rate=50.0,
                       onboarding_started=3, onboarding_matured=2, reactivation_rate=30.0)  # fmt: skip
        # A day whose cohort is too young to measure, and a day without any onboarding.
        add_metric(s, 1, PeriodType.DAILY, AS_OF - timedelta(days=1), onboarding_started=4)
        add_metric(s, 1, PeriodType.DAILY, AS_OF - timedelta(days=3))
        for sev in (Severity.CRITICAL, Severity.HIGH, Severity.HIGH):
            add_insight(s, severity=sev)
        add_insight(s, severity=Severity.LOW, status=InsightStatus.IN_PROGRESS)
        add_proposal(s, expected_impact="+34% taxa de ativação", experiment_duration_days=84)
        add_proposal(s, status=ProposalStatus.APPROVED)


def test_dashboard_in_one_call(client, keys, data):
    r = client.get(f"{PREFIX}/dashboard?as_of={AS_OF}", headers=keys.header())
    assert r.status_code == 200
    body = r.get_json()
    assert body["title"] == "Performance do Canal"
    assert body["week"] == "2026-11-09" and body["week_label"] == "Semana 46/2026 (09/11–15/11)"
    cards = {c["key"]: c for c in body["kpis"]}
    assert list(cards) == ["onboarding_rate", "reactivation_rate", "revenue_growth"]
    act = cards["onboarding_rate"]
    assert (act["label"], act["display"], act["value"], act["previous"]) == (
        "Onboarding",
        "62%",
        62.0,
        55.0,
    )
    assert act["delta"] == 7.0 and act["trend"] == "up" and act["improved"] is True
    assert act["comparison_label"] == "vs sem."
    # 40.00 against 40.02: a change under 0.05 points is stable
    assert cards["reactivation_rate"]["trend"] == "flat"
    assert cards["reactivation_rate"]["trend_label"] == "Estável"
    assert cards["reactivation_rate"]["delta"] == -0.02
    # revenue 11 200 after 10 000 (+12%), and 10 000 after 12 500 (-20%) the week before
    growth = cards["revenue_growth"]
    assert (growth["label"], growth["value"], growth["previous"], growth["display"]) == (
        "Crescimento", 12.0, -20.0, "+12%"
    )  # fmt: skip
    assert growth["trend"] == "up" and growth["improved"] is True

    new = body["new_insights"]
    assert new["label"] == "Novos insights" and new["total"] == 3
    assert [(x["severity"], x["label"], x["count"]) for x in new["by_severity"]] == [
        ("CRITICAL", "Crítica", 1),
        ("HIGH", "Alta", 2),
        ("MEDIUM", "Média", 0),
        ("LOW", "Baixa", 0),
    ]

    trends = body["trends"]
    series = trends["series"]
    assert [s["key"] for s in series] == ["onboarding_rate", "reactivation_rate"]
    assert [s["label"] for s in series] == ["Taxa de ativação", "Taxa de sucesso da reativação"]
    points = series[0]["points"]
    assert len(points) == 30 and points[-1] == {"date": "2026-11-19", "value": 50.0, "state": "ok"}
    assert points[-2] == {"date": "2026-11-18", "value": None, "state": "censored"}
    assert points[-4] == {"date": "2026-11-16", "value": None, "state": "empty"}
    assert points[-6]["state"] == "missing"  # 14 Nov was not collected

    pending = body["pending_proposals"]
    assert pending["label"] == "Propostas pendentes" and pending["total"] == 1
    item = pending["items"][0]
    assert (item["current_value"], item["proposed_value"]) == ("KIT_A", "KIT_B")
    assert (item["expected_impact"], item["experiment_duration_days"]) == (
        "+34% taxa de ativação",
        84,
    )
    assert body["viewer"] == {
        "name": "viewer-ana",
        "role": "viewer",
        "can_act": False,
        "can_approve": False,
    }


def test_viewer_tells_the_page_which_buttons_to_draw(client, keys):
    body = client.get(f"{PREFIX}/dashboard", headers=keys.header("approver")).get_json()
    assert body["viewer"] == {
        "name": "approver-ana",
        "role": "approver",
        "can_act": True,
        "can_approve": True,
    }
    body = client.get(f"{PREFIX}/dashboard", headers=keys.header("analyst")).get_json()
    assert (body["viewer"]["can_act"], body["viewer"]["can_approve"]) == (True, False)


def test_empty_dashboard_has_every_section(client, keys):
    body = client.get(f"{PREFIX}/dashboard", headers=keys.header()).get_json()
    assert [c["value"] for c in body["kpis"]] == [None, None, None]
    assert [c["display"] for c in body["kpis"]] == ["—", "—", "—"]
    assert body["kpis"][0]["trend_label"] == "Sem dados"
    assert {p["state"] for s in body["trends"]["series"] for p in s["points"]} == {"missing"}
    assert body["new_insights"]["total"] == 0 and body["pending_proposals"]["items"] == []


def test_a_sunday_shows_its_own_week(client, keys, data):
    body = client.get(f"{PREFIX}/dashboard?as_of=2026-11-15", headers=keys.header()).get_json()
    assert body["week"] == "2026-11-09"


def test_bad_as_of_is_422(client, keys):
    r = client.get(f"{PREFIX}/dashboard?as_of=ontem", headers=keys.header())
    assert r.status_code == 422 and "as_of" in r.get_json()["errors"]


def test_the_onboarding_card_shows_the_last_week_whose_cohort_matured(client, keys, sessions):
    # Rows measured with a 30-day activation window. As of Thursday 19 November, the last
    # week whose every cohort had 30 days is the one ending on or before 20 October:
    # Monday 12 October to Sunday 18 October (18 Oct + 30 days = 17 Nov <= 19 Nov).
    with sessions.begin() as s:
        for monday, rate in ((date(2026, 10, 12), 61.0), (date(2026, 10, 5), 58.0)):
            add_metric(s, 1, PeriodType.WEEKLY, monday, onboarding_rate=rate,
                       collected_windows="30/90/90")  # fmt: skip
        add_metric(s, 1, PeriodType.WEEKLY, date(2026, 11, 9), reactivation_rate=40.0,
                   collected_windows="30/90/90")  # fmt: skip
    body = client.get(f"{PREFIX}/dashboard?as_of={AS_OF}", headers=keys.header()).get_json()
    cards = {c["key"]: c for c in body["kpis"]}
    onboarding = cards["onboarding_rate"]
    assert (onboarding["week"], onboarding["value"], onboarding["previous"]) == (
        "2026-10-12",
        61.0,
        58.0,
    )
    assert onboarding["week_label"] == "Semana 42/2026 (12/10–18/10)"
    # The other cards keep the last complete week.
    assert cards["reactivation_rate"]["week"] == "2026-11-09" == body["week"]
