"""The three tables other services read, with the interface's names, types and units.

Metrics: the interface's column names (onboarding_started, reactivation_attempts,
accounts_new, total_revenue, ...), rates as percentages DECIMAL(5,2) (0.7812 becomes
78.12), avg_activation_days DECIMAL(5,1), and the new transitions_to_*, avg_health_score,
avg_reactivation_cost and exceptions_count. Values are converted, never recomputed from
the source: transitions and health scores of existing rows stay 0/NULL until the next
`chanperf collect --backfill`.
Insights: status ACCEPTED becomes IN_PROGRESS; period_start/end become
analysis_period_start/end; category is free text; implementation_notes.
Proposals: rationale becomes description; affected_policy (policy.path) replaces
parameter_path; expected_impact and risk_assessment become pt-BR text, their numbers
move to impact_metrics (whence the downgrade restores them); experiment_duration_days.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

from chanperf.core import ptbr
from chanperf.proposals.texts import expected_impact_text, risk_text

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

METRIC_TABLES = ("channel_performance_metrics", "channel_performance_segment_metrics")
INSIGHTS = "channel_performance_insights"
PROPOSALS = "channel_policy_proposals"
COUNT = sa.Integer()
WIDE = sa.Numeric(12, 4)  # holds either unit while values are converted

# (old name, new name, type) of the columns that only change their name.
RENAMED = (
    ("new_accounts", "accounts_new", COUNT),
    ("activating_accounts", "accounts_activating", COUNT),
    ("active_accounts", "accounts_active", COUNT),
    ("stalled_accounts", "accounts_stalled", COUNT),
    ("at_risk_accounts", "accounts_at_risk", COUNT),
    ("churned_accounts", "accounts_churned", COUNT),
    ("onboardings_started", "onboarding_started", COUNT),
    ("onboardings_completed", "onboarding_completed", COUNT),
    ("onboardings_failed", "onboarding_failed", COUNT),
    ("reactivations_started", "reactivation_attempts", COUNT),
    ("reactivations_won", "reactivation_won", COUNT),
    ("reactivations_lost", "reactivation_lost", COUNT),
    ("revenue_total", "total_revenue", sa.Numeric(15, 2)),
    ("revenue_new_accounts", "revenue_from_new", sa.Numeric(15, 2)),
    ("revenue_reactivated", "revenue_from_reactivated", sa.Numeric(15, 2)),
    ("exceptions_requested", "exceptions_count", COUNT),
    ("onboardings_matured", "onboarding_matured", COUNT),
    ("onboardings_activated_in_window", "onboarding_activated_in_window", COUNT),
    ("reactivations_resolved", "reactivation_resolved", COUNT),
    ("reactivations_matured", "reactivation_matured", COUNT),
)
# (old name, new name, old type, new type) of the rates that change unit.
RATES = (
    ("activation_rate", "onboarding_rate", sa.Numeric(6, 4), sa.Numeric(5, 2)),
    ("reactivation_rate", "reactivation_rate", sa.Numeric(6, 4), sa.Numeric(5, 2)),
    ("reincidence_rate", "reincidence_rate", sa.Numeric(6, 4), sa.Numeric(5, 2)),
    ("avg_margin", "avg_margin", sa.Numeric(6, 4), sa.Numeric(5, 2)),
    ("avg_activation_days", "avg_activation_days", sa.Numeric(7, 2), sa.Numeric(5, 1)),
)
ADDED = (
    ("avg_reactivation_cost", sa.Numeric(10, 2), None),
    ("transitions_to_active", COUNT, "0"),
    ("transitions_to_stalled", COUNT, "0"),
    ("transitions_to_churn", COUNT, "0"),
    ("avg_health_score", sa.Numeric(5, 1), None),
    ("health_score_sum", sa.Numeric(15, 1), "0"),
    ("health_scored_accounts", COUNT, "0"),
)
MARGIN_LIMIT = Decimal("999.99")  # DECIMAL(5,2)

OLD_TYPES = ("POLICY_GAP", "POLICY_TOO_LAX", "POLICY_TOO_RESTRICTIVE", "EXECUTION_DRIFT")
NEW_TYPES = ("POLICY_GAP", "POLICY_TOO_RESTRICTIVE", "POLICY_TOO_LAX", "EXECUTION_DRIFT")
MISALIGNMENT = "CHANNEL_MISALIGNMENT"
OLD_ACTIONS = ("CHANGE_POLICY", "ADJUST_PARAMETER", "RUN_EXPERIMENT", "ESCALATE", "MONITOR")
NEW_ACTIONS = ("ADJUST_PARAMETER", "CHANGE_POLICY", "RUN_EXPERIMENT", "ESCALATE", "MONITOR")
OLD_STATUSES = ("NEW", "REVIEWED", "ACCEPTED", "DISMISSED", "IMPLEMENTED")
NEW_STATUSES = ("NEW", "REVIEWED", "IN_PROGRESS", "IMPLEMENTED", "DISMISSED")
CATEGORIES = ("onboarding", "reactivation", "pricing", "states", "policy", "revenue", "quality")


def _enum(values: Sequence[str], name: str, check: bool = True) -> sa.Enum:
    return sa.Enum(*values, name=name, create_constraint=check)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _drop_checks(batch: Any, table: str, names: Iterable[str]) -> None:
    """SQLite keeps an enum as a CHECK: drop it before the column changes (MariaDB has none)."""
    if _sqlite():
        for name in names:
            batch.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _half_up(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def _ratio(num: Any, den: Any, places: int) -> Decimal | None:
    n, d = _dec(num), _dec(den)
    if n is None or d is None or d == 0:
        return None
    return _half_up(n / d, places)


def _rewrite(
    table: str, columns: Sequence[str], compute: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    """Read `columns` of every row, write back what `compute` returns (by id, in batches)."""
    bind = op.get_bind()
    t = sa.table(table, sa.column("id"), *(sa.column(c) for c in columns))
    rows = [dict(r._mapping) for r in bind.execute(sa.select(t.c.id, *(t.c[c] for c in columns)))]
    # Decimals travel as text: SQLite's driver binds no Decimal, both servers parse the text.
    changes = [
        {"_id": row["id"], **{k: str(v) if isinstance(v, Decimal) else v for k, v in compute(row).items()}}
        for row in rows
    ]
    if not changes or len(changes[0]) == 1:
        return
    names = [k for k in changes[0] if k != "_id"]
    target = sa.table(table, sa.column("id"), *(sa.column(n) for n in names))
    stmt = (
        target.update()
        .where(target.c.id == sa.bindparam("_id"))
        .values({n: sa.bindparam(n) for n in names})
    )
    for start in range(0, len(changes), 2000):
        bind.execute(stmt, changes[start : start + 2000])


# ---------------------------------------------------------------- metrics


def _metrics_up(row: dict[str, Any]) -> dict[str, Any]:
    def pct(value: Any) -> Decimal | None:
        d = _dec(value)
        return None if d is None else _half_up(d * 100, 2)

    margin = pct(row["avg_margin"])
    return {
        "onboarding_rate": pct(row["onboarding_rate"]),
        "reactivation_rate": pct(row["reactivation_rate"]),
        "reincidence_rate": pct(row["reincidence_rate"]),
        "avg_margin": None if margin is None or abs(margin) > MARGIN_LIMIT else margin,
        "avg_activation_days": _ratio(row["activation_days_sum"], row["onboarding_completed"], 1),
        "avg_reactivation_cost": _ratio(row["reactivation_cost"], row["reactivation_attempts"], 2),
    }


def _metrics_down(row: dict[str, Any]) -> dict[str, Any]:
    def fraction(value: Any) -> Decimal | None:
        d = _dec(value)
        return None if d is None else _half_up(d / 100, 4)

    revenue, cost = _dec(row["total_revenue"]), _dec(row["cost_total"])
    margin = None if revenue in (None, 0) or cost is None else _ratio(revenue - cost, revenue, 4)
    return {
        "onboarding_rate": fraction(row["onboarding_rate"]),
        "reactivation_rate": fraction(row["reactivation_rate"]),
        "reincidence_rate": fraction(row["reincidence_rate"]),
        "avg_margin": None if margin is None or abs(margin) > Decimal("99.9999") else margin,
        "avg_activation_days": _ratio(row["activation_days_sum"], row["onboarding_completed"], 2),
    }


def _upgrade_metrics(table: str) -> None:
    with op.batch_alter_table(table) as batch:
        for old, new, type_ in RENAMED:
            batch.alter_column(
                old,
                new_column_name=new,
                existing_type=type_,
                existing_nullable=False,
                existing_server_default=sa.text("0"),
            )
        for old, new, old_type, _new_type in RATES:
            batch.alter_column(
                old, new_column_name=new, existing_type=old_type, type_=WIDE, existing_nullable=True
            )
        for name, type_, default in ADDED:
            batch.add_column(
                sa.Column(
                    name,
                    type_,
                    nullable=default is None,
                    server_default=None if default is None else sa.text(default),
                )
            )
        if table == "channel_performance_metrics":
            batch.create_index(op.f(f"ix_{table}_period_date"), ["period_date"], unique=False)
    _rewrite(
        table,
        [
            "onboarding_rate",
            "reactivation_rate",
            "reincidence_rate",
            "avg_margin",
            "activation_days_sum",
            "onboarding_completed",
            "reactivation_cost",
            "reactivation_attempts",
        ],
        _metrics_up,
    )
    with op.batch_alter_table(table) as batch:
        for _old, new, _old_type, new_type in RATES:
            batch.alter_column(new, existing_type=WIDE, type_=new_type, existing_nullable=True)


def _downgrade_metrics(table: str) -> None:
    with op.batch_alter_table(table) as batch:
        for _old, new, _old_type, new_type in RATES:
            batch.alter_column(new, existing_type=new_type, type_=WIDE, existing_nullable=True)
    _rewrite(
        table,
        [
            "onboarding_rate",
            "reactivation_rate",
            "reincidence_rate",
            "avg_margin",
            "total_revenue",
            "cost_total",
            "activation_days_sum",
            "onboarding_completed",
        ],
        _metrics_down,
    )
    with op.batch_alter_table(table) as batch:
        if table == "channel_performance_metrics":
            batch.drop_index(op.f(f"ix_{table}_period_date"))
        for name, _type, _default in ADDED:
            batch.drop_column(name)
        for old, new, old_type, _new_type in RATES:
            batch.alter_column(
                new, new_column_name=old, existing_type=WIDE, type_=old_type, existing_nullable=True
            )
        for old, new, type_ in RENAMED:
            batch.alter_column(
                new,
                new_column_name=old,
                existing_type=type_,
                existing_nullable=False,
                existing_server_default=sa.text("0"),
            )


# ---------------------------------------------------------------- insights


def _upgrade_insights() -> None:
    with op.batch_alter_table(INSIGHTS) as batch:
        _drop_checks(batch, INSIGHTS, ("insight_type", "category", "suggested_action", "insight_status"))
        batch.alter_column(
            "insight_type",
            existing_type=_enum([*OLD_TYPES, MISALIGNMENT], "insight_type"),
            type_=_enum([*NEW_TYPES, MISALIGNMENT], "insight_type"),
            existing_nullable=False,
        )
        batch.alter_column(
            "category",
            existing_type=_enum(CATEGORIES, "category"),
            type_=sa.String(50),
            nullable=True,
        )
        batch.alter_column(
            "suggested_action",
            existing_type=_enum(OLD_ACTIONS, "suggested_action"),
            type_=_enum(NEW_ACTIONS, "suggested_action"),
            existing_nullable=True,
        )
        batch.alter_column(
            "status",
            existing_type=_enum(OLD_STATUSES, "insight_status"),
            type_=_enum([*OLD_STATUSES, "IN_PROGRESS"], "insight_status", check=False),
            existing_nullable=False,
            existing_server_default=sa.text("'NEW'"),
        )
        batch.alter_column("evidence", existing_type=sa.JSON(), nullable=True)
        batch.alter_column("period_start", new_column_name="analysis_period_start", existing_type=sa.Date())
        batch.alter_column("period_end", new_column_name="analysis_period_end", existing_type=sa.Date())
        batch.add_column(sa.Column("implementation_notes", sa.Text(), nullable=True))
        batch.drop_index(op.f(f"ix_{INSIGHTS}_org_id_insight_type"))
        batch.drop_index(op.f(f"ix_{INSIGHTS}_org_id_severity"))
        for column in ("insight_type", "severity", "status", "category"):
            batch.create_index(op.f(f"ix_{INSIGHTS}_{column}"), [column], unique=False)
    op.execute(f"UPDATE {INSIGHTS} SET status = 'IN_PROGRESS' WHERE status = 'ACCEPTED'")
    with op.batch_alter_table(INSIGHTS) as batch:
        batch.alter_column(
            "status",
            existing_type=_enum([*OLD_STATUSES, "IN_PROGRESS"], "insight_status", check=False),
            type_=_enum(NEW_STATUSES, "insight_status"),
            existing_nullable=False,
            existing_server_default=sa.text("'NEW'"),
        )


def _downgrade_insights() -> None:
    bind = op.get_bind()
    odd = bind.execute(
        sa.text(
            f"SELECT DISTINCT category FROM {INSIGHTS} "
            f"WHERE category IS NULL OR category NOT IN ({', '.join(repr(c) for c in CATEGORIES)})"
        )
    ).scalars().all()
    if odd:
        raise RuntimeError(
            f"cannot downgrade: insight categories {sorted(map(str, odd))} are not in the "
            f"previous schema's list ({', '.join(CATEGORIES)})"
        )
    with op.batch_alter_table(INSIGHTS) as batch:
        _drop_checks(batch, INSIGHTS, ("insight_type", "suggested_action", "insight_status"))
        batch.alter_column(
            "status",
            existing_type=_enum(NEW_STATUSES, "insight_status"),
            type_=_enum([*OLD_STATUSES, "IN_PROGRESS"], "insight_status", check=False),
            existing_nullable=False,
            existing_server_default=sa.text("'NEW'"),
        )
    op.execute(f"UPDATE {INSIGHTS} SET status = 'ACCEPTED' WHERE status = 'IN_PROGRESS'")
    op.execute(f"UPDATE {INSIGHTS} SET evidence = '{{}}' WHERE evidence IS NULL")
    with op.batch_alter_table(INSIGHTS) as batch:
        for column in ("insight_type", "severity", "status", "category"):
            batch.drop_index(op.f(f"ix_{INSIGHTS}_{column}"))
        batch.create_index(op.f(f"ix_{INSIGHTS}_org_id_insight_type"), ["org_id", "insight_type"])
        batch.create_index(op.f(f"ix_{INSIGHTS}_org_id_severity"), ["org_id", "severity"])
        batch.drop_column("implementation_notes")
        batch.alter_column("analysis_period_start", new_column_name="period_start", existing_type=sa.Date())
        batch.alter_column("analysis_period_end", new_column_name="period_end", existing_type=sa.Date())
        batch.alter_column("evidence", existing_type=sa.JSON(), nullable=False)
        batch.alter_column(
            "status",
            existing_type=_enum([*OLD_STATUSES, "IN_PROGRESS"], "insight_status", check=False),
            type_=_enum(OLD_STATUSES, "insight_status"),
            existing_nullable=False,
            existing_server_default=sa.text("'NEW'"),
        )
        batch.alter_column(
            "suggested_action",
            existing_type=_enum(NEW_ACTIONS, "suggested_action"),
            type_=_enum(OLD_ACTIONS, "suggested_action"),
            existing_nullable=True,
        )
        batch.alter_column(
            "category", existing_type=sa.String(50), type_=_enum(CATEGORIES, "category"), nullable=False
        )
        batch.alter_column(
            "insight_type",
            existing_type=_enum([*NEW_TYPES, MISALIGNMENT], "insight_type"),
            type_=_enum([*OLD_TYPES, MISALIGNMENT], "insight_type"),
            existing_nullable=False,
        )


# ---------------------------------------------------------------- proposals

# Keys the texts need that the previous schema's expected_impact did not hold.
ADDED_IMPACT_KEYS = ("metric_label", "money", "risk")


def _json(value: Any) -> Any:
    if value is None or isinstance(value, dict | list):
        return value
    return json.loads(value)


def _proposals_up(row: dict[str, Any]) -> dict[str, Any]:
    impact, risk = _json(row["expected_impact"]), _json(row["risk_assessment"])
    metrics = None if impact is None and risk is None else {**(impact or {}), "risk": risk}
    labelled = None
    if metrics is not None and impact is not None:
        labelled = {**metrics, "metric_label": ptbr.label(impact.get("metric", ""))}
    plan = _json(row["experiment_plan"]) or {}
    days = plan.get("expected_duration_days")
    path = row["parameter_path"]
    return {
        "description": row["rationale"] or row["title"],
        "affected_policy": f"{row['policy_name']}.{path}" if path else row["policy_name"],
        "impact_metrics": None if metrics is None else json.dumps(metrics),
        "expected_impact": expected_impact_text(labelled),
        "risk_assessment": risk_text(risk),
        "experiment_duration_days": None if days is None else int(days),
    }


def _proposals_down(row: dict[str, Any]) -> dict[str, Any]:
    metrics = _json(row["impact_metrics"])
    impact = None
    if metrics is not None:
        impact = {k: v for k, v in metrics.items() if k not in ADDED_IMPACT_KEYS} or None
    risk = None if metrics is None else metrics.get("risk")
    prefix = f"{row['policy_name']}."
    address = row["affected_policy"] or ""
    return {
        "rationale": row["description"],
        "parameter_path": address[len(prefix) :] if address.startswith(prefix) else None,
        "expected_impact": None if impact is None else json.dumps(impact),
        "risk_assessment": None if risk is None else json.dumps(risk),
    }


def _upgrade_proposals() -> None:
    with op.batch_alter_table(PROPOSALS) as batch:
        batch.add_column(sa.Column("description", sa.Text(), nullable=True))
        batch.add_column(sa.Column("affected_policy", sa.String(200), nullable=True))
        batch.add_column(sa.Column("impact_metrics", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("experiment_duration_days", sa.Integer(), nullable=True))
        batch.alter_column("expected_impact", existing_type=sa.JSON(), type_=sa.Text())
        batch.alter_column("risk_assessment", existing_type=sa.JSON(), type_=sa.Text())
    _rewrite(
        PROPOSALS,
        [
            "title",
            "rationale",
            "policy_name",
            "parameter_path",
            "expected_impact",
            "risk_assessment",
            "experiment_plan",
        ],
        _proposals_up,
    )
    with op.batch_alter_table(PROPOSALS) as batch:
        batch.alter_column("description", existing_type=sa.Text(), nullable=False)
        batch.drop_column("rationale")
        batch.drop_column("parameter_path")
        batch.create_index(op.f(f"ix_{PROPOSALS}_status"), ["status"], unique=False)


def _downgrade_proposals() -> None:
    with op.batch_alter_table(PROPOSALS) as batch:
        batch.drop_index(op.f(f"ix_{PROPOSALS}_status"))
        batch.add_column(sa.Column("rationale", sa.Text(), nullable=True))
        batch.add_column(sa.Column("parameter_path", sa.String(255), nullable=True))
    _rewrite(
        PROPOSALS,
        ["description", "affected_policy", "policy_name", "impact_metrics"],
        _proposals_down,
    )
    with op.batch_alter_table(PROPOSALS) as batch:
        batch.alter_column("expected_impact", existing_type=sa.Text(), type_=sa.JSON())
        batch.alter_column("risk_assessment", existing_type=sa.Text(), type_=sa.JSON())
        batch.drop_column("experiment_duration_days")
        batch.drop_column("impact_metrics")
        batch.drop_column("affected_policy")
        batch.drop_column("description")


def upgrade() -> None:
    for table in METRIC_TABLES:
        _upgrade_metrics(table)
    _upgrade_insights()
    _upgrade_proposals()


def downgrade() -> None:
    _downgrade_proposals()
    _downgrade_insights()
    for table in METRIC_TABLES:
        _downgrade_metrics(table)
