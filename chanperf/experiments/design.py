"""Experiment design shared by proposals and the results job: config, assignment, power.

`assign_arm` is the contract other services implement (docs/experiments.md): an
account's arm depends only on its id, the experiment key and the arm shares, so
the onboarding or reactivation service can compute it without calling chanperf.
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from chanperf.analysis.detectors.cohorts import onboarding_cohort, reactivation_cohort
from chanperf.core.errors import Problem, ValidationError
from chanperf.core.periods import DAY_SECONDS
from chanperf.core.yaml_positions import read_yaml
from chanperf.experiments.leading import LeadingStats, measure_leading
from chanperf.experiments.sequential import SPENDING_FUNCTIONS

CONFIG_FILE = Path("analysis") / "experiments.yaml"


def assign_arm(
    account_id: int | str, experiment_key: str, arms_with_shares: Sequence[tuple[str, float]]
) -> str:
    """The arm of `account_id`: first 8 bytes of SHA-256 of "key:id", big-endian, / 2**64.

    The point u in [0, 1) falls into the arm whose cumulative share first exceeds it
    (arms in the order given). Shares are normalised so rounding never leaves a gap.
    """
    if not arms_with_shares:
        raise ValueError("an experiment needs at least one arm")
    digest = hashlib.sha256(f"{experiment_key}:{account_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    total = float(sum(share for _, share in arms_with_shares))
    cumulative = 0.0
    for name, share in arms_with_shares:
        cumulative += share / total
        if u < cumulative:
            return name
    return arms_with_shares[-1][0]  # u within float rounding of 1.0


def sample_size_per_arm(
    p_control: float, p_treatment: float, alpha: float, power: float, ratio: float = 1.0
) -> int:
    """Accounts per arm (control arm; treatment = ratio x) for a two-sided test, Cohen's h."""
    h = abs(float(proportion_effectsize(p_treatment, p_control)))
    if h == 0:
        raise ValueError("no effect to detect: both rates are equal")
    n = NormalIndPower().solve_power(
        effect_size=h, alpha=alpha, power=power, ratio=ratio, alternative="two-sided"
    )
    return math.ceil(float(n))


@dataclass(frozen=True)
class Guardrail:
    metric: str
    direction: str  # "increase" or "decrease": which way is better


@dataclass(frozen=True)
class MoneyFigure:
    """Where a proposal's money a month comes from: a finding field, and its pt-BR name."""

    field: str
    label: str
    direction: str  # decrease: the change saves it; increase: the change brings it


@dataclass(frozen=True)
class LeadingMetric:
    """The primary metric read after a shorter window (30-day relapse for 90-day reincidence)."""

    window_days: int
    label: str


@dataclass(frozen=True)
class ParameterPlan:
    """How a change of one parameter is measured (one entry of `parameters:`)."""

    pattern: str
    metric: str
    label: str
    direction: str
    source: str
    filters: tuple[str, ...]
    control_rate: str
    treatment_rate: str
    affected: str | None
    maturation: str | None
    guardrails: tuple[Guardrail, ...]
    risks: tuple[str, ...]
    money: MoneyFigure | None = None
    leading: LeadingMetric | None = None


@dataclass(frozen=True)
class SequentialConfig:
    looks: int
    spending: str

    @property
    def fractions(self) -> tuple[float, ...]:
        """Information fractions of the looks: equal shares of the planned sample."""
        return tuple((k + 1) / self.looks for k in range(self.looks))


@dataclass(frozen=True)
class RolloutConfig:
    treated_share: float
    pre_weeks: int


