"""Channels of shapes the analysis was never written against, drawn from a seed.

A *shape* is a family of channels: ranges for how many regions, segments, kits,
strategies and SKUs there are, how many accounts and how many months of history.
`draw_channel(shape, seed, planted)` draws one channel of that family: new names
(syllables, never a shipped scenario's code), the counts, the base rates and policy
levels (discount cap and buckets, targets, margins, priority regions), the as-of day
and history length, and, for a planted run, a few patterns from `PATTERNS` placed on
drawn regions / segments / SKUs with drawn sizes and start dates
(`chanperf.demo.patterns`). The policy pack is
drawn with the channel so a null channel meets every policy with a margin; a null
channel has no pattern, so any insight on it is a false alarm.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import Any

import numpy as np
import yaml

from chanperf.demo.patterns import PATTERNS, PlantContext
from chanperf.demo.scenario_file import SCENARIOS_DIR


@dataclass(frozen=True)
class Shape:
    name: str
    regions: tuple[int, int]
    segments: tuple[int, int]
    kits: tuple[int, int]
    strategies: tuple[int, int]
    skus: tuple[int, int]
    accounts: tuple[int, int]
    history_months: tuple[int, int]


# Small channels on purpose: a run (generate, collect, analyse) takes a few seconds.
SHAPES: dict[str, Shape] = {
    s.name: s
    for s in (
        Shape("compact", (3, 4), (2, 3), (1, 2), (2, 3), (3, 5), (3000, 4000), (12, 18)),
        Shape("wide", (7, 10), (4, 6), (2, 3), (3, 5), (6, 9), (4000, 5500), (15, 24)),
        Shape("young", (4, 6), (3, 4), (1, 3), (2, 4), (4, 7), (2500, 3500), (10, 13)),
    )
}
AS_OF_RANGE = (date(2024, 3, 1), date(2026, 10, 31))
# Planted effects are the shipped planted scenario's sizes times a factor from here.
EFFECT_SCALE = (0.85, 1.25)
PATTERNS_PER_RUN = (3, 6)
SYLLABLES = [c + v for c in "bcdfglmnprstvz" for v in "aeiou"]


@cache
def shipped_codes() -> frozenset[str]:
    """Every code the shipped scenarios declare: drawn names must avoid them."""
    codes: set[str] = set()
    for path in SCENARIOS_DIR.glob("*.yaml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for section in ("regions", "segments", "kits", "strategies", "skus"):
            codes.update(str(c) for c in (doc.get(section) or {}))
            for value in (doc.get(section) or {}).values():
                if isinstance(value, dict):
                    codes.update(str(c) for c in value.get("kits") or {})
    return frozenset(codes)


@dataclass
class Channel:
    """One drawn channel: its scenario document, policy pack and facts for the report."""

    shape: str
    seed: int
    as_of: date
    doc: dict[str, Any]
    policies: dict[str, dict[str, Any]]
    sizes: dict[str, float | None] = field(default_factory=dict)  # planted id -> effect size

    @property
    def planted(self) -> list[dict[str, Any]]:
        return list(self.doc.get("planted") or [])

    def kits(self) -> set[str]:
        """The kits in use: the channel-wide mix and every region's own."""
        regions = self.doc["regions"].values()
        return set(self.doc["kits"]) | {k for r in regions for k in r.get("kits") or {}}

    def counts(self) -> dict[str, int]:
        out = {k: len(self.doc[k]) for k in ("regions", "segments", "strategies", "skus")}
        return out | {"kits": len(self.kits())}


