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
                activation_rate=0.5 + i / 100,
                onboardings_started=10 + i,
            )
        add_metric(
            s, 1, PeriodType.WEEKLY, date(2026, 11, 16), activation_rate=0.6, reincidence_rate=0.1
        )
        add_metric(
            s, 1, PeriodType.WEEKLY, date(2026, 11, 9), activation_rate=0.5, reincidence_rate=0.2
        )
        add_metric(s, 2, PeriodType.WEEKLY, date(2026, 11, 16), activation_rate=0.9)


def test_latest_weekly_and_the_week_before(client, keys, metrics):
    r = client.get(f"{PREFIX}/metrics?as_of=2026-11-19", headers=keys.header())
    body = r.get_json()
    assert r.status_code == 200
    assert (
        body["current"]["period_date"] == "2026-11-16"
        and body["current"]["period_end"] == "2026-11-22"
    )
    assert body["current"]["values"]["activation_rate"] == 0.6
    assert body["previous"]["values"]["reincidence_rate"] == 0.2
    assert isinstance(body["current"]["values"]["onboardings_started"], int)


def test_no_metrics_is_404(client, keys):
    r = client.get(f"{PREFIX}/metrics?period_type=MONTHLY", headers=keys.header())
    assert r.status_code == 404
    error_of(r)


def test_history(client, keys, metrics):
    r = client.get(f"{PREFIX}/metrics/history?from=2026-11-15&to=2026-11-19", headers=keys.header())
    rows = r.get_json()
    assert [x["period_date"] for x in rows] == [f"2026-11-{d}" for d in range(15, 20)]
    assert rows[-1]["values"]["onboardings_started"] == 10
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
    r = client.get(f"{PREFIX}/trends/activation_rate?days=3&end=2026-11-19", headers=keys.header())
    body = r.get_json()
    assert body["metric"] == "activation_rate" and len(body["points"]) == 3
    last = body["points"][-1]
    assert last["value"] == 0.5 and last["previous"] == 0.51
    assert last["pop_delta"] == pytest.approx(-0.01)
    assert last["week_ago"] == pytest.approx(0.57)


def test_trend_errors(client, keys):
    r = client.get(f"{PREFIX}/trends/happiness", headers=keys.header())
    assert r.status_code == 404 and "happiness" in error_of(r)["message"]
    r = client.get(f"{PREFIX}/trends/activation_rate?days=0", headers=keys.header())
    assert r.status_code == 422 and "days" in error_of(r)["errors"]["query"]
