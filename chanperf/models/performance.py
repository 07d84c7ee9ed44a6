"""chanperf's three tables that other services read (metrics, insights, proposals).

The interface columns keep the names and types of sql/schema.sql; chanperf's own
columns are marked "extensions" so the interface column-list test can tell them apart.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from chanperf.core.enums import (
    Dimension,
    FeedbackLabel,
    InsightStatus,
    InsightType,
    PeriodType,
    ProposalStatus,
    Severity,
    SuggestedAction,
)
from chanperf.models.base import Base, Timestamps
from chanperf.models.types import (
    BigId,
    JsonDict,
    LongText,
    Money,
    Pct,
    UtcDateTime,
    enum_column,
)

ORG_DEFAULT = text("1")
ZERO = text("0")


def _count() -> Mapped[int]:
    return mapped_column(Integer, nullable=False, server_default=ZERO)


class MeasureColumns:
    """The measures of one period (and, in the segment table, of one cut of it).

    The interface columns come first, in the order and with the types of sql/schema.sql;
    rates are percentages (0-100, two decimals), docs/metrics.md defines each column.
    """

    # onboarding: the cohort of onboardings started in the period
    onboarding_started: Mapped[int] = _count()
    onboarding_completed: Mapped[int] = _count()
    onboarding_failed: Mapped[int] = _count()
    onboarding_rate: Mapped[Decimal | None] = mapped_column(Pct, nullable=True)
    avg_activation_days: Mapped[Decimal | None] = mapped_column(Numeric(5, 1), nullable=True)
    # reactivation
    reactivation_attempts: Mapped[int] = _count()
    reactivation_won: Mapped[int] = _count()
    reactivation_lost: Mapped[int] = _count()
    reactivation_rate: Mapped[Decimal | None] = mapped_column(Pct, nullable=True)
    avg_reactivation_cost: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), nullable=True)
    reincidence_rate: Mapped[Decimal | None] = mapped_column(Pct, nullable=True)
    # state distribution at the end of the period
    accounts_new: Mapped[int] = _count()
    accounts_activating: Mapped[int] = _count()
    accounts_active: Mapped[int] = _count()
    accounts_stalled: Mapped[int] = _count()
    accounts_at_risk: Mapped[int] = _count()
    accounts_churned: Mapped[int] = _count()
    # transitions into a state during the period
    transitions_to_active: Mapped[int] = _count()
    transitions_to_stalled: Mapped[int] = _count()
    transitions_to_churn: Mapped[int] = _count()
    # revenue
    total_revenue: Mapped[Decimal] = mapped_column(Money, nullable=False, server_default=ZERO)
    avg_margin: Mapped[Decimal | None] = mapped_column(Pct, nullable=True)
    revenue_from_new: Mapped[Decimal] = mapped_column(Money, nullable=False, server_default=ZERO)
    revenue_from_reactivated: Mapped[Decimal] = mapped_column(
        Money, nullable=False, server_default=ZERO
    )
    # quality
    avg_health_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 1), nullable=True)
    exceptions_count: Mapped[int] = _count()
    # extensions: the counts behind every rate, so rates re-aggregate exactly, and more
    total_accounts: Mapped[int] = _count()
    onboarding_matured: Mapped[int] = _count()
    onboarding_activated_in_window: Mapped[int] = _count()
    activation_days_sum: Mapped[Decimal] = mapped_column(
        Numeric(15, 4), nullable=False, server_default=ZERO
    )
    reactivation_resolved: Mapped[int] = _count()
    reactivation_matured: Mapped[int] = _count()
    reincidences: Mapped[int] = _count()
    reactivation_cost: Mapped[Decimal] = mapped_column(Money, nullable=False, server_default=ZERO)
    orders_count: Mapped[int] = _count()
    cost_total: Mapped[Decimal] = mapped_column(Money, nullable=False, server_default=ZERO)
    avg_discount_pct: Mapped[Decimal | None] = mapped_column(Pct, nullable=True)
    health_score_sum: Mapped[Decimal] = mapped_column(
        Numeric(15, 1), nullable=False, server_default=ZERO
    )
    health_scored_accounts: Mapped[int] = _count()
    nps_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 1), nullable=True)
    nps_responses: Mapped[int] = _count()
    nps_promoters: Mapped[int] = _count()
    nps_detractors: Mapped[int] = _count()
    complaints_count: Mapped[int] = _count()
    exceptions_granted: Mapped[int] = _count()


class PerformanceMetric(MeasureColumns, Timestamps, Base):
    __tablename__ = "channel_performance_metrics"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(Integer, nullable=False, server_default=ORG_DEFAULT)
    period_date: Mapped[date] = mapped_column(Date, nullable=False)
    period_type: Mapped[PeriodType] = mapped_column(
        enum_column(PeriodType, "period_type"), nullable=False
    )
    # extensions: the as-of the source was read at and the policy windows of its cohorts
    # ("activation/reincidence/attribution" days), so an analysis can tell a row it may reuse
    observed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    collected_windows: Mapped[str | None] = mapped_column(String(32), nullable=True)

    __table_args__ = (
        UniqueConstraint("org_id", "period_date", "period_type"),
        Index(None, "period_date"),
        Index(None, "period_type", "period_date"),
    )


class SegmentMetric(MeasureColumns, Timestamps, Base):
    """The same measures cut by region, segment, kit or strategy (chanperf's own table)."""

    __tablename__ = "channel_performance_segment_metrics"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(Integer, nullable=False, server_default=ORG_DEFAULT)
    period_date: Mapped[date] = mapped_column(Date, nullable=False)
    period_type: Mapped[PeriodType] = mapped_column(
        enum_column(PeriodType, "period_type"), nullable=False
    )
    dimension: Mapped[Dimension] = mapped_column(
        enum_column(Dimension, "dimension"), nullable=False
    )
    dimension_value: Mapped[str] = mapped_column(String(100), nullable=False)

    __table_args__ = (
        UniqueConstraint("org_id", "period_date", "period_type", "dimension", "dimension_value"),
        Index(None, "org_id", "dimension", "period_type", "period_date"),
    )


class PerformanceInsight(Timestamps, Base):
    __tablename__ = "channel_performance_insights"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(Integer, nullable=False, server_default=ORG_DEFAULT)
    insight_type: Mapped[InsightType] = mapped_column(
        enum_column(InsightType, "insight_type"), nullable=False
    )
    severity: Mapped[Severity] = mapped_column(enum_column(Severity, "severity"), nullable=False)
    # Free text (the rule loader checks it), so a rule pack may add categories.
    category: Mapped[str | None] = mapped_column(String(50), nullable=True)
    affected_segment: Mapped[str | None] = mapped_column(String(100), nullable=True)
    affected_region: Mapped[str | None] = mapped_column(String(50), nullable=True)
    affected_policy: Mapped[str | None] = mapped_column(String(200), nullable=True)
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    observation: Mapped[str] = mapped_column(Text, nullable=False)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JsonDict, nullable=True)
    impact_estimate: Mapped[dict[str, Any] | None] = mapped_column(JsonDict, nullable=True)
    recommendation: Mapped[str | None] = mapped_column(Text, nullable=True)
    suggested_action: Mapped[SuggestedAction | None] = mapped_column(
        enum_column(SuggestedAction, "suggested_action"), nullable=True
    )
    suggested_params: Mapped[dict[str, Any] | None] = mapped_column(JsonDict, nullable=True)
    status: Mapped[InsightStatus] = mapped_column(
        enum_column(InsightStatus, "insight_status"), nullable=False, server_default=text("'NEW'")
    )
    reviewed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    implementation_notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    analysis_period_start: Mapped[date | None] = mapped_column(Date, nullable=True)
    analysis_period_end: Mapped[date | None] = mapped_column(Date, nullable=True)
    # extensions
    rule_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    detector: Mapped[str | None] = mapped_column(String(100), nullable=True)
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    affected_sku: Mapped[str | None] = mapped_column(String(64), nullable=True)
    affected_dimension: Mapped[str | None] = mapped_column(String(20), nullable=True)
    affected_value: Mapped[str | None] = mapped_column(String(100), nullable=True)
    effect_size: Mapped[Decimal | None] = mapped_column(Numeric(12, 6), nullable=True)
    occurrences: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))
    first_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    analysis_run_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("channel_analysis_runs.id", ondelete="SET NULL"), nullable=True
    )
    # feedback: whether the insight was right (rules stats score each rule's precision with
    # it), who said so and when; a snoozed insight is DISMISSED until snooze_until
    label: Mapped[FeedbackLabel | None] = mapped_column(
        enum_column(FeedbackLabel, "feedback_label"), nullable=True
    )
    labelled_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    labelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    snooze_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    __table_args__ = (
        Index(None, "insight_type"),
        Index(None, "severity"),
        Index(None, "status"),
        Index(None, "category"),
        Index(None, "org_id", "status"),
        Index(None, "org_id", "created_at"),
        Index(None, "org_id", "fingerprint"),
        Index(None, "org_id", "rule_id"),
    )


