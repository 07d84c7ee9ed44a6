"""The findings catalog: what analyzers hand to the rules, one frozen dataclass per kind.

A finding is statistics, never a verdict: the rules in `rules/*.yaml` decide
whether it is an insight. Every kind shares the fields of `Finding`:

- `org_id`, `period_start`, `period_end`, `filters` (the cut the numbers come from);
- `p_value`, `p_value_adj` (Benjamini–Hochberg over the whole run), `ci_low`/`ci_high`
  (95 % CI of `effect`);
- `effect`: absolute difference of the compared quantities (b − a for "b is better",
  observed − policy value for "above the policy"), `relative_effect`: effect / baseline;
- `n` (total sample), `n_a`/`n_b` and `rate_a`/`rate_b`: group a is the reference
  (the policy's choice, the rest of the channel, the baseline), group b the one
  the finding is about;
- `region`, `segment`, `policy` (policy name), `parameter` (path inside the policy),
  `policy_value` (the parameter's value the finding compared with);
- `extra`: further evidence numbers an analyzer wants quoted (kept in the evidence).

`FINDING_FIELDS[kind]` maps each field a rule may name to its type; the rule
loader rejects a condition or placeholder on any other name.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any, ClassVar, Union

from chanperf.core.errors import Problem, ValidationError

Scalar = str | int | float | bool


@dataclass(frozen=True, kw_only=True)
class Finding:
    kind: ClassVar[str] = ""
    org_id: int
    period_start: date
    period_end: date
    filters: Mapping[str, str] = field(default_factory=dict)
    p_value: float | None = None
    p_value_adj: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    effect: float | None = None
    relative_effect: float | None = None
    n: int | None = None
    n_a: int | None = None
    n_b: int | None = None
    rate_a: float | None = None
    rate_b: float | None = None
    region: str | None = None
    segment: str | None = None
    policy: str | None = None
    parameter: str | None = None
    policy_value: float | str | None = None
    extra: Mapping[str, Scalar] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class KitEffectiveness(Finding):
    """In `region`, `better_kit` activates more than `policy_kit` (the kit the policy prescribes).

    a = policy kit, b = better kit; `ratio` = rate_b / rate_a; `median_days_*` activation days.
    `parameter` is `regions.<R>.default_kit` or `default_kit`.
    """

    kind: ClassVar[str] = "kit_effectiveness"
    policy_kit: str
    better_kit: str
    ratio: float | None = None
    median_days_a: float | None = None
    median_days_b: float | None = None


@dataclass(frozen=True, kw_only=True)
class RegionFailure(Finding):
    """`region`'s onboarding failure rate (b) against the rest of the channel (a); `ratio` = b / a.

    Whether the difference predates the region's own change: `change_start` is the most
    likely week the region's weekly failure rate changed, `change_p_value` the scan's
    p-value; `rate_b_before`/`rate_a_before` the region and the rest on onboardings started
    before it, `effect_before` their difference and `p_value_before` its two-proportion test.
    """

    kind: ClassVar[str] = "region_failure"
    ratio: float | None = None
    change_start: date | None = None
    change_p_value: float | None = None
    rate_a_before: float | None = None
    rate_b_before: float | None = None
    effect_before: float | None = None
    p_value_before: float | None = None


@dataclass(frozen=True, kw_only=True)
class OnboardingTarget(Finding):
    """`metric` ("activation_rate" or "median_activation_days") misses its policy value.

    `value` observed, `target` = policy value (`parameter` names it); `gap` how far
    on the bad side (target − value for rates, value − target for days); `region` None = channel.
    For the activation rate, when the cut's weekly rate fell at some week of the change-point
    history: `change_start`, the scan's `change_p_value` and `rate_before` (the rate before it).
    """

    kind: ClassVar[str] = "onboarding_target"
    metric: str
    value: float
    target: float
    gap: float | None = None
    change_start: date | None = None
    change_p_value: float | None = None
    rate_before: float | None = None


@dataclass(frozen=True, kw_only=True)
class DiscountReincidence(Finding):
    """Reactivations with discount > `high_threshold_pct` (b) relapse more than those <= `low_threshold_pct` (a).

    `suggested_max_discount_pct`: highest bucket whose reincidence is not worse;
    `current_max_discount_pct` the policy cap; `cost_difference` money lost per month.
    """

    kind: ClassVar[str] = "discount_reincidence"
    high_threshold_pct: float
    low_threshold_pct: float
    current_max_discount_pct: float | None = None
    suggested_max_discount_pct: float | None = None
    cost_difference: float | None = None


@dataclass(frozen=True, kw_only=True)
class StrategyEffectiveness(Finding):
    """In `segment`, `better_strategy` (b) wins more than the most used `current_strategy` (a).

    `reincidence_a`/`reincidence_b`: their relapse rates; `reincidence_diff_ci_low`: the
    lower bound of the 95 % CI of reincidence_b − reincidence_a, so "no worse reincidence"
    can be tested rather than read off two noisy point estimates (b is significantly
    worse only when this bound is above 0).
    """

    kind: ClassVar[str] = "strategy_effectiveness"
    current_strategy: str
    better_strategy: str
    reincidence_a: float | None = None
    reincidence_b: float | None = None
    reincidence_diff_ci_low: float | None = None


@dataclass(frozen=True, kw_only=True)
class ReincidenceAboveMax(Finding):
    """A `dimension` ("segment"/"region") value `group` whose reincidence `rate_b` exceeds `max_rate`.

    `max_rate` is the policy's `max_reincidence_rate`; `effect` = rate_b − max_rate.
    """

    kind: ClassVar[str] = "reincidence_above_max"
    dimension: str
    group: str
    max_rate: float


@dataclass(frozen=True, kw_only=True)
class StateBottleneck(Finding):
    """Accounts stuck in `state`, or a transition rate jumping against its baseline.

    `signal` "time_in_state": `median_days` vs the policy's `max_days`;
    `signal` "transition_rate": weekly rate of `state` → `to_state`, from the week it changed,
    `change_start`, on (b) vs the weeks before (a).
    `accounts_affected`: accounts over the limit / making the transition.
    """

    kind: ClassVar[str] = "state_bottleneck"
    signal: str
    state: str
    to_state: str | None = None
    median_days: float | None = None
    max_days: float | None = None
    accounts_affected: int | None = None
    change_start: date | None = None


@dataclass(frozen=True, kw_only=True)
class ChurnRisk(Finding):
    """Share of accounts scored at high churn risk: recent (b) vs baseline (a), per segment/region."""

    kind: ClassVar[str] = "churn_risk"
    at_risk_count: int
    revenue_at_risk: float | None = None


@dataclass(frozen=True, kw_only=True)
class ExcessiveExceptions(Finding):
    """A `policy_key` (and `sku`) excepted at `exception_rate` (b) vs the tolerated `max_rate`.

    `exceptions` counted over `n` order lines (or accounts); `granted_share` of them granted.
    """

    kind: ClassVar[str] = "excessive_exceptions"
    policy_key: str
    sku: str | None = None
    exception_rate: float
    max_rate: float
    exceptions: int
    granted_share: float | None = None


@dataclass(frozen=True, kw_only=True)
class UncoveredActivity(Finding):
    """Activity with a `dimension` `value` no policy parameter covers, performing differently.

    `metric` compared; a = covered values, b = the uncovered `value`.
    """

    kind: ClassVar[str] = "uncovered_activity"
    dimension: str
    value: str
    metric: str


@dataclass(frozen=True, kw_only=True)
class DiscountComplianceDrift(Finding):
    """Share `rate_b` of reactivations whose discount exceeds the cap, vs `tolerance` (policy).

    `over_cap_count` of `n` attempts; `max_discount_pct` the cap.
    """

    kind: ClassVar[str] = "discount_compliance_drift"
    over_cap_count: int
    tolerance: float
    max_discount_pct: float


@dataclass(frozen=True, kw_only=True)
class Misalignment(Finding):
    """A channel out of line with its strategy.

    `signal` "margin": `margin` below `min_margin` with `revenue_share` of revenue;
    `signal` "priority_share": priority `priority_share` of new activations, recent (b)
    vs baseline (a), against `min_priority_share`.
    """

    kind: ClassVar[str] = "misalignment"
    signal: str
    margin: float | None = None
    min_margin: float | None = None
    revenue_share: float | None = None
    priority_share: float | None = None
    min_priority_share: float | None = None
    revenue: float | None = None


@dataclass(frozen=True, kw_only=True)
class MetricDrift(Finding):
    """Weekly KPI `metric` (of `category`): recent weeks (b) differ from baseline weeks (a).

    `direction` "worse"/"better" for the business. Found by a change-point scan over the
    KPI's weekly history: a = the weeks before the change, b = the weeks from
    `change_start` (Monday of the first changed week) on; `baseline_weeks`/`recent_weeks`
    count their weeks with data.
    `effect` is b − a as everywhere; `worsening` is the same change measured in the
    business's bad direction (positive = worse: `effect` for KPIs where higher is worse,
    −`effect` where lower is worse) and `relative_worsening` = worsening / |rate_a|, so a
    rule can say "worse by at least X" once for every KPI. `follows_metric`: the KPI this
    one moves with, when that KPI got worse in the same cut; `follows_p_value` its scan's
    p-value and `follows_weeks_apart` the weeks between the two change starts.
    """

    kind: ClassVar[str] = "metric_drift"
    metric: str
    category: str
    direction: str
    worsening: float | None = None
    relative_worsening: float | None = None
    recent_weeks: int | None = None
    baseline_weeks: int | None = None
    change_start: date | None = None
    follows_metric: str | None = None
    follows_p_value: float | None = None
    follows_weeks_apart: int | None = None


FINDING_TYPES: dict[str, type[Finding]] = {
    cls.kind: cls
    for cls in (
        KitEffectiveness,
        RegionFailure,
        OnboardingTarget,
        DiscountReincidence,
        StrategyEffectiveness,
        ReincidenceAboveMax,
        StateBottleneck,
        ChurnRisk,
        ExcessiveExceptions,
        UncoveredActivity,
        DiscountComplianceDrift,
        Misalignment,
        MetricDrift,
    )
}


def _base_type(hint: Any) -> type:
    """`float | None` -> float; Mapping[...] -> dict."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _base_type(args[0]) if len(args) == 1 else object
    if origin is not None:
        return dict if issubclass(origin, Mapping) else origin
    return hint


