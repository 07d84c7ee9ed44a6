"""What each analysis run's rules fired on, and which finding fields its detectors filled.

`rules stats` reads both: how often each rule fired (insights alone cannot say, since a
re-run updates one insight and a dismissed or snoozed one is not stored again), and
whether a rule reads a finding field no detector has ever set.
"""

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
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from chanperf.models.base import Base
from chanperf.models.types import BigId, JsonDict, UtcDateTime

ORG_DEFAULT = text("1")


class RuleFiring(Base):
    """One rule in one run: how many findings it matched (rules that matched none have no row)."""

    __tablename__ = "channel_rule_firings"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(Integer, nullable=False, server_default=ORG_DEFAULT)
    analysis_run_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("channel_analysis_runs.id", ondelete="CASCADE"), nullable=False
    )
    rule_id: Mapped[str] = mapped_column(String(100), nullable=False)
    finding_kind: Mapped[str] = mapped_column(String(50), nullable=False)
    # The run's as-of (the last day analysed) and when it ran.
    as_of: Mapped[date] = mapped_column(Date, nullable=False)
    fired_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    matches: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (
        UniqueConstraint("analysis_run_id", "rule_id"),
        Index(None, "org_id", "rule_id", "as_of"),
    )


class FindingFieldsSeen(Base):
    """One finding kind in one run: how many findings, and per field how many had a value."""

    __tablename__ = "channel_finding_fields_seen"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(Integer, nullable=False, server_default=ORG_DEFAULT)
    analysis_run_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("channel_analysis_runs.id", ondelete="CASCADE"), nullable=False
    )
    finding_kind: Mapped[str] = mapped_column(String(50), nullable=False)
    as_of: Mapped[date] = mapped_column(Date, nullable=False)
    findings: Mapped[int] = mapped_column(Integer, nullable=False)
    # field name -> findings of this run in which it was set (not None, not an empty mapping)
    fields_set: Mapped[dict[str, Any]] = mapped_column(JsonDict, nullable=False)

    __table_args__ = (
        UniqueConstraint("analysis_run_id", "finding_kind"),
        Index(None, "org_id", "finding_kind"),
    )
