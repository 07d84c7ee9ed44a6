"""Enumerations shared by storage, analysis and the API (values are the stored strings)."""

from __future__ import annotations

from enum import StrEnum


class AccountState(StrEnum):
    NEW = "NEW"
    ACTIVATING = "ACTIVATING"
    ACTIVE = "ACTIVE"
    STALLED = "STALLED"
    AT_RISK = "AT_RISK"
    CHURNED = "CHURNED"


# A won-back account relapses when it moves to one of these states (the reincidence window).
RELAPSE_STATES = (AccountState.STALLED.value, AccountState.CHURNED.value)


class OnboardingStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class ReactivationStatus(StrEnum):
    PENDING = "PENDING"
    WON = "WON"
    LOST = "LOST"


class ExceptionDecision(StrEnum):
    PENDING = "PENDING"
    GRANTED = "GRANTED"
    DENIED = "DENIED"


class FeedbackKind(StrEnum):
    NPS = "NPS"
    COMPLAINT = "COMPLAINT"


class PeriodType(StrEnum):
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"


class Dimension(StrEnum):
    """Cuts of the segment metrics table."""

    REGION = "region"
    SEGMENT = "segment"
    KIT = "kit"
    STRATEGY = "strategy"


# The members of the three tables' enums are in the order of sql/schema.sql's ENUMs.
class InsightType(StrEnum):
    POLICY_GAP = "POLICY_GAP"
    POLICY_TOO_RESTRICTIVE = "POLICY_TOO_RESTRICTIVE"
    POLICY_TOO_LAX = "POLICY_TOO_LAX"
    EXECUTION_DRIFT = "EXECUTION_DRIFT"
    CHANNEL_MISALIGNMENT = "CHANNEL_MISALIGNMENT"


class InsightCategory(StrEnum):
    """The categories the shipped rules use; stored as free text (VARCHAR(50)), checked when
    rules load."""

    ONBOARDING = "onboarding"
    REACTIVATION = "reactivation"
    PRICING = "pricing"
    STATES = "states"
    POLICY = "policy"
    REVENUE = "revenue"
    QUALITY = "quality"


class Severity(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class SuggestedAction(StrEnum):
    ADJUST_PARAMETER = "ADJUST_PARAMETER"
    CHANGE_POLICY = "CHANGE_POLICY"
    RUN_EXPERIMENT = "RUN_EXPERIMENT"
    ESCALATE = "ESCALATE"
    MONITOR = "MONITOR"


class InsightStatus(StrEnum):
    NEW = "NEW"
    REVIEWED = "REVIEWED"
    IN_PROGRESS = "IN_PROGRESS"
    IMPLEMENTED = "IMPLEMENTED"
    DISMISSED = "DISMISSED"


class ProposalStatus(StrEnum):
    DRAFT = "DRAFT"
    PENDING_REVIEW = "PENDING_REVIEW"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    IMPLEMENTED = "IMPLEMENTED"


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class FeedbackLabel(StrEnum):
    """Whether an insight was right, as the person who acted on it judged (docs/feedback.md)."""

    TRUE_POSITIVE = "TRUE_POSITIVE"
    FALSE_POSITIVE = "FALSE_POSITIVE"
    EXPECTED = "EXPECTED"  # real, but already known
    NOT_ACTIONABLE = "NOT_ACTIONABLE"
