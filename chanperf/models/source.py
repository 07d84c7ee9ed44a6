"""The seven source tables of docs/source-data.md: names, types and indexes are the contract."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Index, Integer, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from chanperf.models.base import Base
from chanperf.models.types import BigId, Money, Pct, UtcDateTime

ORG_DEFAULT = text("1")


class ChannelAccount(Base):
    __tablename__ = "channel_accounts"
    account_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    org_id: Mapped[int] = mapped_column(Integer, nullable=False, server_default=ORG_DEFAULT)
    region: Mapped[str] = mapped_column(String(50), nullable=False)
    segment: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    state: Mapped[str] = mapped_column(String(20), nullable=False)
    health_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 1), nullable=True)

    __table_args__ = (
        Index(None, "org_id", "created_at"),
        Index(None, "org_id", "region"),
        Index(None, "org_id", "segment"),
    )


class ChannelStateTransition(Base):
    __tablename__ = "channel_state_transitions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(Integer, nullable=False, server_default=ORG_DEFAULT)
    account_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    from_state: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_state: Mapped[str] = mapped_column(String(20), nullable=False)
    transitioned_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)

    __table_args__ = (
        Index(None, "org_id", "transitioned_at"),
        Index(None, "org_id", "account_id"),
    )


class ChannelOnboarding(Base):
    __tablename__ = "channel_onboardings"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(Integer, nullable=False, server_default=ORG_DEFAULT)
    account_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    kit: Mapped[str] = mapped_column(String(50), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    __table_args__ = (
        Index(None, "org_id", "started_at"),
        Index(None, "org_id", "account_id"),
    )


class ChannelReactivation(Base):
    __tablename__ = "channel_reactivations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(Integer, nullable=False, server_default=ORG_DEFAULT)
    account_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    strategy: Mapped[str] = mapped_column(String(50), nullable=False)
    discount_pct: Mapped[Decimal] = mapped_column(Pct, nullable=False, server_default=text("0"))
    cost: Mapped[Decimal] = mapped_column(Numeric(10, 2), nullable=False, server_default=text("0"))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    __table_args__ = (
        Index(None, "org_id", "started_at"),
        Index(None, "org_id", "resolved_at"),
        Index(None, "org_id", "account_id"),
    )


class ChannelOrder(Base):
    __tablename__ = "channel_orders"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(Integer, nullable=False, server_default=ORG_DEFAULT)
    account_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    ordered_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    sku: Mapped[str] = mapped_column(String(64), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    revenue: Mapped[Decimal] = mapped_column(Money, nullable=False)
    cost: Mapped[Decimal] = mapped_column(Money, nullable=False)
    discount_pct: Mapped[Decimal] = mapped_column(Pct, nullable=False, server_default=text("0"))

    __table_args__ = (
        Index(None, "org_id", "ordered_at"),
        Index(None, "org_id", "account_id"),
    )


class ChannelPolicyException(Base):
    __tablename__ = "channel_policy_exceptions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(Integer, nullable=False, server_default=ORG_DEFAULT)
    account_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    policy_key: Mapped[str] = mapped_column(String(100), nullable=False)
    sku: Mapped[str | None] = mapped_column(String(64), nullable=True)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    decision: Mapped[str] = mapped_column(String(20), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index(None, "org_id", "requested_at"),
        Index(None, "org_id", "account_id"),
    )


class ChannelFeedback(Base):
    __tablename__ = "channel_feedback"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(Integer, nullable=False, server_default=ORG_DEFAULT)
    account_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)

    __table_args__ = (
        Index(None, "org_id", "created_at"),
        Index(None, "org_id", "account_id"),
    )


SOURCE_TABLES = (
    ChannelAccount,
    ChannelStateTransition,
    ChannelOnboarding,
    ChannelReactivation,
    ChannelOrder,
    ChannelPolicyException,
    ChannelFeedback,
)
