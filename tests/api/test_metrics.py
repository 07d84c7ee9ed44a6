"""Metrics: the latest period, history (totals and cuts), trends; bad input is 4xx."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chanperf.core.enums import PeriodType
from tests.api.conftest import PREFIX, add_metric, error_of

END = date(2026, 11, 19)


@pytest.fixture
def metrics(sessions) -> None:
    with sessions.begin() as s:
        for i in range(10):
            day = END - timedelta(days=i)
            add_metric(
                s,
                1,
                PeriodType.DAILY,
                day,
                onboarding_rate=50.0 + i,
                onboarding_started=10 + i,
            )
        add_metric(
            s, 1, PeriodType.WEEKLY, date(2026, 11, 16), onboarding_rate=60.0, reincidence_rate=10.0
        )
        add_metric(
            s, 1, PeriodType.WEEKLY, date(2026, 11, 9), onboarding_rate=50.0, reincidence_rate=20.0
        )
        add_metric(s, 2, PeriodType.WEEKLY, date(2026, 11, 16), onboarding_rate=90.0)


def test_latest_weekly_and_the_week_before(client, keys, metrics):
    r = client.get(f"{PREFIX}/metrics?as_of=2026-11-19", headers=keys.header())
    body = r.get_json()
    assert r.status_code == 200
    assert (
        body["current"]["period_date"] == "2026-11-16"
        and body["current"]["period_end"] == "2026-11-22"
    )
    # a row of channel_performance_metrics: the columns' names, rates in percent
    assert body["current"]["onboarding_rate"] == 60.0
    assert body["previous"]["reincidence_rate"] == 20.0
    assert isinstance(body["current"]["onboarding_started"], int)
    assert (
        body["current"]["transitions_to_active"] == 0
        and body["current"]["avg_health_score"] is None
    )


def test_no_metrics_is_404(client, keys):
    r = client.get(f"{PREFIX}/metrics?period_type=MONTHLY", headers=keys.header())
    assert r.status_code == 404
    error_of(r)


def test_history(client, keys, metrics):
    r = client.get(f"{PREFIX}/metrics/history?from=2026-11-15&to=2026-11-19", headers=keys.header())
    rows = r.get_json()
    assert [x["period_date"] for x in rows] == [f"2026-11-{d}" for d in range(15, 20)]
    assert rows[-1]["onboarding_started"] == 10 and rows[-1]["period_end"] == "2026-11-19"
    r = client.get(
        f"{PREFIX}/metrics/history?period_type=WEEKLY&to=2026-11-30", headers=keys.header()
    )
    assert [x["period_date"] for x in r.get_json()] == ["2026-11-09", "2026-11-16"]
    r = client.get(
        f"{PREFIX}/metrics/history?dimension=region&to=2026-11-19", headers=keys.header()
    )
    assert r.status_code == 200 and r.get_json() == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-13-01", "from"),
        ("from=2026-11-19&to=2026-11-01", "from"),
        ("period_type=HOURLY", "period_type"),
        ("dimension=planet", "dimension"),
        ("dimension_value=Norte", "dimension_value"),
    ],
)
def test_bad_history_queries_are_422(client, keys, query, field):
    r = client.get(f"{PREFIX}/metrics/history?{query}", headers=keys.header())
    assert r.status_code == 422
    errors = error_of(r)["errors"]
    assert field in errors or field in errors.get("query", {}), errors


def test_trend_with_deltas(client, keys, metrics):
    r = client.get(f"{PREFIX}/trends/onboarding_rate?days=3&end=2026-11-19", headers=keys.header())
    body = r.get_json()
    assert body["metric"] == "onboarding_rate" and len(body["points"]) == 3
    last = body["points"][-1]
    assert last["value"] == 50.0 and last["previous"] == 51.0
    assert last["pop_delta"] == pytest.approx(-1.0)
    assert last["week_ago"] == pytest.approx(57.0)


def test_trend_errors(client, keys):
    r = client.get(f"{PREFIX}/trends/happiness", headers=keys.header())
    assert r.status_code == 404 and "happiness" in error_of(r)["message"]
    r = client.get(f"{PREFIX}/trends/onboarding_rate?days=0", headers=keys.header())
    assert r.status_code == 422 and "days" in error_of(r)["errors"]
