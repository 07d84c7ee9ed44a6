"""Detection quality: does the analysis find what was planted, and nothing in null channels?

Each run draws a channel of a shape the analysis was never written against
(`chanperf.demo.shapes`: names, counts, levels and dates from a seed), generates it
into its own SQLite file, runs the whole analysis (collect, detectors, rules) with the
channel's own policy pack and compares the insights with the planted ground truth.
The analysis never sees the scenario; only this module reads its `planted:` list.
A null run has no planted pattern: every insight in it is a false alarm.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from statsmodels.stats.proportion import proportion_confint

from chanperf.analysis.run import analyze
from chanperf.core.database import make_engine
from chanperf.core.settings import Settings
from chanperf.demo.run import run_demo
from chanperf.demo.shapes import SHAPES, Channel, draw_channel
from chanperf.models.base import Base
from chanperf.models.performance import PerformanceInsight

# Detector names (docs/detection.md) -> the finding kinds they produce.
DETECTOR_KINDS: dict[str, frozenset[str]] = {
    "detect_kit_effectiveness": frozenset({"kit_effectiveness"}),
    "detect_region_patterns": frozenset({"region_failure"}),
    "analyze_onboarding_patterns": frozenset({"onboarding_target"}),
    "detect_discount_patterns": frozenset({"discount_reincidence"}),
    "analyze_strategy_effectiveness": frozenset({"strategy_effectiveness"}),
    "detect_reincidence_patterns": frozenset({"reincidence_above_max"}),
    "analyze_state_flows": frozenset({"state_bottleneck"}),
    "detect_bottlenecks": frozenset({"state_bottleneck"}),
    "predict_churn_risk": frozenset({"churn_risk"}),
    "detect_excessive_exceptions": frozenset({"excessive_exceptions"}),
    "detect_policy_gaps": frozenset({"uncovered_activity"}),
    "compliance_drift": frozenset({"discount_compliance_drift"}),
    "detect_misalignments": frozenset({"misalignment"}),
    "metric_drift": frozenset({"metric_drift"}),
}
# The share of null runs allowed any insight at all; each detector's part of it is
# this divided by the number of detectors that raised or could raise one.
FALSE_ALARM_GOAL = 0.05


def detector_of(kind: str) -> str:
    """The detector name(s) behind a finding kind, for the false-alarm table."""
    names = sorted(d for d, kinds in DETECTOR_KINDS.items() if kind in kinds)
    return " / ".join(names) if names else kind


@dataclass(frozen=True)
class Found:
    rule_id: str
    kind: str
    insight_type: str
    category: str
    region: str | None
    segment: str | None
    policy: str | None
    sku: str | None
    text: str


@dataclass(frozen=True)
class Planted:
    id: str
    detector: str
    found: bool
    size: float | None  # the planted effect (a rate difference), None when not one number


@dataclass(frozen=True)
class RunResult:
    shape: str
    seed: int
    planted: tuple[Planted, ...]
    insights: tuple[Found, ...]
    unexplained: tuple[str, ...]  # rule ids of insights matching no planted pattern
    null: bool = False

    @property
    def clean(self) -> bool:
        return not self.insights


def wilson(hit: int, total: int) -> tuple[float, float]:
    low, high = proportion_confint(hit, total, alpha=0.05, method="wilson")
    return float(low), float(high)


@dataclass
class QualityReport:
    runs: list[RunResult] = field(default_factory=list)

    def planted_runs(self) -> list[RunResult]:
        return [r for r in self.runs if not r.null]

    def null_runs(self) -> list[RunResult]:
        return [r for r in self.runs if r.null]

    def recall(self) -> dict[str, tuple[int, int]]:
        """Per planted pattern (`id (detector)`): found, planted."""
        hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for run in self.planted_runs():
            for p in run.planted:
                hits[f"{p.id} ({p.detector})"][0] += int(p.found)
                hits[f"{p.id} ({p.detector})"][1] += 1
        return {k: (h[0], h[1]) for k, h in sorted(hits.items())}

    def sizes(self) -> dict[str, tuple[float | None, float | None]]:
        """Per planted pattern: the smallest size found and the largest size missed."""
        found: dict[str, list[float]] = defaultdict(list)
        missed: dict[str, list[float]] = defaultdict(list)
        for run in self.planted_runs():
            for p in run.planted:
                if p.size is not None:
                    (found if p.found else missed)[f"{p.id} ({p.detector})"].append(p.size)
        keys = set(found) | set(missed)
        return {
            k: (min(found[k]) if found[k] else None, max(missed[k]) if missed[k] else None)
            for k in sorted(keys)
        }

    def null_share(self) -> tuple[int, int]:
        """Null runs with at least one insight, null runs."""
        nulls = self.null_runs()
        return sum(1 for r in nulls if not r.clean), len(nulls)

    def false_rates(self) -> dict[str, tuple[int, int]]:
        """Per detector: null runs where it raised at least one insight, insights raised."""
        runs: dict[str, set[int]] = defaultdict(set)
        count: dict[str, int] = defaultdict(int)
        for i, r in enumerate(self.null_runs()):
            for f in r.insights:
                runs[detector_of(f.kind)].add(i)
                count[detector_of(f.kind)] += 1
        return {d: (len(runs[d]), count[d]) for d in sorted(runs)}

    def over_budget(self) -> list[str]:
        """Detectors whose false-alarm rate exceeds their share of FALSE_ALARM_GOAL."""
        _dirty, total = self.null_share()
        if not total:
            return []
        detectors = {detector_of(k) for kinds in DETECTOR_KINDS.values() for k in kinds}
        detectors |= set(self.false_rates())
        budget = FALSE_ALARM_GOAL / len(detectors)
        return [d for d, (n, _) in self.false_rates().items() if n / total > budget]

    def unexplained_by_rule(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for run in self.planted_runs():
            for rule_id in run.unexplained:
                out[rule_id] += 1
        return dict(sorted(out.items()))

    def as_json(self) -> dict[str, Any]:
        dirty, total = self.null_share()
        return {
            "shapes": sorted({r.shape for r in self.runs}),
            "planted_runs": len(self.planted_runs()),
            "null_runs": total,
            "recall": {
                k: {"found": h, "planted": n, "smallest_found": s[0], "largest_missed": s[1]}
                for k, (h, n) in self.recall().items()
                for s in [self.sizes().get(k, (None, None))]
            },
            "unexplained_in_planted_runs": self.unexplained_by_rule(),
            "null_runs_with_insight": dirty,
            "null_share_with_insight": dirty / total if total else None,
            "null_share_ci95": wilson(dirty, total) if total else None,
            "false_rate_by_detector": {
                d: {"runs": n, "insights": c, "rate": n / total}
                for d, (n, c) in self.false_rates().items()
            },
            "over_budget": self.over_budget(),
            "by_shape": self.by_shape(),
            "runs": [asdict(r) for r in self.runs],
        }

    def by_shape(self) -> dict[str, dict[str, Any]]:
        out = {}
        for shape in sorted({r.shape for r in self.runs}):
            sub = QualityReport([r for r in self.runs if r.shape == shape])
            hit = sum(h for h, _ in sub.recall().values())
            planted = sum(n for _, n in sub.recall().values())
            dirty, total = sub.null_share()
            out[shape] = {"found": hit, "planted": planted, "null_dirty": dirty, "null": total}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QualityReport:
        """The report `as_json` wrote, rebuilt from its runs."""
        return cls(
            [
                RunResult(
                    r["shape"],
                    r["seed"],
                    tuple(Planted(**p) for p in r["planted"]),
                    tuple(Found(**f) for f in r["insights"]),
                    tuple(r["unexplained"]),
                    r["null"],
                )
                for r in data["runs"]
            ]
        )

    def lines(self) -> Iterable[str]:
        recall, sizes = self.recall(), self.sizes()
        if recall:
            yield f"Recall per planted pattern ({len(self.planted_runs())} planted runs):"
            yield f"  {'pattern (detector)':<52} {'found':>9} {'recall':>7}  smallest found / largest missed"
            for key, (hit, total) in recall.items():
                low, high = sizes.get(key, (None, None))
                size = f"{_num(low)} / {_num(high)}"
                yield f"  {key:<52} {hit:>4}/{total:<4} {100 * hit / total:6.1f}%  {size}"
            hit = sum(h for h, _ in recall.values())
            total = sum(n for _, n in recall.values())
            yield f"  {'all':<52} {hit:>4}/{total:<4} {100 * hit / total:6.1f}%"
            extra = self.unexplained_by_rule()
            yield f"Insights matching no planted pattern in planted runs: {sum(extra.values())}"
            for rule_id, n in extra.items():
                yield f"  {rule_id:<52} {n:>4}"
        dirty, total = self.null_share()
        if total:
            low, high = wilson(dirty, total)
            yield (
                f"Null runs with any insight: {dirty}/{total} = {100 * dirty / total:.1f}% "
                f"(95% CI {100 * low:.1f}-{100 * high:.1f}%; goal <= {100 * FALSE_ALARM_GOAL:.0f}%)"
            )
            yield "False rate per detector (null runs with >= 1 of its insights):"
            for d, (n, c) in self.false_rates().items():
                yield f"  {d:<52} {n:>4}/{total:<4} {100 * n / total:6.1f}%  ({c} insights)"
            for d in self.over_budget():
                yield f"  over its share of the false-alarm budget: {d}"
        yield "By shape (found/planted, null runs with any insight):"
        for shape, s in self.by_shape().items():
            yield f"  {shape:<10} {s['found']}/{s['planted']}  {s['null_dirty']}/{s['null']}"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def found_from_row(r: Any) -> Found:
    """A stored insight (a row mapping of channel_performance_insights) as evaluation sees it."""
    return Found(
        r["rule_id"],
        r["detector"],
        str(r["insight_type"]),
        str(r["category"]),
        r["affected_region"],
        r["affected_segment"],
        r["affected_policy"],
        r["affected_sku"],
        f"{r['title']} {r['observation']}",
    )


def matches(planted: dict[str, Any], insight: Found) -> bool:
    """Whether `insight` reports the planted pattern: detector, type, category, affected fields."""
    if insight.kind not in DETECTOR_KINDS.get(planted["detector"], frozenset()):
        return False
    if (insight.insight_type, insight.category) != (planted["insight_type"], planted["category"]):
        return False
    affected = planted.get("affected") or {}
    for key in ("region", "segment", "sku"):
        want = affected.get(key)
        got = getattr(insight, key)
        # An insight about a whole policy (e.g. the priority regions' share) names the
        # region in its text rather than in affected_region.
        if want is not None and got != want and not (got is None and str(want) in insight.text):
            return False
    want_policy = affected.get("policy")
    return want_policy is None or (insight.policy or "").startswith(str(want_policy))


def write_channel(channel: Channel, workdir: Path) -> tuple[Path, Path]:
    """The channel's scenario file and policy pack, as `chanperf demo` reads them."""
    scenario = workdir / "scenario.yaml"
    scenario.write_text(
        yaml.safe_dump(channel.doc, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    pack = workdir / "policies"
    pack.mkdir()
    for name, policy in channel.policies.items():
        (pack / f"{name}.yaml").write_text(
            yaml.safe_dump(policy, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
    return scenario, pack


def evaluate(channel: Channel, base: Settings) -> RunResult:
    """Generate the channel, analyse it as of its day, compare insights with its truth."""
    with tempfile.TemporaryDirectory(prefix="chanperf-eval-") as tmp:
        work = Path(tmp)
        scenario_path, pack = write_channel(channel, work)
        settings = base.with_(
            database_url=f"sqlite:///{work / 'eval.db'}",
            policies_dir=pack,
            database_url_chosen=True,
        )
        # The tables straight from the models: a throwaway file needs no migration history.
        engine = make_engine(settings.database_url)
        Base.metadata.create_all(engine)
        engine.dispose()
        run_demo(
            settings,
            scenario=str(scenario_path),
            seed=channel.seed,
            as_of=channel.as_of,
            replace=True,
            analyse=False,
            echo=lambda _line: None,
        )
        analyze(settings, 1, channel.as_of)
        engine = make_engine(settings.database_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(select(PerformanceInsight.__table__)).mappings().all()
        finally:
            engine.dispose()
    found = tuple(found_from_row(r) for r in rows)
    planted = channel.planted
    marks = tuple(
        Planted(p["id"], p["detector"], any(matches(p, f) for f in found), channel.sizes[p["id"]])
        for p in planted
    )
    unexplained = tuple(f.rule_id for f in found if not any(matches(p, f) for p in planted))
    return RunResult(channel.shape, channel.seed, marks, found, unexplained, null=not planted)


Job = tuple[str, int, bool]  # shape, seed, planted


def _run_job(job: Job, base: Settings) -> RunResult:
    shape, seed, planted = job
    return evaluate(draw_channel(shape, seed, planted), base)


def eval_jobs(shapes: Sequence[str], seeds: int, first_seed: int, kinds: str = "both") -> list[Job]:
    """Every (shape, seed) pair once planted and once null (or only one of the two).

    Seed by seed, so the runs finished when an evaluation is stopped cover every shape
    and both kinds.
    """
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        raise ValueError(f"unknown shape(s) {', '.join(unknown)} (known: {', '.join(SHAPES)})")
    planted = {"both": (True, False), "planted": (True,), "null": (False,)}[kinds]
    return [(s, first_seed + i, p) for i in range(seeds) for s in shapes for p in planted]


def run_quality(
    base: Settings,
    jobs: Sequence[Job],
    processes: int = 1,
    progress: Callable[[RunResult], None] | None = None,
) -> QualityReport:
    report = QualityReport()
    if processes <= 1:
        results: Iterable[RunResult] = (_run_job(j, base) for j in jobs)
        for result in results:
            report.runs.append(result)
            if progress:
                progress(result)
        return report
    with ProcessPoolExecutor(max_workers=processes) as pool:
        for result in pool.map(_run_job, jobs, [base] * len(jobs)):
            report.runs.append(result)
            if progress:
                progress(result)
    return report