def _fields_of(cls: type[Finding]) -> dict[str, type]:
    hints = typing.get_type_hints(cls)
    out: dict[str, type] = {"kind": str}
    out.update({f.name: _base_type(hints[f.name]) for f in dataclasses.fields(cls)})
    return out


FINDING_FIELDS: dict[str, dict[str, type]] = {k: _fields_of(c) for k, c in FINDING_TYPES.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_fact(finding: Finding) -> dict[str, Any]:
    """The finding as plain JSON types, `kind` included (None values kept)."""
    out: dict[str, Any] = {"kind": finding.kind}
    for f in dataclasses.fields(finding):
        out[f.name] = _plain(getattr(finding, f.name))
    return out


def evidence_of(finding: Finding) -> dict[str, Any]:
    """What a person needs to check the finding: every field that has a value, `extra` inlined."""
    fact = to_fact(finding)
    extra = fact.pop("extra", {})
    evidence = {k: v for k, v in fact.items() if v is not None and v != {}}
    evidence.update(extra)
    return evidence


def finding_from_dict(data: Mapping[str, Any], where: str = "finding") -> Finding:
    """Build a finding from plain data (rule tests, JSON); a bad field is a ValidationError."""
    kind = data.get("kind")
    cls = FINDING_TYPES.get(str(kind))
    if cls is None:
        raise ValidationError([Problem(where, f"unknown finding kind {kind!r}")])
    kwargs = {k: v for k, v in data.items() if k != "kind"}
    for name in ("period_start", "period_end"):
        if isinstance(kwargs.get(name), str):
            kwargs[name] = date.fromisoformat(kwargs[name])
    unknown = sorted(set(kwargs) - set(FINDING_FIELDS[cls.kind]))
    if unknown:
        raise ValidationError([Problem(where, f"{kind}: unknown field(s) {', '.join(unknown)}")])
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValidationError([Problem(where, f"{kind}: {exc}")]) from None
