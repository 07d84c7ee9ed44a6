"""What active accounts do: order lines, price exceptions, NPS answers, complaints, health.

Events are drawn as a Poisson process at the highest rate any effect allows, then
thinned to each event's own rate: that handles rates that change inside a time
window without splitting intervals.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chanperf.demo.lifecycle import STATES, IntArray, Lifecycles
from chanperf.demo.sampling import (
    DAYS_PER_MONTH,
    Codes,
    FloatArray,
    choose_fixed,
    resolve,
    upper_bound,
)
from chanperf.demo.scenario import Scenario

DECLINE_KEEP = 0.35  # share of orders kept in the weeks before an account turns AT_RISK


def _intervals(life: Lifecycles) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    acc = np.concatenate([a for a, *_ in life.active])
    start = np.concatenate([s for _, s, _, _ in life.active])
    end = np.concatenate([e for _, _, e, _ in life.active])
    decline = np.concatenate([d for *_, d in life.active])
    keep = end > start
    return acc[keep], start[keep], end[keep], decline[keep]


def _events(
    scn: Scenario, rng: np.random.Generator, life: Lifecycles, param: str, horizon: float
) -> tuple[IntArray, FloatArray]:
    """Event times of a per-active-month rate, thinned by the rate in force at each time."""
    acc, start, end, decline = _intervals(life)
    top = upper_bound(scn, param)
    counts = rng.poisson(top * (end - start) / DAYS_PER_MONTH)
    which = np.repeat(np.arange(acc.size), counts)
    t = start[which] + rng.random(which.size) * (end - start)[which]
    a = acc[which]
    cols = {"region": life.region[a], "segment": life.segment[a]}
    rate = resolve(scn, param, a.size, cols, horizon, t)
    keep = rng.random(a.size) * top < rate
    keep &= (t < decline[which]) | (rng.random(a.size) < DECLINE_KEEP)
    order = np.lexsort((a[keep], t[keep]))
    return a[keep][order], t[keep][order]


def orders(
    scn: Scenario, rng: np.random.Generator, life: Lifecycles, horizon: float
) -> dict[str, Any]:
    acc, t = _events(scn, rng, life, "orders_per_month", horizon)
    cols = {"region": life.region[acc], "segment": life.segment[acc]}
    extra = rng.poisson(
        np.maximum(resolve(scn, "lines_per_order", acc.size, cols, horizon, t) - 1.0, 0.0)
    )
    which = np.repeat(np.arange(acc.size), 1 + extra)
    a, when = acc[which], t[which]
    n = a.size
    sku_i = choose_fixed(rng, n, [s.weight for s in scn.skus])
    sku = Codes(sku_i.astype(np.int16), [s.code for s in scn.skus])
    lcols = {
        "region": Codes.of(life.region).take(a),
        "segment": Codes.of(life.segment).take(a),
        "sku": sku,
    }

    def val(p: str) -> FloatArray:
        return resolve(scn, p, n, lcols, horizon, when)

    qty = 1 + rng.poisson(np.maximum(val("quantity_mean") - 1.0, 0.0))
    discount: np.ndarray = np.clip(val("order_discount_pct") + rng.uniform(-1.5, 1.5, n), 0.0, 90.0)
    # A price exception is asked for shortly before the order it is about.
    asked = rng.random(n) < val("exception_rate")
    requested = np.maximum(when - rng.uniform(0.05, 1.0, n), 0.0)
    granted = rng.random(n) < val("exception_granted_share")
    pending = asked & (requested > horizon - 2.0)
    discount = np.round(
        np.where(asked & ~pending & granted, discount + val("exception_extra_discount"), discount),
        2,
    )
    discount = np.clip(discount, 0.0, 90.0)
    price = np.array([s.price for s in scn.skus])[sku_i]
    unit_cost = np.array([s.cost for s in scn.skus])[sku_i]
    reasons = np.array(scn.exception_reasons)
    ex = np.flatnonzero(asked)
    decision = np.where(pending[ex], "PENDING", np.where(granted[ex], "GRANTED", "DENIED"))
    return {
        "account": a, "ordered": when, "sku": sku, "quantity": qty,
        "revenue": np.round(price * qty * (1.0 - discount / 100.0), 2),
        "cost": np.round(unit_cost * qty, 2), "discount": discount,
        "ex_account": a[ex], "ex_sku": sku.take(ex).values(), "ex_requested": requested[ex],
        "ex_decision": decision, "ex_reason": reasons[rng.integers(0, reasons.size, ex.size)],
    }  # fmt: skip


def feedback(
    scn: Scenario, rng: np.random.Generator, life: Lifecycles, horizon: float
) -> dict[str, np.ndarray]:
    acc, t = _events(scn, rng, life, "nps_per_month", horizon)
    cols = {"region": life.region[acc], "segment": life.segment[acc]}
    promoter = resolve(scn, "nps_promoter_share", acc.size, cols, horizon, t)
    detractor = resolve(scn, "nps_detractor_share", acc.size, cols, horizon, t)
    u = rng.random(acc.size)
    score = np.where(
        u < promoter,
        rng.integers(9, 11, acc.size),
        np.where(
            u < promoter + detractor,
            rng.choice(7, acc.size, p=_DETRACTOR_MIX),
            rng.integers(7, 9, acc.size),
        ),
    )
    c_acc, c_t = _events(scn, rng, life, "complaints_per_month", horizon)
    kind = np.concatenate([np.full(acc.size, "NPS"), np.full(c_acc.size, "COMPLAINT")])
    account = np.concatenate([acc, c_acc])
    when = np.concatenate([t, c_t])
    scores = np.concatenate([score, np.full(c_acc.size, -1)])
    order = np.lexsort((kind, account, when))
    return {
        "account": account[order],
        "kind": kind[order],
        "score": scores[order],
        "created": when[order],
    }


# Detractors mostly answer 5-6, rarely 0.
_DETRACTOR_MIX = np.array([0.04, 0.03, 0.05, 0.08, 0.12, 0.28, 0.40])


def health(
    scn: Scenario, rng: np.random.Generator, life: Lifecycles, state: IntArray, horizon: float
) -> FloatArray:
    """The account service's score today: a band per state, shifted by effects."""
    n = state.size
    ranges = {s: (lo, hi) for s, lo, hi in scn.health}
    low = np.array([ranges[s][0] for s in STATES])[state]
    high = np.array([ranges[s][1] for s in STATES])[state]
    cols = {"region": life.region, "segment": life.segment}
    shift = resolve(scn, "health_shift", n, cols, horizon, base=0.0)
    return np.round(np.clip(low + rng.random(n) * (high - low) + shift, 0.0, 100.0), 1)
