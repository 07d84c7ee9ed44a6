"""The dashboard: KPI cards this week vs last, new insights by severity, 30-day trends, pending."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chanperf.core.enums import InsightStatus, PeriodType, ProposalStatus, Severity
from tests.api.conftest import PREFIX, add_insight, add_metric, add_proposal

AS_OF = date(2026, 11, 19)  # a Thursday: this week began on Monday 16


@pytest.fixture
def data(sessions) -> None:
    with sessions.begin() as s:
        add_metric(
            s,
            1,
            PeriodType.WEEKLY,
            date(2026, 11, 16),
            onboarding_rate=62.0,
            reactivation_rate=40.0,
            reincidence_rate=15.0,
        )
        add_metric(
            s,
            1,
            PeriodType.WEEKLY,
            date(2026, 11, 9),
            onboarding_rate=55.0,
            reactivation_rate=40.0,
            reincidence_rate=10.0,
        )
        for i in range(0, 30, 2):
            add_metric(
                s,
                1,
                PeriodType.DAILY,
                AS_OF - timedelta(days=i),
                onboarding_rate=50.0,
                reactivation_rate=30.0,
            )
        for sev in (Severity.CRITICAL, Severity.HIGH, Severity.HIGH):
            add_insight(s, severity=sev)
        add_insight(s, severity=Severity.LOW, status=InsightStatus.IN_PROGRESS)
        add_proposal(s)
        add_proposal(s, status=ProposalStatus.APPROVED)


def test_dashboard_in_one_call(client, keys, data):
    r = client.get(f"{PREFIX}/dashboard?as_of={AS_OF}", headers=keys.header())
    assert r.status_code == 200
    body = r.get_json()
    cards = {c["key"]: c for c in body["kpis"]}
    assert list(cards) == ["onboarding_rate", "reactivation_rate", "reincidence_rate"]
    act = cards["onboarding_rate"]
    assert act["label"] == "Taxa de ativação"
    assert (act["value"], act["previous"]) == (62.0, 55.0)
    assert act["delta"] == pytest.approx(7.0) and act["trend"] == "up" and act["improved"] is True
    assert act["week"] == "2026-11-16" and act["week_label"].startswith("Semana 47/2026")
    assert (
        cards["reactivation_rate"]["trend"] == "flat"
        and cards["reactivation_rate"]["trend_label"] == "Estável"
    )
    reinc = cards["reincidence_rate"]
    assert (
        reinc["label"] == "Reincidência" and reinc["trend"] == "up" and reinc["improved"] is False
    )

    new = body["new_insights"]
    assert new["label"] == "Novos insights" and new["total"] == 3
    assert [(x["severity"], x["label"], x["count"]) for x in new["by_severity"]] == [
        ("CRITICAL", "Crítica", 1),
        ("HIGH", "Alta", 2),
        ("MEDIUM", "Média", 0),
        ("LOW", "Baixa", 0),
    ]

    series = body["trends"]["series"]
    assert [s["key"] for s in series] == ["onboarding_rate", "reactivation_rate"]
    points = series[0]["points"]
    assert len(points) == 30 and points[-1] == {"date": "2026-11-19", "value": 50.0}
    assert points[-2]["value"] is None  # a day without a stored row stays visible, as null

    pending = body["pending_proposals"]
    assert pending["total"] == 1 and pending["items"][0]["policy_name"] == "onboarding"


def test_empty_dashboard_has_every_section(client, keys):
    body = client.get(f"{PREFIX}/dashboard", headers=keys.header()).get_json()
    assert [c["value"] for c in body["kpis"]] == [None, None, None]
    assert body["kpis"][0]["trend_label"] == "Sem dados"
    assert body["new_insights"]["total"] == 0 and body["pending_proposals"]["items"] == []


def test_bad_as_of_is_422(client, keys):
    r = client.get(f"{PREFIX}/dashboard?as_of=ontem", headers=keys.header())
    assert r.status_code == 422 and "as_of" in r.get_json()["errors"]["query"]