class Draft:
    """The channel while it is drawn: base rates, policy levels, groups still free."""

    def __init__(self, shape: Shape, seed: int, planted: bool):
        self.rng = np.random.default_rng([seed, list(SHAPES).index(shape.name), int(planted)])
        self.shape = shape
        self.taken = set(shipped_codes())
        self.effects: list[dict[str, Any]] = []
        self.planted: list[dict[str, Any]] = []
        self.sizes: dict[str, float | None] = {}
        self.region_w: dict[str, float] = {}
        self.segment_w: dict[str, float] = {}

    def u(self, low: float, high: float, digits: int = 3) -> float:
        return round(float(self.rng.uniform(low, high)), digits)

    def count(self, bounds: tuple[int, int]) -> int:
        return int(self.rng.integers(bounds[0], bounds[1] + 1))

    def factor(self) -> float:
        return float(self.rng.uniform(*EFFECT_SCALE))

    def name(self, syllables: int, sep: str = "") -> str:
        while True:
            word = "".join(self.rng.choice(SYLLABLES, syllables)).upper()
            if sep:
                word = f"{word}{sep}{self.rng.choice(list(string.ascii_uppercase))}{self.rng.integers(1, 99)}"
            if word not in self.taken:
                self.taken.add(word)
                return word

    def weights(self, names: list[str], floor: float) -> dict[str, float]:
        """Random weights summing to 1, none under `floor` (every group has a sample)."""
        raw = self.rng.dirichlet(np.full(len(names), 2.0))
        w = floor + raw * (1 - floor * len(names))
        return {n: round(float(x), 3) for n, x in zip(names, w, strict=True)}

    def pick(self, pool: list[str], weights: dict[str, float]) -> str | None:
        """A free group, likelier the bigger it is; taken out of the pool."""
        if not pool:
            return None
        p = np.array([weights[n] for n in pool])
        chosen = str(self.rng.choice(pool, p=p / p.sum()))
        pool.remove(chosen)
        return chosen

    def effect(self, name: str, where: dict[str, Any], values: dict[str, Any]) -> None:
        self.effects.append({"name": name, "where": where, "set": values})

    def plant(
        self,
        pid: str,
        detector: str,
        insight_type: str,
        category: str,
        affected: dict[str, Any],
        size: float | None,
    ) -> None:
        entry = {
            "id": pid,
            "detector": detector,
            "insight_type": insight_type,
            "category": category,
            "affected": affected,
        }
        if size is not None:
            entry["effect"] = {"size": round(size, 4)}
        self.planted.append(entry)
        self.sizes[pid] = None if size is None else round(size, 4)