@dataclass(frozen=True)
class ExperimentConfig:
    alpha: float
    power: float
    arms: tuple[tuple[str, float], ...]
    mde_fraction_of_expected: float
    mde_min_absolute: float
    volume_weeks: int
    interim_fraction: float
    harm_alpha: float
    srm_p_threshold: float
    risk_high_share: float
    risk_medium_share: float
    parameters: tuple[ParameterPlan, ...] = field(default_factory=tuple)
    max_duration_weeks: int = 12
    max_plannable_weeks: int = 104
    mde_horizons_weeks: tuple[int, ...] = (4, 8, 12, 26)
    treatment_shares: tuple[float, ...] = ()
    sequential: SequentialConfig | None = None
    leading_min_capture: float = 1.0
    rollout: RolloutConfig | None = None

    def for_parameter(self, address: str) -> ParameterPlan | None:
        """The entry whose pattern matches `policy.path` (`*` is one path segment)."""
        parts = address.split(".")
        for plan in self.parameters:
            pattern = plan.pattern.split(".")
            if len(pattern) == len(parts) and all(
                fnmatch.fnmatchcase(part, pat) for part, pat in zip(parts, pattern, strict=True)
            ):
                return plan
        return None


SOURCES = ("onboardings", "reactivations")
METRICS = ("activation_rate", "failure_rate", "reincidence_rate", "win_rate", "detractor_rate")
AFFECTED = ("kit_eq_current", "discount_gt_proposed")
DIRECTIONS = ("increase", "decrease")


