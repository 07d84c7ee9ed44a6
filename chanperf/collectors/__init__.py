"""Collectors: SQL aggregates of the source tables by local day, region, segment, kit, strategy.

Each returns a small DataFrame of additive measures (documented in its module);
`rollup` turns them into the rows of the two metrics tables.
"""

from chanperf.collectors.common import MetricWindows, Span
from chanperf.collectors.onboarding import collect_activation_rates, collect_onboarding_metrics
from chanperf.collectors.quality import collect_quality_metrics
from chanperf.collectors.reactivation import (
    collect_reactivation_metrics,
    collect_strategy_effectiveness,
)
from chanperf.collectors.revenue import collect_margin_trends, collect_revenue_metrics
from chanperf.collectors.state import collect_state_distribution, collect_state_transitions

__all__ = [
    "MetricWindows",
    "Span",
    "collect_activation_rates",
    "collect_margin_trends",
    "collect_onboarding_metrics",
    "collect_quality_metrics",
    "collect_reactivation_metrics",
    "collect_revenue_metrics",
    "collect_state_distribution",
    "collect_state_transitions",
    "collect_strategy_effectiveness",
]