def draw_channel(
    shape: str, seed: int, planted: bool, patterns: tuple[str, ...] | None = None
) -> Channel:
    """Draw one channel of `shape`; `patterns` forces which planted patterns (tests)."""
    d = Draft(SHAPES[shape], seed, planted)
    s, rng = d.shape, d.rng
    regions = [d.name(3) for _ in range(d.count(s.regions))]
    segments = [d.name(2) for _ in range(d.count(s.segments))]
    kits = [d.name(2, "_") for _ in range(d.count(s.kits))]
    strategies = [d.name(2) for _ in range(d.count(s.strategies))]
    skus = [d.name(2, "-") for _ in range(d.count(s.skus))]
    d.region_w = d.weights(regions, 0.5 / len(regions))
    d.segment_w = d.weights(segments, 0.5 / len(segments))
    accounts = d.count(s.accounts)
    months = d.count(s.history_months)
    span = (AS_OF_RANGE[1] - AS_OF_RANGE[0]).days
    as_of = AS_OF_RANGE[0] + timedelta(days=int(rng.integers(0, span + 1)))

    activation = d.u(0.62, 0.82)
    rates: dict[str, float] = {
        "activation_window_days": 30,
        "reincidence_window_days": 90,
        "activation_rate": activation,
        "failure_rate": d.u(0.05, min(0.14, 0.95 - activation)),
        "activation_days_median": d.u(8, 14, 1),
        "activation_days_sigma": 0.55,
        "late_days_max": 44,
        "fail_days_max": 40,
        "stall_rate_monthly": d.u(0.10, 0.18),
        "at_risk_days_max": 50,
        "reactivation_attempt_rate": d.u(0.75, 0.92),
        "stalled_days_min": 30,
        "stalled_days_max": 85,
        "resolve_days_max": 40,
        "win_rate": d.u(0.35, 0.52),
        "reincidence_rate": d.u(0.08, 0.14),
        "orders_per_month": d.u(1.2, 2.2, 2),
        "lines_per_order": d.u(1.8, 2.6, 2),
        "quantity_mean": d.u(2, 4, 1),
        "order_discount_pct": d.u(18, 30, 1),
        "exception_rate": 0.0,  # set from the pricing policy below
        "exception_granted_share": d.u(0.4, 0.6),
        "exception_extra_discount": 5,
        "nps_per_month": d.u(0.2, 0.35),
        "nps_promoter_share": d.u(0.45, 0.65),
        "nps_detractor_share": d.u(0.08, 0.2),
        "complaints_per_month": 0.03,
    }
    cost_ratio = {k: d.u(0.45, 0.55) for k in skus}
    sku_w = d.weights(skus, 0.3 / len(skus))
    prices = {k: round(float(rng.uniform(20, 170)), 2) for k in skus}
    mean_ratio = sum(cost_ratio[k] * sku_w[k] for k in skus)
    margin = 1 - mean_ratio / (1 - rates["order_discount_pct"] / 100)
    cap = int(rng.choice([10, 12, 15]))
    max_exception = d.u(0.04, 0.08, 2)
    rates["exception_rate"] = round(max_exception / d.u(2.2, 3.0), 4)

    # The discount strategy is the most used one; the others give no discount.
    discount = strategies[0]
    b = d.weights(["low", "mid", "high"], 0.2)
    strategy_docs: dict[str, Any] = {
        discount: {
            "weight": d.u(0.4, 0.55),
            "cost": d.u(8, 14, 1),
            "discount_buckets": [
                {"from": 1, "to": 5, "weight": b["low"]},
                {"from": 5.01, "to": 8, "weight": b["mid"]},
                {"from": 8.01, "to": cap, "weight": b["high"]},
            ],
        }
    }
    rest = d.weights(strategies[1:], 0.3 / len(strategies)) if strategies[1:] else {}
    share_rest = 1 - strategy_docs[discount]["weight"]
    for code in strategies[1:]:
        strategy_docs[code] = {"weight": round(rest[code] * share_rest, 3), "cost": d.u(3, 70, 0)}

    # Kits: the default kit everywhere, a second kit prescribed for some regions.
    overrides: dict[str, str] = {}
    region_docs: dict[str, Any] = {r: {"weight": w} for r, w in d.region_w.items()}
    if len(kits) > 1:
        for r in regions:
            if rng.random() < 0.3:
                overrides[r] = str(rng.choice(kits[1:]))
                region_docs[r]["kits"] = {overrides[r]: 1.0}

    priority_region = max(regions, key=lambda r: d.region_w[r] + rng.random() * 0.05)
    priority_segment = str(rng.choice(segments))
    policies = {
        "onboarding": {
            "policy": "onboarding",
            "version": 1,
            "owner": "canal-onboarding",
            "description": "Onboarding de novas revendas",
            "params": {
                "default_kit": kits[0],
                "regions": {r: {"default_kit": k} for r, k in overrides.items()},
                "activation_window_days": 30,
                "target_activation_rate": round(activation - d.u(0.12, 0.22), 2),
                "max_activation_days": 20,
            },
        },
        "pricing": {
            "policy": "pricing",
            "version": 1,
            "owner": "canal-precos",
            "description": "Preços e exceções de preço",
            "params": {"max_exception_rate": max_exception},
        },
        "reactivation": {
            "policy": "reactivation",
            "version": 1,
            "owner": "canal-reativacao",
            "description": "Reativação de revendas paradas",
            "params": {
                "max_discount_pct": cap,
                "reincidence_window_days": 90,
                "max_reincidence_rate": round(rates["reincidence_rate"] + d.u(0.1, 0.15), 2),
                "target_win_rate": round(rates["win_rate"] - 0.1, 2),
                "allowed_strategies": list(strategies),
                "discount_tolerance_rate": 0.05,
            },
        },
        "states": {
            "policy": "states",
            "version": 1,
            "owner": "canal-operacoes",
            "description": "Ciclo de vida das contas de revenda",
            "params": {
                "max_days_in_state": {"NEW": 7, "ACTIVATING": 45, "STALLED": 90, "AT_RISK": 60}
            },
        },
        "strategy": {
            "policy": "strategy",
            "version": 1,
            "owner": "diretoria-canal",
            "description": "Estratégia do canal",
            "params": {
                "min_margin": round(margin - d.u(0.07, 0.11), 2),
                "priority_regions": [priority_region],
                "priority_segments": [priority_segment],
                "min_priority_share": round(d.region_w[priority_region] * d.u(0.55, 0.7), 2),
            },
        },
    }
    doc: dict[str, Any] = {
        "scenario": f"{shape}-{seed}-{'planted' if planted else 'null'}",
        "description": f"Canal sorteado ({shape}, semente {seed})",
        "accounts": accounts,
        "history_months": months,
        "regions": region_docs,
        "segments": d.segment_w,
        "kits": {kits[0]: 1.0},
        "strategies": strategy_docs,
        "skus": {
            k: {"price": prices[k], "cost": round(prices[k] * cost_ratio[k], 2), "weight": sku_w[k]}
            for k in skus
        },
        "exceptions": {
            "policy_key": "pricing.min_price",
            "reasons": [
                "Cliente pediu preço de concorrente",
                "Pedido grande, negociação de volume",
                "Produto com embalagem avariada",
            ],
        },
        "health": {
            "NEW": [45, 60],
            "ACTIVATING": [40, 65],
            "ACTIVE": [60, 95],
            "AT_RISK": [30, 55],
            "STALLED": [15, 40],
            "CHURNED": [0, 20],
        },
        "reactivation_ticket": d.u(400, 1200, 0),
        "rates": rates,
        "effects": d.effects,
        "planted": d.planted,
    }
    channel = Channel(shape, seed, as_of, doc, policies, d.sizes)
    if planted:
        ctx = PlantContext(d, channel, kits, overrides, priority_region)
        names = list(patterns) if patterns is not None else list(rng.permutation(list(PATTERNS)))
        want = len(names) if patterns is not None else d.count(PATTERNS_PER_RUN)
        done = 0
        for name in names:
            if done == want:
                break
            done += int(PATTERNS[name](ctx))
    return channel
