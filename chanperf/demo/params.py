"""The rate parameters a scenario sets, and which filters an effect may use for each.

A parameter belongs to one kind of event (an onboarding, a reactivation, an order
line...); an effect can only filter on fields that event has, otherwise it would
silently do nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

ACCOUNT = frozenset({"region", "segment", "last_days"})
ONBOARDING = ACCOUNT | {"kit"}
LIFECYCLE = ACCOUNT
REACTIVATION = ACCOUNT | {"strategy"}
RESOLUTION = REACTIVATION | {"discount_gt", "discount_lte"}
ORDER = ACCOUNT
ORDER_LINE = ACCOUNT | {"sku"}
STATIC = frozenset({"region", "segment"})

FILTER_FIELDS = (
    "region",
    "segment",
    "kit",
    "strategy",
    "sku",
    "discount_gt",
    "discount_lte",
    "last_days",
)


@dataclass(frozen=True)
class Param:
    name: str
    fields: frozenset[str]
    low: float
    high: float | None  # None: no upper bound
    meaning: str


_PARAMS = (
    Param(
        "account_weight",
        ACCOUNT,
        0,
        None,
        "weight of new accounts (replaces the region's or segment's)",
    ),
    Param("activation_window_days", frozenset(), 1, None, "the onboarding policy's window (days)"),
    Param(
        "reincidence_window_days", frozenset(), 1, None, "the reactivation policy's window (days)"
    ),
    Param("activation_rate", ONBOARDING, 0, 1, "P(onboarding completes within the window)"),
    Param("failure_rate", ONBOARDING, 0, 1, "P(onboarding fails)"),
    Param("activation_days_median", ONBOARDING, 0.5, None, "median days of in-window completions"),
    Param("activation_days_sigma", ONBOARDING, 0.01, 3, "log-normal spread of activation days"),
    Param("late_days_max", ONBOARDING, 1, None, "latest day a late completion happens"),
    Param("fail_days_max", ONBOARDING, 1, None, "latest day a failure is recorded"),
    Param(
        "stall_rate_monthly", LIFECYCLE, 0, None, "hazard per month of an active account weakening"
    ),
    Param("at_risk_days_max", LIFECYCLE, 1, None, "longest stay in AT_RISK before STALLED"),
    Param("reactivation_attempt_rate", LIFECYCLE, 0, 1, "P(a stalled account gets an attempt)"),
    Param("stalled_days_min", LIFECYCLE, 1, None, "shortest stay in STALLED before churn"),
    Param("stalled_days_max", LIFECYCLE, 1, None, "longest stay in STALLED before churn"),
    Param(
        "strategy_weight", REACTIVATION, 0, None, "weight of a strategy (replaces the declared one)"
    ),
    Param("discount_buckets", REACTIVATION, 0, None, "discount mix of a strategy"),
    Param("resolve_days_max", REACTIVATION, 1, None, "longest time to resolve an attempt"),
    Param("win_rate", RESOLUTION, 0, 1, "P(attempt WON)"),
    Param("reincidence_rate", RESOLUTION, 0, 1, "P(a WON account stalls again within 90 days)"),
    Param("orders_per_month", ORDER, 0, None, "orders per active month"),
    Param("lines_per_order", ORDER, 1, None, "mean order lines per order"),
    Param("quantity_mean", ORDER_LINE, 1, None, "mean units per order line"),
    Param("order_discount_pct", ORDER_LINE, 0, 90, "reseller discount on the catalogue price"),
    Param("exception_rate", ORDER_LINE, 0, 1, "P(a price exception per order line)"),
    Param("exception_granted_share", ORDER_LINE, 0, 1, "share of decided exceptions GRANTED"),
    Param(
        "exception_extra_discount", ORDER_LINE, 0, 90, "discount points a granted exception adds"
    ),
    Param("nps_per_month", ORDER, 0, None, "NPS answers per active month"),
    Param("nps_promoter_share", ORDER, 0, 1, "share of answers 9-10"),
    Param("nps_detractor_share", ORDER, 0, 1, "share of answers 0-6"),
    Param("complaints_per_month", ORDER, 0, None, "complaints per active month"),
    Param("health_shift", STATIC, -100, 100, "points added to the health score"),
)
PARAMS: dict[str, Param] = {p.name: p for p in _PARAMS}
# Set by the strategy list itself, so the base `rates:` block need not carry them.
NOT_IN_RATES = frozenset({"account_weight", "strategy_weight", "discount_buckets", "health_shift"})
