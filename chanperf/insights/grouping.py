"""One insight per cause: cuts that move with their parent become its drill-down.

A detector that measures the same thing at several scopes (a KPI's drift for the
channel and for each region and segment; time in a state for the channel and per
region) makes the rules fire at every scope a channel-wide change reaches. Here each
cut is tested against the rest of its parent (its change against the change of
everything else in the parent; Holm, or the configured correction, over one parent's
cuts), as ThirdEye and Chaos Genius show a top-level anomaly with its dimension
drill-down. A cut that moves the parent's way without differing leaves the insight
list and is listed under the parent's `evidence.drilldown`; a cut that differs (by
default: went further than the rest of the parent) stays an insight of its own.

Which scopes nest, the level and the correction are in `rules/analysis/grouping.yaml`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from chanperf.analysis.findings import Finding
from chanperf.core.errors import ValidationError
from chanperf.core.yaml_positions import read_yaml, schema_problems
from chanperf.insights.drafts import InsightDraft

CONFIG_FILE = Path("analysis") / "grouping.yaml"
SCHEMA = "grouping.v1.json"
# The finding fields that name a cut; the rest of a finding's identity is its kind,
# its filters without these, and the IDENTITY fields.
DIMENSIONS = ("region", "segment")
# Fields that tell apart two measurements of one kind over the same scope.
IDENTITY = ("metric", "signal", "state", "to_state", "policy", "parameter")
Z95 = float(sps.norm.ppf(0.975))


@dataclass(frozen=True)
class Nest:
    parent: tuple[str, ...]  # dimensions of the parent scope, () = the channel
    child: str  # the dimension a cut adds


@dataclass(frozen=True)
class GroupingConfig:
    alpha: float = 0.05
    correction: str = "holm"
    keep_separate: str = "further"  # or "any"
    nests: tuple[Nest, ...] = ()


def load_grouping_config(rules_dir: Path | str) -> GroupingConfig:
    """Read `<rules_dir>/analysis/grouping.yaml`; no file means no grouping."""
    path = Path(rules_dir) / CONFIG_FILE
    if not path.is_file():
        return GroupingConfig()
    doc, problems = read_yaml(path)
    if doc is not None and not problems:
        problems = schema_problems(doc, doc.data, SCHEMA)
        nests = doc.data.get("nest") or [] if isinstance(doc.data, dict) else []
        for i, nest in enumerate(nests):
            if isinstance(nest, dict) and nest.get("child") in (nest.get("parent") or []):
                problems.append(doc.problem(["nest", i, "child"], "child is already in parent"))
    if problems or doc is None:
        raise ValidationError(problems, summary=f"{path}: invalid grouping configuration")
    data = doc.data
    return GroupingConfig(
        alpha=float(data["alpha"]),
        correction=str(data.get("correction", "holm")),
        keep_separate=str(data.get("keep_separate", "further")),
        nests=tuple(Nest(tuple(n["parent"]), str(n["child"])) for n in data["nest"]),
    )


Scope = tuple[tuple[str, str], ...]  # ((dimension, value), ...) in DIMENSIONS order


def scope_of(finding: Finding) -> Scope:
    return tuple(
        (d, str(getattr(finding, d))) for d in DIMENSIONS if getattr(finding, d) is not None
    )


def identity_of(finding: Finding) -> tuple[Any, ...]:
    """What a finding measures, whatever its scope."""
    filters = tuple(sorted((k, v) for k, v in finding.filters.items() if k not in DIMENSIONS))
    named = tuple((f, getattr(finding, f, None)) for f in IDENTITY)
    return (finding.kind, filters, named)


@dataclass(frozen=True)
class Heterogeneity:
    """A cut against the rest of its parent: the difference of their effects and its test."""

    difference: float  # cut's effect − rest's effect (the findings' units)
    p_value: float
    method: str


# Where two-proportion findings keep their numerators: (x_a, x_b) names in `extra`, or
# a field of the finding for x_b.
COUNT_KEYS = (
    ("x_a", "x_b"),  # metric drift
    ("baseline_transitions", "recent_transitions"),  # state transition rates
    ("baseline_at_risk_count", "at_risk_count"),  # churn risk
)


def _counts(f: Finding) -> tuple[int, int, int, int] | None:
    """(x_a, n_a, x_b, n_b) of a two-proportion finding, when its evidence has the counts."""
    if f.n_a is None or f.n_b is None:
        return None
    for xa, xb in COUNT_KEYS:
        x_a, x_b = f.extra.get(xa), f.extra.get(xb, getattr(f, xb, None))
        if isinstance(x_a, int) and isinstance(x_b, int):
            return x_a, int(f.n_a), x_b, int(f.n_b)
    return None


def _nps(f: Finding) -> tuple[int, int, int, int, int, int] | None:
    """(promoters_a, detractors_a, n_a, promoters_b, detractors_b, n_b) of an NPS drift."""
    keys = ("promoters_a", "detractors_a", "promoters_b", "detractors_b")
    if f.extra.get("test") != "z_test_nps_difference" or f.n_a is None or f.n_b is None:
        return None
    p_a, d_a, p_b, d_b = (int(f.extra[k]) for k in keys)
    return p_a, d_a, int(f.n_a), p_b, d_b, int(f.n_b)


def _z_p(difference: float, variance: float) -> float:
    if variance <= 0:
        return 1.0 if difference == 0 else 0.0
    return float(2 * sps.norm.sf(abs(difference) / math.sqrt(variance)))


def _proportion_change(x_a: int, n_a: int, x_b: int, n_b: int) -> tuple[float, float]:
    """Change of a rate, b − a, and its Wald variance."""
    p_a, p_b = x_a / n_a, x_b / n_b
    return p_b - p_a, p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b


def _nps_change(p_a: int, d_a: int, n_a: int, p_b: int, d_b: int, n_b: int) -> tuple[float, float]:
    """Change of NPS, b − a, in points, and its variance (an answer scores +1, 0 or −1)."""

    def side(p: int, d: int, n: int) -> tuple[float, float]:
        score = (p - d) / n
        return score, ((p + d) / n - score**2) / n

    s_a, v_a = side(p_a, d_a, n_a)
    s_b, v_b = side(p_b, d_b, n_b)
    return 100 * (s_b - s_a), 100**2 * (v_a + v_b)


def heterogeneity(cut: Finding, parent: Finding) -> Heterogeneity | None:
    """Test the cut's effect against the effect of the rest of the parent (parent − cut).

    With counts in the evidence (two proportions, NPS) the rest is rebuilt by subtraction
    and the two changes compared with a z test of their difference. Otherwise the
    effects and their 95 % CIs are compared: the parent's estimate contains the cut's
    with weight w = n_cut / n_parent, so Var(cut − parent) = se_c² + se_p² − 2·w·se_c²,
    and cut − parent = (1 − w)·(cut − rest) has the sign and the z of cut − rest.
    None when neither is possible (no CI, no sample).
    """
    for extract, change in ((_nps, _nps_change), (_counts, _proportion_change)):
        c, p = extract(cut), extract(parent)
        if c is None or p is None:
            continue
        rest = tuple(pv - cv for pv, cv in zip(p, c, strict=True))
        sizes = rest[2::3] if extract is _nps else rest[1::2]
        if min(rest) < 0 or min(sizes) <= 0:
            break  # the parent does not contain the cut: compare the estimates instead
        e_c, v_c = change(*c)
        e_r, v_r = change(*rest)
        return Heterogeneity(e_c - e_r, _z_p(e_c - e_r, v_c + v_r), "z_test_cut_vs_rest")
    return _from_intervals(cut, parent)


def _from_intervals(cut: Finding, parent: Finding) -> Heterogeneity | None:
    values = (cut.effect, cut.ci_low, cut.ci_high, parent.effect, parent.ci_low, parent.ci_high)
    if any(v is None for v in values) or not cut.n or not parent.n:
        return None
    se_c = (float(cut.ci_high) - float(cut.ci_low)) / (2 * Z95)  # type: ignore[arg-type]
    se_p = (float(parent.ci_high) - float(parent.ci_low)) / (2 * Z95)  # type: ignore[arg-type]
    w = cut.n / parent.n
    if w >= 1.0:
        return None  # the cut is the whole parent: nothing else to compare with
    # the variance cannot be below the cut's own share of it (rounded CIs, odd intervals)
    variance = max(se_c**2 + se_p**2 - 2 * w * se_c**2, (1 - w) ** 2 * se_c**2)
    diff = float(cut.effect) - float(parent.effect)  # type: ignore[arg-type]
    # reported against the rest of the parent, in the findings' units
    return Heterogeneity(diff / (1 - w), _z_p(diff, variance), "z_test_cut_vs_parent_ci")


def group_drafts(
    drafts: Sequence[InsightDraft], findings: Sequence[Finding], config: GroupingConfig
) -> list[InsightDraft]:
    """Fold each parent insight's cuts that move with it into its `evidence.drilldown`.

    Every cut the detectors measured under a parent insight is listed (whether a rule
    fired for it or not) with its heterogeneity test; an insight of a cut leaves the
    list when it moves the parent's way without differing. Parents are resolved from
    the deepest scope up, so a segment folded into its region travels with the region
    into the channel's drill-down.
    """
    if not config.nests:
        return list(drafts)
    by_scope: dict[tuple[Any, Scope], Finding] = {}
    for f in findings:
        by_scope.setdefault((identity_of(f), scope_of(f)), f)
    current: dict[int, InsightDraft] = dict(enumerate(drafts))
    index = {
        (d.rule_id, identity_of(d.finding), scope_of(d.finding)): i for i, d in current.items()
    }
    removed: set[int] = set()
    for i in sorted(current, key=lambda i: -len(scope_of(current[i].finding))):
        if i in removed:
            continue
        parent = current[i]
        ident, scope = identity_of(parent.finding), scope_of(parent.finding)
        cuts = _cuts(parent.finding, ident, scope, by_scope, config)
        if not cuts:
            continue
        tests = [heterogeneity(cut, parent.finding) for _, cut in cuts]
        adjusted = _adjust([t.p_value if t else None for t in tests], config)
        entries: list[dict[str, Any]] = []
        for (dimension, cut), test, p_adj in zip(cuts, tests, adjusted, strict=True):
            differs = p_adj is not None and p_adj < config.alpha
            entry = _entry(dimension, cut, test, p_adj, differs)
            j = index.get((parent.rule_id, ident, scope_of(cut)))
            own = j is not None and j not in removed
            if own and j is not None and _folds(parent.finding, cut, test, differs, config):
                removed.add(j)
                own = False
                if "drilldown" in current[j].evidence:
                    entry["drilldown"] = current[j].evidence["drilldown"]
            entry["own_insight"] = own
            entries.append(entry)
        current[i] = dataclasses.replace(parent, evidence={**parent.evidence, "drilldown": entries})
    return [d for i, d in sorted(current.items()) if i not in removed]


def _cuts(
    parent: Finding,
    ident: tuple[Any, ...],
    scope: Scope,
    by_scope: Mapping[tuple[Any, Scope], Finding],
    config: GroupingConfig,
) -> list[tuple[str, Finding]]:
    dims = tuple(d for d, _ in scope)
    out: list[tuple[str, Finding]] = []
    for nest in config.nests:
        if set(nest.parent) != set(dims):
            continue
        for (f_ident, f_scope), f in sorted(by_scope.items(), key=lambda kv: kv[0][1]):
            if f_ident != ident or {d for d, _ in f_scope} != {*dims, nest.child}:
                continue
            if all(pair in f_scope for pair in scope) and f is not parent:
                out.append((nest.child, f))
    return out


def _adjust(p_values: list[float | None], config: GroupingConfig) -> list[float | None]:
    tested = [p for p in p_values if p is not None]
    if not tested:
        return list(p_values)
    adjusted = iter(float(v) for v in multipletests(tested, method=config.correction)[1])
    return [None if p is None else next(adjusted) for p in p_values]


def _folds(
    parent: Finding, cut: Finding, test: Heterogeneity | None, differs: bool, config: GroupingConfig
) -> bool:
    """Whether the cut's own insight is explained by the parent's."""
    if test is None or parent.effect is None or cut.effect is None:
        return False  # untested: not known to move with the parent
    if math.copysign(1, cut.effect) != math.copysign(1, parent.effect) or cut.effect == 0:
        return False  # moved the other way: another cause
    if not differs:
        return True
    further = test.difference * parent.effect > 0
    return config.keep_separate == "further" and not further


def _entry(
    dimension: str, cut: Finding, test: Heterogeneity | None, p_adj: float | None, differs: bool
) -> dict[str, Any]:
    return {
        "dimension": dimension,
        "value": str(getattr(cut, dimension)),
        "rate_a": cut.rate_a,
        "rate_b": cut.rate_b,
        "n_a": cut.n_a,
        "n_b": cut.n_b,
        "effect": cut.effect,
        "p_value": cut.p_value,
        "differs": differs,
        "difference_vs_rest": None if test is None else test.difference,
        "heterogeneity_p": None if test is None else test.p_value,
        "heterogeneity_p_adj": p_adj,
        "heterogeneity_test": None if test is None else test.method,
    }