def load_experiment_config(rules_dir: Path | str) -> ExperimentConfig:
    """Read `<rules_dir>/analysis/experiments.yaml`; every problem is reported with its line."""
    path = Path(rules_dir) / CONFIG_FILE
    doc, problems = read_yaml(path)
    if doc is None or problems:
        raise ValidationError(problems or [Problem(str(path), "cannot read")])
    data = doc.data if isinstance(doc.data, dict) else {}
    found: list[Problem] = []

    def need(key: str, kind: type | tuple[type, ...], at: tuple[str | int, ...] = ()) -> Any:
        node: Any = data
        for step in at:
            node = node[step]
        value = node.get(key) if isinstance(node, dict) else None
        if not isinstance(value, kind) or isinstance(value, bool):
            found.append(doc.problem([*at, key], f"{key}: missing or not {kind}"))
        return value

    def choice(value: Any, allowed: Sequence[str], at: list[str | int]) -> None:
        if value not in allowed:
            found.append(doc.problem(at, f"{value!r} is not one of {', '.join(allowed)}"))

    arms = tuple((str(a["name"]), float(a["share"])) for a in data.get("arms") or [])
    if not arms or abs(sum(s for _, s in arms) - 1.0) > 1e-9:
        found.append(doc.problem(["arms"], "arms: shares must add up to 1"))
    plans: list[ParameterPlan] = []
    for pattern, entry in (data.get("parameters") or {}).items():
        at: tuple[str, ...] = ("parameters", pattern)
        metric, direction = need("metric", str, at), need("direction", str, at)
        population = need("population", dict, at) or {}
        choice(metric, METRICS, [*at, "metric"])
        choice(direction, DIRECTIONS, [*at, "direction"])
        choice(population.get("source"), SOURCES, [*at, "population", "source"])
        if entry.get("affected") is not None:
            choice(entry["affected"], AFFECTED, [*at, "affected"])
        guardrails = tuple(
            Guardrail(str(g.get("metric")), str(g.get("direction")))
            for g in entry.get("guardrails") or []
        )
        for i, g in enumerate(guardrails):
            choice(g.metric, METRICS, [*at, "guardrails", i, "metric"])
            choice(g.direction, DIRECTIONS, [*at, "guardrails", i, "direction"])
        label = need("label", str, at)
        money = None
        if entry.get("money") is not None:
            money_at = (*at, "money")
            field_name, money_label = need("field", str, money_at), need("label", str, money_at)
            money_direction = need("direction", str, money_at)
            choice(money_direction, DIRECTIONS, [*money_at, "direction"])
            money = MoneyFigure(str(field_name), str(money_label), str(money_direction))
        leading = None
        if entry.get("leading") is not None:
            lead_at = (*at, "leading")
            window, lead_label = need("window_days", int, lead_at), need("label", str, lead_at)
            if isinstance(window, int) and window <= 0:
                found.append(doc.problem([*lead_at, "window_days"], "window_days: must be > 0"))
            leading = LeadingMetric(int(window or 0), str(lead_label))
        plans.append(
            ParameterPlan(
                pattern=str(pattern),
                metric=str(metric),
                label=str(label),
                direction=str(direction),
                source=str(population.get("source")),
                filters=tuple(str(f) for f in population.get("filters") or ()),
                control_rate=str(need("control_rate", str, at)),
                treatment_rate=str(need("treatment_rate", str, at)),
                affected=entry.get("affected"),
                maturation=entry.get("maturation"),
                guardrails=guardrails,
                risks=tuple(str(r) for r in entry.get("risks") or ()),
                money=money,
                leading=leading,
            )
        )
    risk = data.get("risk") or {}
    numbers = {
        key: need(key, (int, float))
        for key in (
            "alpha",
            "power",
            "mde_fraction_of_expected",
            "mde_min_absolute",
            "volume_weeks",
            "interim_fraction",
            "harm_alpha",
            "srm_p_threshold",
        )
    }
    limits = {key: need(key, int) for key in ("max_duration_weeks", "max_plannable_weeks")}
    horizons = data.get("mde_horizons_weeks")
    if not (
        isinstance(horizons, list)
        and horizons
        and all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in horizons)
    ):
        found.append(doc.problem(["mde_horizons_weeks"], "mde_horizons_weeks: a list of weeks > 0"))
        horizons = []
    shares = data.get("treatment_shares") or []
    if not isinstance(shares, list) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) and 0 < x < 1 for x in shares
    ):
        found.append(doc.problem(["treatment_shares"], "treatment_shares: shares in (0, 1)"))
        shares = []
    seq = data.get("sequential")
    sequential = None
    if seq is not None:
        looks, spending = (
            need("looks", int, ("sequential",)),
            need("spending", str, ("sequential",)),
        )
        if isinstance(looks, int) and looks < 2:
            found.append(doc.problem(["sequential", "looks"], "looks: at least 2"))
        choice(spending, SPENDING_FUNCTIONS, ["sequential", "spending"])
        sequential = SequentialConfig(int(looks or 2), str(spending))
    capture = need("leading_min_capture", (int, float))
    roll = data.get("rollout")
    rollout = None
    if roll is not None:
        treated = need("treated_share", (int, float), ("rollout",))
        pre = need("pre_weeks", int, ("rollout",))
        if isinstance(treated, int | float) and not 0 < treated < 1:
            found.append(doc.problem(["rollout", "treated_share"], "treated_share: in (0, 1)"))
        rollout = RolloutConfig(float(treated or 0.5), int(pre or 0))
    if found:
        raise ValidationError(found, summary=f"{path}: invalid experiment configuration")
    return ExperimentConfig(
        alpha=float(numbers["alpha"]),
        power=float(numbers["power"]),
        arms=arms,
        mde_fraction_of_expected=float(numbers["mde_fraction_of_expected"]),
        mde_min_absolute=float(numbers["mde_min_absolute"]),
        volume_weeks=int(numbers["volume_weeks"]),
        interim_fraction=float(numbers["interim_fraction"]),
        harm_alpha=float(numbers["harm_alpha"]),
        srm_p_threshold=float(numbers["srm_p_threshold"]),
        risk_high_share=float(risk.get("high_affected_share", 1.0)),
        risk_medium_share=float(risk.get("medium_affected_share", 1.0)),
        parameters=tuple(plans),
        max_duration_weeks=int(limits["max_duration_weeks"]),
        max_plannable_weeks=int(limits["max_plannable_weeks"]),
        mde_horizons_weeks=tuple(int(h) for h in horizons),
        treatment_shares=tuple(float(x) for x in shares),
        sequential=sequential,
        leading_min_capture=float(capture),
        rollout=rollout,
    )


