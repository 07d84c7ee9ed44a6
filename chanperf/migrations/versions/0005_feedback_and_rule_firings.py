"""Feedback on insights and what rules fired: labels, snoozes, rule firings, fields seen.

Insights get `label` (TRUE_POSITIVE, FALSE_POSITIVE, EXPECTED, NOT_ACTIONABLE),
`labelled_by`, `labelled_at` and `snooze_until`; the seed's columns stay as they are.
`channel_rule_firings` holds, per analysis run, how many findings each rule matched;
`channel_finding_fields_seen`, per run and finding kind, how many findings had each field
set. Existing insights get no label; runs before this revision have no firings.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chanperf.models.types import UtcDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INSIGHTS = "channel_performance_insights"
LABELS = ("TRUE_POSITIVE", "FALSE_POSITIVE", "EXPECTED", "NOT_ACTIONABLE")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _run_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("org_id", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("analysis_run_id", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table(INSIGHTS) as batch:
        batch.add_column(
            sa.Column(
                "label",
                sa.Enum(*LABELS, name="feedback_label", create_constraint=True),
                nullable=True,
            )
        )
        batch.add_column(sa.Column("labelled_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("labelled_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("snooze_until", UtcDateTime(), nullable=True))
        batch.create_index(op.f(f"ix_{INSIGHTS}_org_id_rule_id"), ["org_id", "rule_id"])

    op.create_table(
        "channel_rule_firings",
        *_run_columns(),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("finding_kind", sa.String(50), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("fired_at", UtcDateTime(), nullable=False),
        sa.Column("matches", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["analysis_run_id"],
            ["channel_analysis_runs.id"],
            name=op.f("fk_channel_rule_firings_analysis_run_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_rule_firings")),
        sa.UniqueConstraint(
            "analysis_run_id",
            "rule_id",
            name=op.f("uq_channel_rule_firings_analysis_run_id_rule_id"),
        ),
    )
    op.create_index(
        op.f("ix_channel_rule_firings_org_id_rule_id_as_of"),
        "channel_rule_firings",
        ["org_id", "rule_id", "as_of"],
    )
    op.create_table(
        "channel_finding_fields_seen",
        *_run_columns(),
        sa.Column("finding_kind", sa.String(50), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.Column("fields_set", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["analysis_run_id"],
            ["channel_analysis_runs.id"],
            name=op.f("fk_channel_finding_fields_seen_analysis_run_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_finding_fields_seen")),
        sa.UniqueConstraint(
            "analysis_run_id",
            "finding_kind",
            name=op.f("uq_channel_finding_fields_seen_analysis_run_id_finding_kind"),
        ),
    )
    op.create_index(
        op.f("ix_channel_finding_fields_seen_org_id_finding_kind"),
        "channel_finding_fields_seen",
        ["org_id", "finding_kind"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_channel_finding_fields_seen_org_id_finding_kind"),
        table_name="channel_finding_fields_seen",
    )
    op.drop_table("channel_finding_fields_seen")
    op.drop_index(
        op.f("ix_channel_rule_firings_org_id_rule_id_as_of"), table_name="channel_rule_firings"
    )
    op.drop_table("channel_rule_firings")
    with op.batch_alter_table(INSIGHTS) as batch:
        batch.drop_index(op.f(f"ix_{INSIGHTS}_org_id_rule_id"))
        if op.get_bind().dialect.name == "sqlite":
            # SQLite keeps the enum as a CHECK that names the column: drop it with the column.
            batch.drop_constraint(op.f(f"ck_{INSIGHTS}_feedback_label"), type_="check")
        batch.drop_column("snooze_until")
        batch.drop_column("labelled_at")
        batch.drop_column("labelled_by")
        batch.drop_column("label")
