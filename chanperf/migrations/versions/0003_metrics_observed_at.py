"""When a totals row of channel_performance_metrics was observed, and with which windows.

`observed_at` is the as-of the collect read the source at (UTC); `collected_windows`
the policy windows its cohorts were measured with ("activation/reincidence/attribution"
in days). An analysis reuses a stored period instead of reading the source again only
when both say the row cannot differ (chanperf/metrics/freshness.py). Existing rows get
NULL and are collected again by the next analysis that needs them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chanperf.models.types import UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "channel_performance_metrics"


def upgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.add_column(sa.Column("observed_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("collected_windows", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_column("collected_windows")
        batch.drop_column("observed_at")
