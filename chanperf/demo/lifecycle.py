"""Account lifecycles: creation, onboarding, activity, stalls, reactivations, churn.

Times are float days since the start of the history; `horizon` is the end (as_of's
last moment). An event drawn at or after the horizon has not happened yet, which
is how censoring (IN_PROGRESS, PENDING, still ACTIVE) arises naturally.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from chanperf.demo.sampling import (
    DAYS_PER_MONTH,
    FloatArray,
    choose,
    choose_fixed,
    matches,
    piecewise_exponential,
    resolve,
    truncated_lognormal,
    window_starts,
)
from chanperf.demo.scenario import Scenario

IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]
STATES = ("NEW", "ACTIVATING", "ACTIVE", "AT_RISK", "STALLED", "CHURNED")
NEW, ACTIVATING, ACTIVE, AT_RISK, STALLED, CHURNED = range(6)
NO_STATE = -1
MAX_CYCLES = 6  # stall/win-back rounds per account; the 7th is beyond an 18-month history
DECLINE_DAYS = 45.0  # orders thin out this long before an account is flagged AT_RISK


@dataclass
class Lifecycles:
    region: StrArray
    segment: StrArray
    created: FloatArray
    # transitions: account index, from, to, time
    tr: list[tuple[IntArray, IntArray, IntArray, FloatArray]] = field(default_factory=list)
    onboardings: dict[str, np.ndarray] = field(default_factory=dict)
    reactivations: list[dict[str, np.ndarray]] = field(default_factory=list)
    # active intervals: account index, start, end, time from which orders decline
    active: list[tuple[IntArray, FloatArray, FloatArray, FloatArray]] = field(default_factory=list)

    def add(self, idx: IntArray, frm: int | IntArray, to: int, t: FloatArray) -> None:
        self.tr.append((idx, np.broadcast_to(np.asarray(frm), idx.shape).astype(np.int64),
                        np.full(idx.size, to, dtype=np.int64), t))  # fmt: skip


def simulate(scn: Scenario, rng: np.random.Generator, n: int, horizon: float) -> Lifecycles:
    created = _creation_times(rng, n, horizon)
    region, segment = _regions_segments(scn, rng, created, horizon)
    life = Lifecycles(region=region, segment=segment, created=created)
    idx = np.arange(n, dtype=np.int64)
    life.add(idx, NO_STATE, NEW, created)
    active_idx, active_t = _onboard(scn, rng, life, horizon)
    _cycles(scn, rng, life, active_idx, active_t, horizon)
    return life


def _creation_times(rng: np.random.Generator, n: int, horizon: float) -> FloatArray:
    # A growing channel: registrations rise over the history (density ~ t^0.25).
    return np.sort(horizon * rng.power(1.25, n) * 0.999)


def _regions_segments(
    scn: Scenario, rng: np.random.Generator, created: FloatArray, horizon: float
) -> tuple[StrArray, StrArray]:
    n = created.size
    region_w = np.column_stack([
        resolve(scn, "account_weight", n, {"region": np.full(n, r.code)}, horizon, created, r.weight)
        for r in scn.regions
    ])  # fmt: skip
    segment_w = np.column_stack([
        resolve(scn, "account_weight", n, {"segment": np.full(n, s)}, horizon, created, w)
        for s, w in scn.segments
    ])  # fmt: skip
    regions = np.array([r.code for r in scn.regions])
    segments = np.array([s for s, _ in scn.segments])
    return regions[choose(rng, region_w)], segments[choose(rng, segment_w)]


def _onboard(
    scn: Scenario, rng: np.random.Generator, life: Lifecycles, horizon: float
) -> tuple[IntArray, FloatArray]:
    n = life.created.size
    # NEW lasts hours to a few days (under the states policy's NEW limit).
    started = life.created + rng.uniform(0.1, 5.0, n)
    has = started < horizon
    idx = np.flatnonzero(has).astype(np.int64)
    started = started[has]
    region, segment = life.region[idx], life.segment[idx]
    kit = np.empty(idx.size, dtype=object)
    default_codes = np.array([k for k, _ in scn.kits])
    for r in scn.regions:
        m = region == r.code
        mix = r.kits or scn.kits
        codes = np.array([k for k, _ in mix]) if r.kits else default_codes
        kit[m] = codes[choose_fixed(rng, int(m.sum()), [w for _, w in mix])]
    kit = kit.astype(str)
    life.add(idx, NEW, ACTIVATING, started)

    cols = {"region": region, "segment": segment, "kit": kit}
    m = idx.size

    def val(p: str) -> FloatArray:
        return resolve(scn, p, m, cols, horizon, started)

    window = scn.rate("activation_window_days")
    act, fail = val("activation_rate"), val("failure_rate")
    u = rng.random(m)
    in_window = truncated_lognormal(
        rng, val("activation_days_median"), val("activation_days_sigma"), 0.3, window - 0.01
    )
    fail_days = 2.0 + rng.random(m) * np.maximum(val("fail_days_max") - 2.0, 0.0)
    late_days = (
        window + 0.01 + rng.random(m) * np.maximum(val("late_days_max") - window - 0.01, 0.01)
    )
    outcome = np.where(u < act, 0, np.where(u < act + fail, 1, 2))
    days = np.choose(outcome, [in_window, fail_days, late_days])
    finished = started + days
    censored = finished >= horizon
    status = np.where(censored, "IN_PROGRESS", np.where(outcome == 1, "FAILED", "COMPLETED"))
    done = ~censored
    completed = done & (outcome != 1)
    failed = done & (outcome == 1)
    life.onboardings = {
        "account": idx, "kit": kit, "started": started, "status": status,
        "completed": np.where(completed, finished, np.nan), "failed": np.where(failed, finished, np.nan),
    }  # fmt: skip
    life.add(idx[failed], ACTIVATING, CHURNED, finished[failed])
    life.add(idx[completed], ACTIVATING, ACTIVE, finished[completed])
    return idx[completed], finished[completed]


def _cycles(
    scn: Scenario,
    rng: np.random.Generator,
    life: Lifecycles,
    idx: IntArray,
    t0: FloatArray,
    horizon: float,
) -> None:
    post_win = np.zeros(idx.size, dtype=bool)
    relapse = np.zeros(idx.size, dtype=bool)
    reinc_window = scn.rate("reincidence_window_days")
    hazard_starts = window_starts(scn, "stall_rate_monthly", horizon)
    for cycle in range(MAX_CYCLES + 1):
        if idx.size == 0:
            return
        n = idx.size
        cols = {"region": life.region[idx], "segment": life.segment[idx]}
        if cycle == MAX_CYCLES:
            life.active.append((idx, t0, np.full(n, horizon), np.full(n, np.inf)))
            return

        def hazard(at: FloatArray, cols: dict[str, StrArray] = cols, n: int = n) -> FloatArray:
            return resolve(scn, "stall_rate_monthly", n, cols, horizon, at) / DAYS_PER_MONTH

        # A won account that does not relapse stays active past the reincidence window.
        begin = np.where(post_win, t0 + reinc_window + 1.0, t0)
        rates = {b: hazard(np.full(n, b)) for b in hazard_starts}
        weak = piecewise_exponential(rng, begin, rates, hazard_starts, hazard(begin))
        relapse_at = t0 + rng.uniform(15.0, reinc_window - 5.0, n)
        at_risk = np.where(relapse, np.inf, weak)
        at_risk_days = resolve(scn, "at_risk_days_max", n, cols, horizon, weak)
        stalled = np.where(relapse, relapse_at, weak + 10.0 + rng.random(n) * (at_risk_days - 10.0))
        active_end = np.minimum(np.minimum(at_risk, stalled), horizon)
        life.active.append((idx, t0, active_end, np.where(relapse, np.inf, at_risk - DECLINE_DAYS)))
        m = at_risk < horizon
        life.add(idx[m], ACTIVE, AT_RISK, at_risk[m])
        m = stalled < horizon
        life.add(idx[m], np.where(relapse[m], ACTIVE, AT_RISK), STALLED, stalled[m])
        idx, stalled, cols = idx[m], stalled[m], {k: v[m] for k, v in cols.items()}
        idx, t0, relapse = _stalled(scn, rng, life, idx, stalled, cols, horizon)
        post_win = np.ones(idx.size, dtype=bool)


def _stalled(
    scn: Scenario, rng: np.random.Generator, life: Lifecycles, idx: IntArray, stalled: FloatArray,
    cols: dict[str, StrArray], horizon: float,
) -> tuple[IntArray, FloatArray, npt.NDArray[np.bool_]]:  # fmt: skip
    """Each stalled account is either left to churn or gets one reactivation attempt."""
    n = idx.size

    def val(p: str, at: FloatArray, c: dict[str, np.ndarray] = cols) -> FloatArray:
        return resolve(scn, p, n, c, horizon, at)

    attempted = rng.random(n) < val("reactivation_attempt_rate", stalled)
    lo, hi = val("stalled_days_min", stalled), val("stalled_days_max", stalled)
    churn_at = stalled + lo + rng.random(n) * np.maximum(hi - lo, 0.0)
    m = ~attempted & (churn_at < horizon)
    life.add(idx[m], STALLED, CHURNED, churn_at[m])

    started = stalled + rng.uniform(2.0, 25.0, n)
    go = attempted & (started < horizon)
    idx, started, cols = idx[go], started[go], {k: v[go] for k, v in cols.items()}
    n = idx.size
    weights = np.column_stack([
        resolve(scn, "strategy_weight", n, {**cols, "strategy": np.full(n, s.code)}, horizon, started, s.weight)
        for s in scn.strategies
    ])  # fmt: skip
    pick = choose(rng, weights)
    strategy = np.array([s.code for s in scn.strategies])[pick]
    discount = _discounts(scn, rng, strategy, cols, started, horizon)
    rcols = {**cols, "strategy": strategy, "discount": discount}
    won = rng.random(n) < val("win_rate", started, rcols)
    resolved = started + 3.0 + rng.random(n) * (val("resolve_days_max", started, rcols) - 3.0)
    pending = resolved >= horizon
    status = np.where(pending, "PENDING", np.where(won, "WON", "LOST"))
    cost_base = np.array([s.cost for s in scn.strategies])[pick]
    life.reactivations.append({
        "account": idx, "strategy": strategy, "discount": discount,
        "cost": np.round(cost_base + discount / 100.0 * scn.reactivation_ticket, 2),
        "started": started, "status": status, "resolved": np.where(pending, np.nan, resolved),
    })  # fmt: skip
    lost = ~pending & ~won
    life.add(idx[lost], STALLED, CHURNED, resolved[lost])
    win = ~pending & won
    life.add(idx[win], STALLED, ACTIVE, resolved[win])
    relapse = rng.random(n) < val("reincidence_rate", started, rcols)
    return idx[win], resolved[win], relapse[win]


def _discounts(
    scn: Scenario, rng: np.random.Generator, strategy: StrArray, cols: dict[str, StrArray],
    started: FloatArray, horizon: float,
) -> FloatArray:  # fmt: skip
    """Discount per attempt from its strategy's buckets (the last matching effect wins)."""

    n = strategy.size
    out = np.zeros(n)
    for s in scn.strategies:
        choices = [(np.full(n, True), s.discount_buckets)]
        c = {**cols, "strategy": strategy}
        for where, value in scn.effects_for("discount_buckets"):
            if where.strategy == s.code:
                choices.append((matches(where, c, started, horizon, n), value))  # type: ignore[arg-type]
        owner = np.full(n, -1)
        for i, (mask, _) in enumerate(choices):
            owner[mask & (strategy == s.code)] = i
        for i, (_, buckets) in enumerate(choices):
            rows = np.flatnonzero(owner == i)
            if rows.size == 0 or not buckets:
                continue
            b = choose_fixed(rng, rows.size, [x.weight for x in buckets])
            low = np.array([x.low for x in buckets])[b]
            high = np.array([x.high for x in buckets])[b]
            out[rows] = np.round(low + rng.random(rows.size) * (high - low), 2)
    return out
