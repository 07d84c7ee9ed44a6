"""Bookkeeping tables: the policy versions an org ran under, and the analysis runs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from chanperf.core.enums import RunStatus
from chanperf.models.base import Base
from chanperf.models.types import BigId, JsonDict, UtcDateTime, enum_column

ORG_DEFAULT = text("1")
ZERO = text("0")


class PolicyVersion(Base):
    """Every distinct content of a policy ever loaded or applied."""

    __tablename__ = "channel_policy_versions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(Integer, nullable=False, server_default=ORG_DEFAULT)
    policy_name: Mapped[str] = mapped_column(String(100), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    document: Mapped[dict[str, Any]] = mapped_column(JsonDict, nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    source_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    loaded_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), nullable=False, server_default=text("CURRENT_TIMESTAMP")
    )
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    applied_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    proposal_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("channel_policy_proposals.id", ondelete="SET NULL"), nullable=True
    )

    __table_args__ = (
        UniqueConstraint("org_id", "policy_name", "version"),
        Index(None, "org_id", "policy_name", "content_hash"),
    )


class AnalysisRun(Base):
    __tablename__ = "channel_analysis_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(Integer, nullable=False, server_default=ORG_DEFAULT)
    kind: Mapped[str] = mapped_column(String(20), nullable=False, server_default=text("'ANALYZE'"))
    run_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    as_of: Mapped[date] = mapped_column(Date, nullable=False)
    period_start: Mapped[date | None] = mapped_column(Date, nullable=True)
    period_end: Mapped[date | None] = mapped_column(Date, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    status: Mapped[RunStatus] = mapped_column(
        enum_column(RunStatus, "run_status"), nullable=False, server_default=text("'RUNNING'")
    )
    findings_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default=ZERO)
    insights_created: Mapped[int] = mapped_column(Integer, nullable=False, server_default=ZERO)
    insights_updated: Mapped[int] = mapped_column(Integer, nullable=False, server_default=ZERO)
    proposals_created: Mapped[int] = mapped_column(Integer, nullable=False, server_default=ZERO)
    metrics_written: Mapped[int] = mapped_column(Integer, nullable=False, server_default=ZERO)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        UniqueConstraint("run_key"),
        Index(None, "org_id", "as_of"),
        Index(None, "org_id", "status"),
    )
