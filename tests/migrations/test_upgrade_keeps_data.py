"""A database made with the previous schema (revision 0001) upgrades with every value kept,
converted where the unit changes, and downgrades back to exactly what it held.

tests/fixtures/schema_0001.json.gz holds chanperf's rows of such a database, dumped with
the previous schema's code: the planted demo (seed 7) analysed as of 2026-06-30, one
insight accepted, one reviewed, one dismissed, the discount proposal approved and applied,
the kit proposal rejected; every insight, proposal, policy version and run, the totals
metrics from May on (weekly and monthly all along) and a sample of the cuts.
"""

from __future__ import annotations

import gzip
import json
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from chanperf.core.database import make_engine, session_factory
from chanperf.insights.queries import get_insight
from chanperf.migrations.upgrade import downgrade, upgrade
from chanperf.proposals.queries import list_proposals
from tests.migrations.conftest import with_engine

FIXTURE = Path(__file__).parents[1] / "fixtures" / "schema_0001.json.gz"
# Insert order: a row's foreign keys point at rows already there.
ORDER = (
    "channel_analysis_runs",
    "channel_performance_insights",
    "channel_policy_proposals",
    "channel_policy_versions",
    "channel_performance_metrics",
    "channel_performance_segment_metrics",
)
METRICS = ("channel_performance_metrics", "channel_performance_segment_metrics")
RENAMED = {
    "new_accounts": "accounts_new",
    "activating_accounts": "accounts_activating",
    "active_accounts": "accounts_active",
    "stalled_accounts": "accounts_stalled",
    "at_risk_accounts": "accounts_at_risk",
    "churned_accounts": "accounts_churned",
    "onboardings_started": "onboarding_started",
    "onboardings_completed": "onboarding_completed",
    "onboardings_failed": "onboarding_failed",
    "reactivations_started": "reactivation_attempts",
    "reactivations_won": "reactivation_won",
    "reactivations_lost": "reactivation_lost",
    "revenue_total": "total_revenue",
    "revenue_new_accounts": "revenue_from_new",
    "revenue_reactivated": "revenue_from_reactivated",
    "exceptions_requested": "exceptions_count",
    "onboardings_matured": "onboarding_matured",
    "onboardings_activated_in_window": "onboarding_activated_in_window",
    "reactivations_resolved": "reactivation_resolved",
    "reactivations_matured": "reactivation_matured",
}
PERCENT = {"activation_rate": "onboarding_rate", "reactivation_rate": "reactivation_rate",
           "reincidence_rate": "reincidence_rate", "avg_margin": "avg_margin"}  # fmt: skip


def fixture() -> dict[str, list[dict[str, Any]]]:
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as f:
        raw = json.load(f)
    return {
        t: [dict(zip(d["columns"], row, strict=True)) for row in d["rows"]] for t, d in raw.items()
    }


def _value(cell: Any) -> Any:
    """A fixture cell as the Python value it was: {"decimal": ...}, {"date": ...}, ..."""
    if isinstance(cell, dict):
        ((kind, value),) = cell.items()
        return {
            "decimal": Decimal,
            "date": date.fromisoformat,
            "datetime": datetime.fromisoformat,
            "json": lambda v: v,
        }[kind](value)
    return cell


def _bind(cell: Any) -> Any:
    """A fixture cell as a bind parameter both drivers take (JSON as text, decimals as text)."""
    if isinstance(cell, dict) and "json" in cell:
        return json.dumps(cell["json"])
    if isinstance(cell, dict) and "decimal" in cell:
        return cell["decimal"]
    return _value(cell)


def _same(stored: Any, cell: Any) -> bool:
    """Whether a value read back (SQLite gives text and floats) equals a fixture cell."""
    want = _value(cell)
    if stored is None or want is None:
        return stored is None and want is None
    if isinstance(cell, dict) and "json" in cell:
        return (json.loads(stored) if isinstance(stored, str) else stored) == want
    if isinstance(want, Decimal):
        return Decimal(str(stored)) == want
    if isinstance(want, datetime):
        got = stored if isinstance(stored, datetime) else datetime.fromisoformat(str(stored))
        return got == want
    if isinstance(want, date):
        return (stored if isinstance(stored, date) else date.fromisoformat(str(stored))) == want
    return stored == want


def insert(engine: Engine, data: dict[str, list[dict[str, Any]]]) -> None:
    with engine.begin() as conn:
        for table in ORDER:
            rows = data[table]
            cols = list(rows[0])
            stmt = text(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"
            )
            conn.execute(stmt, [{c: _bind(r[c]) for c in cols} for r in rows])


def read(engine: Engine, table: str) -> dict[int, dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))
        return {r.id: dict(r._mapping) for r in result}


def half_up(value: Decimal, places: str) -> Decimal:
    return value.quantize(Decimal(places), ROUND_HALF_UP)


