"""The patterns a planted run of `chanperf eval` can add to a drawn channel.

Each mirrors one of the shipped planted scenario's patterns (one per detector, two
for the misalignment detector), at its size times a drawn factor, on a region,
segment or SKU of its own, and writes the effects the generator applies and the
ground truth (`planted:`) the evaluation compares insights with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chanperf.demo.shapes import Channel, Draft


@dataclass
class PlantContext:
    d: Draft
    channel: Channel
    kits: list[str]
    overrides: dict[str, str]
    priority_region: str
    free_regions: list[str] = field(default_factory=list)
    free_segments: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.free_regions = [r for r in self.doc["regions"] if r != self.priority_region]
        self.free_segments = list(self.doc["segments"])

    @property
    def doc(self) -> dict[str, Any]:
        return self.channel.doc

    @property
    def rates(self) -> dict[str, float]:
        return self.channel.doc["rates"]

    def param(self, policy: str, key: str) -> Any:
        return self.channel.policies[policy]["params"][key]

    def region(self) -> str | None:
        return self.d.pick(self.free_regions, self.d.region_w)

    def segment(self) -> str | None:
        return self.d.pick(self.free_segments, self.d.segment_w)

    @property
    def discount(self) -> str:
        return next(iter(self.doc["strategies"]))


def _clip(x: float, low: float = 0.02, high: float = 0.95) -> float:
    return round(min(max(x, low), high), 3)


# Each pattern mirrors one of the shipped planted scenario's, at its size times a
# drawn factor, and returns False when the channel has no room for it (one kit only,
# no free region...). Every pattern takes its own region or segment.


def _kit(c: PlantContext) -> bool:
    region = c.region() if len(c.kits) > 1 else None
    if region is None:
        return False
    prescribed = c.overrides.get(region, c.kits[0])
    other = str(c.d.rng.choice([k for k in c.kits if k != prescribed]))
    c.doc["regions"][region]["kits"] = {prescribed: 0.6, other: 0.4}
    f, r = c.d.factor(), c.rates
    low = _clip(r["activation_rate"] - 0.27 * f)
    high = _clip(r["activation_rate"] + 0.06 * f, high=0.95 - r["failure_rate"])
    c.d.effect("kit fraco", {"region": region, "kit": prescribed}, {"activation_rate": low})
    c.d.effect("kit forte", {"region": region, "kit": other}, {"activation_rate": high})
    c.d.plant("kit", "detect_kit_effectiveness", "POLICY_GAP", "onboarding",
              {"region": region, "policy": "onboarding", "kit": other}, high - low)  # fmt: skip
    return True


def _failures(c: PlantContext) -> bool:
    region = c.region()
    if region is None:
        return False
    f, r = c.d.factor(), c.rates
    fail = _clip(r["failure_rate"] + 0.25 * f)
    act = _clip(min(r["activation_rate"] - 0.17 * f, 0.98 - fail))
    c.d.effect("falhas", {"region": region}, {"failure_rate": fail, "activation_rate": act})
    c.d.plant("failures", "detect_region_patterns", "POLICY_GAP", "onboarding",
              {"region": region}, fail - r["failure_rate"])  # fmt: skip
    return True


def _slow_onboarding(c: PlantContext) -> bool:
    region = c.region()
    if region is None:
        return False
    target = c.param("onboarding", "target_activation_rate")
    act = _clip(target - 0.15 * c.d.factor())
    c.d.effect("onboarding lento", {"region": region},
               {"activation_rate": act, "activation_days_median": c.param("onboarding", "max_activation_days")})  # fmt: skip
    c.d.plant("slow_onboarding", "analyze_onboarding_patterns", "EXECUTION_DRIFT", "onboarding",
              {"region": region}, target - act)  # fmt: skip
    return True


def _discount_relapse(c: PlantContext) -> bool:
    f, base = c.d.factor(), c.rates["reincidence_rate"]
    c.d.effect("reincidência de desconto médio", {"discount_gt": 5, "discount_lte": 8},
               {"reincidence_rate": _clip(base + 0.08 * f)})  # fmt: skip
    c.d.effect("reincidência de desconto alto", {"discount_gt": 8},
               {"reincidence_rate": _clip(base + 0.33 * f)})  # fmt: skip
    c.d.plant("discount_relapse", "detect_discount_patterns", "POLICY_TOO_LAX", "reactivation",
              {"policy": "reactivation"}, 0.33 * f)  # fmt: skip
    return True


def _strategy(c: PlantContext) -> bool:
    others = list(c.doc["strategies"])[1:]
    segment = c.segment() if others else None
    if segment is None:
        return False
    strategy = str(c.d.rng.choice(others))
    f, win = c.d.factor(), c.rates["win_rate"]
    c.d.effect("estratégia que funciona", {"segment": segment, "strategy": strategy},
               {"strategy_weight": 0.30, "win_rate": _clip(win + 0.24 * f)})  # fmt: skip
    c.d.plant("strategy", "analyze_strategy_effectiveness", "POLICY_GAP", "reactivation",
              {"segment": segment, "strategy": strategy}, 0.24 * f)  # fmt: skip
    return True


def _reincidence(c: PlantContext) -> bool:
    segment = c.segment()
    if segment is None:
        return False
    limit = c.param("reactivation", "max_reincidence_rate")
    rate = _clip(limit + 0.16 * c.d.factor())
    c.d.effect("reincidência alta", {"segment": segment}, {"reincidence_rate": rate})
    c.d.plant("reincidence", "detect_reincidence_patterns", "POLICY_TOO_LAX", "reactivation",
              {"segment": segment}, rate - limit)  # fmt: skip
    return True


def _stuck(c: PlantContext) -> bool:
    region = c.region()
    if region is None:
        return False
    limit = c.param("states", "max_days_in_state")["STALLED"]
    c.d.effect("paradas sem acompanhamento", {"region": region},
               {"reactivation_attempt_rate": 0.35, "stalled_days_min": limit + 10, "stalled_days_max": 400})  # fmt: skip
    c.d.plant("stuck", "analyze_state_flows", "EXECUTION_DRIFT", "states",
              {"state": "STALLED", "region": region}, None)  # fmt: skip
    return True


def _churn(c: PlantContext) -> bool:
    segment = c.segment()
    if segment is None:
        return False
    f, r = c.d.factor(), c.rates
    days = int(c.d.rng.integers(75, 106))
    c.d.effect("segmento perdendo força", {"segment": segment, "last_days": days},
               {"stall_rate_monthly": round(r["stall_rate_monthly"] + 0.21 * f, 3),
                "orders_per_month": round(r["orders_per_month"] / 2, 2)})  # fmt: skip
    c.d.effect("saúde baixa", {"segment": segment}, {"health_shift": -15})
    c.d.plant("churn", "predict_churn_risk", "EXECUTION_DRIFT", "states",
              {"segment": segment}, 0.21 * f)  # fmt: skip
    return True


def _exceptions(c: PlantContext) -> bool:
    sku = str(c.d.rng.choice(list(c.doc["skus"])))
    limit = c.param("pricing", "max_exception_rate")
    rate = _clip(limit + 0.2 * c.d.factor())
    c.d.effect("exceções de preço", {"sku": sku},
               {"exception_rate": rate, "exception_granted_share": 0.85})  # fmt: skip
    c.d.plant("exceptions", "detect_excessive_exceptions", "POLICY_TOO_RESTRICTIVE", "pricing",
              {"policy": "pricing", "sku": sku}, rate - limit)  # fmt: skip
    return True


def _policy_gap(c: PlantContext) -> bool:
    code = c.d.name(2)
    f = c.d.factor()
    c.doc["strategies"][code] = {"weight": 0.10, "cost": 3}
    c.d.effect("estratégia fora da política", {"strategy": code},
               {"win_rate": _clip(c.rates["win_rate"] - 0.27 * f)})  # fmt: skip
    c.d.plant("policy_gap", "detect_policy_gaps", "POLICY_GAP", "policy",
              {"strategy": code, "policy": "reactivation"}, 0.27 * f)  # fmt: skip
    return True


def _cap_compliance(c: PlantContext) -> bool:
    strategies = c.doc["strategies"]
    share = strategies[c.discount]["weight"] / sum(s["weight"] for s in strategies.values())
    cap = c.param("reactivation", "max_discount_pct")
    over = c.param("reactivation", "discount_tolerance_rate") + 0.09 * c.d.factor()
    q = over / share  # the over-cap bucket's share of the discount strategy's attempts
    buckets = strategies[c.discount]["discount_buckets"]
    for bucket in buckets:
        bucket["weight"] = round(bucket["weight"] * (1 - q), 4)
    buckets.append({"from": cap + 0.01, "to": cap + 5, "weight": round(q, 4)})
    c.d.plant("cap_compliance", "compliance_drift", "EXECUTION_DRIFT", "reactivation",
              {"policy": "reactivation"}, over - c.param("reactivation", "discount_tolerance_rate"))  # fmt: skip
    return True


def _margin(c: PlantContext) -> bool:
    segment = c.segment()
    if segment is None:
        return False
    skus = c.doc["skus"]
    ratio = sum(s["cost"] / s["price"] * s["weight"] for s in skus.values()) / sum(
        s["weight"] for s in skus.values()
    )
    limit = c.param("strategy", "min_margin")
    target = limit - 0.06 * c.d.factor()
    pct = round(100 * (1 - ratio / (1 - target)), 1)
    r = c.rates
    c.d.effect("desconto profundo", {"segment": segment},
               {"order_discount_pct": pct, "orders_per_month": round(r["orders_per_month"] * 2.2, 2),
                "quantity_mean": r["quantity_mean"] + 1})  # fmt: skip
    c.d.plant("margin", "detect_misalignments", "CHANNEL_MISALIGNMENT", "revenue",
              {"segment": segment}, limit - target)  # fmt: skip
    return True


def _priority_share(c: PlantContext) -> bool:
    region = c.priority_region
    days = int(c.d.rng.integers(160, 201))
    weight = c.doc["regions"][region]["weight"]
    factor = c.d.factor()
    new = round(weight * max(0.5 - 0.25 * factor, 0.05), 4)
    c.d.effect("região prioritária recruta menos", {"region": region, "last_days": days},
               {"account_weight": new})  # fmt: skip
    c.d.plant("priority_share", "detect_misalignments", "CHANNEL_MISALIGNMENT", "revenue",
              {"region": region, "policy": "strategy"}, weight - new)  # fmt: skip
    return True


def _nps_drift(c: PlantContext) -> bool:
    f, r = c.d.factor(), c.rates
    days = int(c.d.rng.integers(42, 71))
    promoters = _clip(r["nps_promoter_share"] - 0.25 * f)
    detractors = _clip(r["nps_detractor_share"] + 0.25 * f, high=0.98 - promoters)
    c.d.effect("NPS em queda", {"last_days": days},
               {"nps_promoter_share": promoters, "nps_detractor_share": detractors})  # fmt: skip
    c.d.plant("nps_drift", "metric_drift", "EXECUTION_DRIFT", "quality", {}, 0.25 * f)
    return True


PATTERNS: dict[str, Callable[[PlantContext], bool]] = {
    "kit": _kit,
    "failures": _failures,
    "slow_onboarding": _slow_onboarding,
    "discount_relapse": _discount_relapse,
    "strategy": _strategy,
    "reincidence": _reincidence,
    "stuck": _stuck,
    "churn": _churn,
    "exceptions": _exceptions,
    "policy_gap": _policy_gap,
    "cap_compliance": _cap_compliance,
    "margin": _margin,
    "priority_share": _priority_share,
    "nps_drift": _nps_drift,
}
