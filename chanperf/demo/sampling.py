"""Vectorised helpers: per-event parameter values from base rates and effects, and draws."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from chanperf.demo.scenario import Scenario, Where

FloatArray = npt.NDArray[np.float64]
Columns = Mapping[str, Any]  # arrays, or Codes
DAYS_PER_MONTH = 30.4375


class Codes:
    """A text column as small integer codes into its labels: an order line's region, segment
    and SKU as one byte each instead of a unicode string (a 100k-account channel has over a
    million lines)."""

    def __init__(self, codes: npt.NDArray[np.integer[Any]], labels: Sequence[str]) -> None:
        self.codes = codes
        self.labels = np.asarray(labels)
        self._index = {str(label): i for i, label in enumerate(labels)}

    @classmethod
    def of(cls, values: npt.NDArray[Any]) -> Codes:
        labels, codes = np.unique(values, return_inverse=True)
        return cls(codes.astype(np.int16), [str(v) for v in labels])

    def __len__(self) -> int:
        return int(self.codes.size)

    def take(self, rows: npt.NDArray[np.integer[Any]]) -> Codes:
        return Codes(self.codes[rows], self.labels.tolist())

    def equals(self, value: str) -> npt.NDArray[np.bool_]:
        code = self._index.get(str(value))
        return np.zeros(self.codes.size, dtype=bool) if code is None else self.codes == code

    def values(self) -> npt.NDArray[Any]:
        return self.labels[self.codes]


def matches(
    where: Where, cols: Columns, t: FloatArray | None, horizon: float, n: int
) -> npt.NDArray[np.bool_]:
    """Which events an effect's filter selects; a field the events lack selects none."""
    mask = np.ones(n, dtype=bool)
    for name in ("region", "segment", "kit", "strategy", "sku"):
        value = getattr(where, name)
        if value is not None:
            if name not in cols:
                return np.zeros(n, dtype=bool)
            column = cols[name]
            mask &= column.equals(value) if isinstance(column, Codes) else column == value
    if where.discount_gt is not None:
        mask &= cols["discount"] > where.discount_gt
    if where.discount_lte is not None:
        mask &= cols["discount"] <= where.discount_lte
    if where.last_days is not None:
        if t is None:
            return np.zeros(n, dtype=bool)
        mask &= t >= horizon - where.last_days
    return mask


def resolve(
    scn: Scenario, param: str, n: int, cols: Columns, horizon: float,
    t: FloatArray | None = None, base: float | None = None,
) -> FloatArray:  # fmt: skip
    """The value of `param` for each of n events: the base rate, then each effect in file order."""
    start = base if base is not None else scn.rate(param)
    out = np.full(n, start, dtype=float)
    for where, value in scn.effects_for(param):
        out[matches(where, cols, t, horizon, n)] = float(value)  # type: ignore[arg-type]
    return out


def upper_bound(scn: Scenario, param: str, base: float | None = None) -> float:
    """Largest value `param` can take: the rate to draw at before thinning by time."""
    values = [base if base is not None else scn.rate(param)]
    values += [float(v) for _, v in scn.effects_for(param)]  # type: ignore[arg-type]
    return max(values)


def window_starts(scn: Scenario, param: str, horizon: float) -> list[float]:
    """Times where a time-windowed effect on `param` switches on, in order."""
    return sorted(
        {horizon - w.last_days for w, _ in scn.effects_for(param) if w.last_days is not None}
    )


def choose(rng: np.random.Generator, weights: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """One index per row of an (n, k) weight matrix, drawn with those weights."""
    cum = np.cumsum(weights, axis=1)
    cum /= cum[:, -1:]
    u = rng.random((weights.shape[0], 1))
    return np.minimum((u > cum).sum(axis=1), weights.shape[1] - 1).astype(np.int64)


def choose_fixed(
    rng: np.random.Generator, n: int, weights: Sequence[float]
) -> npt.NDArray[np.int64]:
    w = np.asarray(weights, dtype=float)
    return rng.choice(len(w), size=n, p=w / w.sum()).astype(np.int64)


def truncated_lognormal(
    rng: np.random.Generator, median: FloatArray, sigma: FloatArray, low: float, high: float
) -> FloatArray:
    """Log-normal days kept within [low, high] by redrawing (the tails are thin, so few loops)."""
    out = median * np.exp(sigma * rng.standard_normal(median.size))
    for _ in range(50):
        bad = (out < low) | (out > high)
        if not bad.any():
            break
        out[bad] = median[bad] * np.exp(sigma[bad] * rng.standard_normal(int(bad.sum())))
    return np.clip(out, low, high)


def piecewise_exponential(
    rng: np.random.Generator, begin: FloatArray, rate_at: dict[float, FloatArray],
    starts: list[float], first: FloatArray,
) -> FloatArray:  # fmt: skip
    """Event times with a hazard that changes at `starts` (memorylessness lets us redraw)."""
    t = begin + rng.exponential(size=begin.size) / np.maximum(first, 1e-12)
    for b in starts:
        redo = (begin < b) & (t > b)
        t[redo] = b + rng.exponential(size=int(redo.sum())) / np.maximum(rate_at[b][redo], 1e-12)
    return t