class PolicyProposal(Timestamps, Base):
    __tablename__ = "channel_policy_proposals"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(Integer, nullable=False, server_default=ORG_DEFAULT)
    insight_id: Mapped[int | None] = mapped_column(
        BigInteger,
        ForeignKey("channel_performance_insights.id", ondelete="SET NULL"),
        nullable=True,
    )
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    # The parameter's address, `<policy>.<path>` (e.g. reactivation.max_discount_pct).
    affected_policy: Mapped[str | None] = mapped_column(String(200), nullable=True)
    current_value: Mapped[Any] = mapped_column(JSON(), nullable=True)
    proposed_value: Mapped[Any] = mapped_column(JSON(), nullable=True)
    # pt-BR, in the style "-20% reincidência, -R$ 5k custo"; the numbers are in impact_metrics.
    expected_impact: Mapped[str | None] = mapped_column(Text, nullable=True)
    impact_metrics: Mapped[dict[str, Any] | None] = mapped_column(JsonDict, nullable=True)
    risk_assessment: Mapped[str | None] = mapped_column(Text, nullable=True)
    experiment_plan: Mapped[dict[str, Any] | None] = mapped_column(JsonDict, nullable=True)
    experiment_duration_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[ProposalStatus] = mapped_column(
        enum_column(ProposalStatus, "proposal_status"),
        nullable=False,
        server_default=text("'DRAFT'"),
    )
    approved_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    rejection_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    implemented_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    implementation_results: Mapped[dict[str, Any] | None] = mapped_column(JsonDict, nullable=True)
    # extensions: the policy part of affected_policy (filters and an index), the change as a
    # JSON Patch and a diff of the file, the documents before and after, who did what
    policy_name: Mapped[str] = mapped_column(String(100), nullable=False)
    base_policy_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    policy_patch: Mapped[list[Any] | None] = mapped_column(JSON(), nullable=True)
    policy_diff: Mapped[str | None] = mapped_column(LongText, nullable=True)
    current_policy: Mapped[dict[str, Any]] = mapped_column(JsonDict, nullable=False)
    proposed_policy: Mapped[dict[str, Any]] = mapped_column(JsonDict, nullable=False)
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    requested_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    rejected_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    rejected_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    approval_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    implemented_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    results_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    __table_args__ = (
        Index(None, "status"),
        Index(None, "insight_id"),
        Index(None, "org_id", "status"),
        Index(None, "org_id", "policy_name"),
        Index(None, "org_id", "fingerprint"),
    )

    @property
    def parameter_path(self) -> str:
        """The path inside the policy: affected_policy without `<policy>.`."""
        address = self.affected_policy or ""
        prefix = f"{self.policy_name}."
        return address[len(prefix) :] if address.startswith(prefix) else address