def check_metrics(old: dict[str, Any], new: dict[str, Any]) -> None:
    for column, cell in old.items():
        if column in PERCENT:
            want = _value(cell)
            got = new[PERCENT[column]]
            assert (got is None) == (want is None), column
            if want is not None:
                assert Decimal(str(got)) == want * 100, (column, got, want)
        elif column == "avg_activation_days":
            completed = _value(old["onboardings_completed"])
            days = _value(old["activation_days_sum"])
            want = None if completed == 0 else half_up(days / completed, "0.1")
            got = new["avg_activation_days"]
            assert (None if got is None else Decimal(str(got))) == want
        else:
            assert _same(new[RENAMED.get(column, column)], cell), column
    started, cost = _value(old["reactivations_started"]), _value(old["reactivation_cost"])
    want_cost = None if started == 0 else half_up(cost / started, "0.01")
    got_cost = new["avg_reactivation_cost"]
    assert (None if got_cost is None else Decimal(str(got_cost))) == want_cost
    assert new["transitions_to_active"] == new["transitions_to_churn"] == 0
    assert new["avg_health_score"] is None and new["health_scored_accounts"] == 0


def test_upgrade_keeps_every_value_and_downgrade_returns_it(empty_db_url: str) -> None:
    data = fixture()
    upgrade(empty_db_url, "0001")
    with_engine(empty_db_url, lambda e: insert(e, data))

    upgrade(empty_db_url)
    after = {t: with_engine(empty_db_url, lambda e, t=t: read(e, t)) for t in ORDER}
    for table in ORDER:
        assert len(after[table]) == len(data[table]), table
    for table in ("channel_analysis_runs", "channel_policy_versions"):
        for row in data[table]:
            stored = after[table][row["id"]]
            wrong = {c: (stored[c], v) for c, v in row.items() if not _same(stored[c], v)}
            assert wrong == {}, table
    for table in METRICS:
        for row in data[table]:
            check_metrics(row, after[table][row["id"]])

    statuses = {"ACCEPTED": "IN_PROGRESS"}
    for row in data["channel_performance_insights"]:
        new = after["channel_performance_insights"][row["id"]]
        assert new["status"] == statuses.get(row["status"], row["status"])
        assert _same(new["analysis_period_start"], row["period_start"])
        assert _same(new["analysis_period_end"], row["period_end"])
        assert new["implementation_notes"] is None
        kept = set(row) - {"status", "period_start", "period_end"}
        assert all(_same(new[c], row[c]) for c in kept)
    assert sorted(r["status"] for r in after["channel_performance_insights"].values())[:4] == [
        "DISMISSED", "IN_PROGRESS", "NEW", "NEW"
    ]  # fmt: skip

    by_path = {}
    for row in data["channel_policy_proposals"]:
        new = after["channel_policy_proposals"][row["id"]]
        by_path[row["parameter_path"]] = new
        assert new["description"] == row["rationale"]
        assert new["affected_policy"] == f"{row['policy_name']}.{row['parameter_path']}"
        metrics = (
            json.loads(new["impact_metrics"])
            if isinstance(new["impact_metrics"], str)
            else new["impact_metrics"]
        )
        assert metrics == {**_value(row["expected_impact"]), "risk": _value(row["risk_assessment"])}
        plan = _value(row["experiment_plan"])
        assert new["experiment_duration_days"] == plan["expected_duration_days"]
        kept = set(row) - {"rationale", "parameter_path", "expected_impact", "risk_assessment"}
        assert all(_same(new[c], row[c]) for c in kept)
    # The texts, from the fixture's numbers worked out by hand: relative change 0.3393 of the
    # activation rate, -0.5962 of the reincidence; 66 % and 44 % of the population touched.
    kit, discount = by_path["regions.NORTE.default_kit"], by_path["max_discount_pct"]
    assert kit["expected_impact"] == "+34% taxa de ativação"
    assert discount["expected_impact"] == "-60% reincidência"
    assert kit["risk_assessment"].startswith(
        "Risco alto: a mudança alcança 66% da população. Guardrails: taxa de falha do "
        "onboarding, detratores no NPS. O kit proposto pode ter custo"
    )
    assert discount["risk_assessment"].startswith(
        "Risco médio: a mudança alcança 44% da população."
    )

    # The service reads the upgraded rows through its own models.
    engine = make_engine(empty_db_url)
    try:
        with session_factory(engine)() as session:
            assert {p.parameter_path for p in list_proposals(session, 1)} == set(by_path)
            first = data["channel_performance_insights"][0]
            assert get_insight(session, 1, first["id"]).status.value == "IN_PROGRESS"
    finally:
        engine.dispose()

    downgrade(empty_db_url, "0001")
    for table in ORDER:
        back = with_engine(empty_db_url, lambda e, t=table: read(e, t))
        assert len(back) == len(data[table]), table
        for row in data[table]:
            stored = back[row["id"]]
            wrong = [c for c, v in row.items() if not _same(stored[c], v)]
            assert wrong == [], (table, row["id"], {c: (stored[c], row[c]) for c in wrong})


@pytest.mark.parametrize("category", ["finance"])
def test_downgrade_refuses_categories_the_old_schema_cannot_hold(
    empty_db_url: str, category: str
) -> None:
    upgrade(empty_db_url)
    with_engine(
        empty_db_url,
        lambda e: _insert_insight(e, category),
    )
    with pytest.raises(RuntimeError, match=f"categories \\['{category}'\\]"):
        downgrade(empty_db_url, "0001")


def _insert_insight(engine: Engine, category: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO channel_performance_insights (org_id, insight_type, severity, "
                "category, title, observation) VALUES (1, 'POLICY_GAP', 'LOW', :c, 't', 'o')"
            ),
            {"c": category},
        )
