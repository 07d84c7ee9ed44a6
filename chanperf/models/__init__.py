"""ORM models. Importing this package registers every table on `Base.metadata`."""

from chanperf.models.base import Base
from chanperf.models.firings import FindingFieldsSeen, RuleFiring
from chanperf.models.performance import (
    PerformanceInsight,
    PerformanceMetric,
    PolicyProposal,
    SegmentMetric,
)
from chanperf.models.runs import AnalysisRun, PolicyVersion
from chanperf.models.source import (
    SOURCE_TABLES,
    ChannelAccount,
    ChannelFeedback,
    ChannelOnboarding,
    ChannelOrder,
    ChannelPolicyException,
    ChannelReactivation,
    ChannelStateTransition,
)

__all__ = [
    "SOURCE_TABLES",
    "AnalysisRun",
    "Base",
    "ChannelAccount",
    "ChannelFeedback",
    "ChannelOnboarding",
    "ChannelOrder",
    "ChannelPolicyException",
    "ChannelReactivation",
    "ChannelStateTransition",
    "FindingFieldsSeen",
    "PerformanceInsight",
    "PerformanceMetric",
    "PolicyProposal",
    "PolicyVersion",
    "RuleFiring",
    "SegmentMetric",
]
