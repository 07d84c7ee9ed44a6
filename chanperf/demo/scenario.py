"""Scenario files: the channel a demo generates, its rates, effects and planted ground truth.

A scenario is loaded into frozen dataclasses after every problem in the file has
been collected; each problem names `file:line:col` and the field path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chanperf.demo.params import FILTER_FIELDS

DETECTORS = frozenset(
    {
        "detect_kit_effectiveness",
        "detect_region_patterns",
        "analyze_onboarding_patterns",
        "detect_discount_patterns",
        "analyze_strategy_effectiveness",
        "detect_reincidence_patterns",
        "analyze_state_flows",
        "detect_bottlenecks",
        "predict_churn_risk",
        "detect_excessive_exceptions",
        "detect_policy_gaps",
        "compliance_drift",
        "detect_misalignments",
        "metric_drift",
    }
)
AFFECTED_KEYS = frozenset(
    {"region", "segment", "policy", "parameter", "sku", "state", "kit", "strategy"}
)
HEALTH_STATES = ("NEW", "ACTIVATING", "ACTIVE", "STALLED", "AT_RISK", "CHURNED")


@dataclass(frozen=True)
class DiscountBucket:
    low: float
    high: float
    weight: float


@dataclass(frozen=True)
class Region:
    code: str
    weight: float
    kits: tuple[tuple[str, float], ...]  # empty: the scenario's default kit mix


@dataclass(frozen=True)
class Strategy:
    code: str
    weight: float
    cost: float
    discount_buckets: tuple[DiscountBucket, ...]  # empty: never gives a discount


@dataclass(frozen=True)
class Sku:
    code: str
    price: float
    cost: float
    weight: float


@dataclass(frozen=True)
class Where:
    region: str | None = None
    segment: str | None = None
    kit: str | None = None
    strategy: str | None = None
    sku: str | None = None
    discount_gt: float | None = None
    discount_lte: float | None = None
    last_days: float | None = None

    def fields(self) -> set[str]:
        return {f for f in FILTER_FIELDS if getattr(self, f) is not None}


ParamValue = float | tuple[DiscountBucket, ...]


@dataclass(frozen=True)
class Effect:
    name: str
    where: Where
    values: tuple[tuple[str, ParamValue], ...]


@dataclass(frozen=True)
class Power:
    test: str  # two_sample | one_sample
    p1: float
    p2: float  # one_sample: the policy limit the rate is compared with
    n_per_group: int


@dataclass(frozen=True)
class Planted:
    id: str
    detector: str
    insight_type: str
    category: str
    affected: tuple[tuple[str, str], ...]
    effect: tuple[tuple[str, float], ...]
    power: Power | None
    sample: tuple[tuple[str, int], ...]
    side_effects: tuple[str, ...]
    # Insights the pattern causes besides its own (a side effect above that a detector
    # sees): each a rule id, with the region or segment it names.
    also_reports: tuple[tuple[tuple[str, str], ...], ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    description: str
    accounts: int
    history_months: int
    regions: tuple[Region, ...]
    segments: tuple[tuple[str, float], ...]
    kits: tuple[tuple[str, float], ...]
    strategies: tuple[Strategy, ...]
    skus: tuple[Sku, ...]
    rates: tuple[tuple[str, float], ...]
    effects: tuple[Effect, ...]
    exception_policy_key: str
    exception_reasons: tuple[str, ...]
    health: tuple[tuple[str, float, float], ...]
    reactivation_ticket: float
    planted: tuple[Planted, ...] = field(default=())

    def rate(self, name: str) -> float:
        return dict(self.rates)[name]

    def effects_for(self, param: str) -> list[tuple[Where, ParamValue]]:
        return [(e.where, v) for e in self.effects for k, v in e.values if k == param]