def arms_of(plan: Mapping[str, Any]) -> list[tuple[str, float]]:
    """(name, share) pairs of a stored experiment plan, in order."""
    return [(str(a["name"]), float(a["share"])) for a in plan.get("arms", [])]


# ---- the population of a plan, measured from the source tables ---------------------


@dataclass(frozen=True)
class PopulationStats:
    """The experiment population as observed before the change.

    `baseline`: the primary metric over its matured members; `affected_share`: the
    share of those members the change touches; `weekly_volume`: entries per week
    that count in the metric's denominator.
    """

    n: int
    baseline: float | None
    affected_share: float | None
    weekly_volume: float | None
    weeks: float
    # entries per week of every region of the source (before the population's filters):
    # a staged rollout picks its regions and its untouched comparison among them
    region_volumes: tuple[tuple[str, float], ...] = ()
    leading: LeadingStats | None = None


# Per metric: source cohort, the flag counted, the rows in the denominator, the time of entry.
METRIC_DEFS: Mapping[str, tuple[str, str, str | None, str]] = {
    "activation_rate": ("onboardings", "activated", "matured", "started_at"),
    "failure_rate": ("onboardings", "failed", "matured", "started_at"),
    "reincidence_rate": ("reactivations", "relapsed", "matured", "resolved_at"),
    "win_rate": ("reactivations", "won", None, "resolved_at"),
}


def measure_population(
    conn: Any,
    ctx: Any,
    plan: ParameterPlan,
    filters: Mapping[str, str],
    current_value: Any,
    proposed_value: Any,
    volume_weeks: int,
) -> PopulationStats | None:
    """Baseline, affected share and weekly volume of the plan's population over ctx's lookback."""

    if plan.metric not in METRIC_DEFS:
        return None
    source, flag, denominator, when = METRIC_DEFS[plan.metric]
    frame = (
        onboarding_cohort(conn, ctx) if source == "onboardings" else reactivation_cohort(conn, ctx)
    )
    start = ctx.utc(ctx.period_start)
    frame = frame[frame[when] >= start]
    span_days = (ctx.end_utc - start).total_seconds() / DAY_SECONDS
    weeks = min(float(volume_weeks), span_days / 7)
    everyone = frame[frame["won"]] if plan.metric == "reincidence_rate" else frame
    everyone = everyone[everyone[when] >= ctx.end_utc - timedelta(weeks=weeks)]
    region_volumes: tuple[tuple[str, float], ...] = ()
    if weeks > 0 and "region" in everyone.columns:
        counts = everyone["region"].dropna().astype(str).value_counts()
        region_volumes = tuple(sorted((str(k), float(v) / weeks) for k, v in counts.items()))
    for name, value in filters.items():
        if name in frame.columns:
            frame = frame[frame[name] == value]
    if plan.metric == "reincidence_rate":
        frame = frame[frame["won"]]  # relapse is measured on won reactivations only
    members = frame[frame[denominator]] if denominator else frame
    baseline = float(members[flag].mean()) if len(members) else None
    share: float | None = None
    if len(members) and plan.affected == "kit_eq_current":
        share = float((members["kit"] == str(current_value)).mean())
    elif len(members) and plan.affected == "discount_gt_proposed":
        share = float((members["discount_pct"].astype(float) > float(proposed_value)).mean())
    recent = frame[frame[when] >= ctx.end_utc - timedelta(weeks=weeks)]
    volume = len(recent) / weeks if weeks > 0 else None
    leading = None
    if plan.leading is not None and plan.maturation:
        leading = measure_leading(
            conn,
            ctx.org_id,
            plan.metric,
            start,
            ctx.end_utc,
            int(ctx.policies.get(plan.maturation, 0) or 0),
            plan.leading.window_days,
            filters,
        )
    return PopulationStats(len(members), baseline, share, volume, weeks, region_volumes, leading)
