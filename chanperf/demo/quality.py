"""Detection quality: does the analysis find what was planted, and nothing in null channels?

Each run takes a shipped scenario, renames every code (regions, segments, kits,
strategies, SKUs) to random names in the scenario *and* in a copy of the policy
pack, rescales every planted effect by a random factor (never below the scenario's
detectable size), generates the channel with a fresh seed into its own SQLite file,
runs the whole analysis and compares the insights with the scenario's ground truth.
The analysis never sees the scenario; only this module reads its `planted:` list.
"""

from __future__ import annotations

import re
import string
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sqlalchemy import select

from chanperf.analysis.run import analyze
from chanperf.core.database import make_engine
from chanperf.core.settings import Settings
from chanperf.demo.run import run_demo
from chanperf.demo.scenario_file import resolve_scenario_path
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
# Effects are rescaled by a factor drawn from this range: at its low end every planted
# pattern still has the power its scenario states (the sizes there use alpha = 0.001).
EFFECT_SCALE = (0.85, 1.25)
CODE_SECTIONS = ("regions", "segments", "kits", "strategies", "skus")


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
class RunResult:
    scenario: str
    seed: int
    planted: tuple[tuple[str, str, bool], ...]  # (planted id, detector, found?)
    insights: tuple[Found, ...]
    unexplained: int  # insights matching no planted pattern

    @property
    def clean(self) -> bool:
        return not self.insights


@dataclass
class QualityReport:
    runs: list[RunResult] = field(default_factory=list)

    def recall(self) -> dict[str, tuple[int, int]]:
        hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for run in self.runs:
            for _pid, detector, found in run.planted:
                hits[detector][0] += int(found)
                hits[detector][1] += 1
        return {d: (h[0], h[1]) for d, h in sorted(hits.items())}

    def null_runs(self) -> list[RunResult]:
        return [r for r in self.runs if not r.planted]

    def lines(self) -> Iterable[str]:
        yield "Recall por detector (encontrados / plantados):"
        for detector, (hit, total) in self.recall().items():
            yield f"  {detector:<34} {hit:>3}/{total:<3} {100 * hit / total:5.1f}%"
        planted_runs = [r for r in self.runs if r.planted]
        if planted_runs:
            extra = sum(r.unexplained for r in planted_runs)
            yield f"Insights sem padrão plantado correspondente: {extra} em {len(planted_runs)} execuções"
        nulls = self.null_runs()
        if nulls:
            dirty = [r for r in nulls if not r.clean]
            total = sum(len(r.insights) for r in nulls)
            yield (
                f"Cenários nulos: {len(nulls) - len(dirty)}/{len(nulls)} sem nenhum insight "
                f"({100 * (len(nulls) - len(dirty)) / len(nulls):.1f}%), "
                f"{total / len(nulls):.2f} falsas descobertas por execução"
            )
            for r in dirty:
                rules = ", ".join(sorted({f.rule_id for f in r.insights}))
                yield f"  semente {r.seed}: {len(r.insights)} insight(s): {rules}"


def _random_code(rng: np.random.Generator, prefix: str, taken: set[str]) -> str:
    letters = np.array(list(string.ascii_uppercase))
    while True:
        code = prefix + "".join(rng.choice(letters, 5))
        if code not in taken:
            taken.add(code)
            return code


def rename_map(doc: dict[str, Any], rng: np.random.Generator) -> dict[str, str]:
    """A fresh random name for every code the scenario declares."""
    taken: set[str] = set()
    out: dict[str, str] = {}
    for section, prefix in zip(CODE_SECTIONS, ("R", "S", "K", "E", "P"), strict=True):
        for code in doc.get(section) or {}:
            out[str(code)] = _random_code(rng, prefix, taken)
    # A region may use kits of its own mix that the channel-wide mix does not list.
    for region in (doc.get("regions") or {}).values():
        for kit in (region or {}).get("kits") or {}:
            if str(kit) not in out:
                out[str(kit)] = _random_code(rng, "K", taken)
    return out


def rename(value: Any, names: dict[str, str]) -> Any:
    """Codes renamed in keys, values and dotted parameter paths (`regions.X.default_kit`)."""
    if isinstance(value, dict):
        return {rename(k, names): rename(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [rename(v, names) for v in value]
    if isinstance(value, str):
        if value in names:
            return names[value]
        if "." in value and " " not in value:
            return ".".join(names.get(part, part) for part in value.split("."))
        if names:  # free text (effect names, notes): whole-word codes
            pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, names)) + r")(?![\w-])")
            return pattern.sub(lambda m: names[m.group(1)], value)
    return value


def rescale_effects(doc: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Move every planted value away from (or toward) its base rate by a random factor."""
    base = doc.get("rates") or {}
    for effect in doc.get("effects") or []:
        factor = float(rng.uniform(*EFFECT_SCALE))
        for key, value in list((effect.get("set") or {}).items()):
            if (
                key in base
                and isinstance(value, int | float)
                and isinstance(base[key], int | float)
            ):
                new = base[key] + (value - base[key]) * factor
                if 0 <= base[key] <= 1 and 0 <= value <= 1:
                    new = min(max(new, 0.01), 0.99)
                effect["set"][key] = round(float(new), 4)
    return doc


def prepare(
    scenario: str, seed: int, policies_dir: Path, workdir: Path, rescale: bool
) -> tuple[Path, Path, dict[str, Any]]:
    """Write the renamed scenario and policy pack into `workdir`; return their paths and the doc."""
    rng = np.random.default_rng(seed)
    doc = yaml.safe_load(resolve_scenario_path(scenario).read_text(encoding="utf-8"))
    names = rename_map(doc, rng)
    doc = rename(doc, names)
    if rescale:
        doc = rescale_effects(doc, rng)
    scenario_path = workdir / "scenario.yaml"
    scenario_path.write_text(
        yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    pack = workdir / "policies"
    pack.mkdir()
    for path in sorted(Path(policies_dir).glob("*.yaml")):
        policy = rename(yaml.safe_load(path.read_text(encoding="utf-8")), names)
        (pack / path.name).write_text(
            yaml.safe_dump(policy, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
    return scenario_path, pack, doc


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


def evaluate_run(
    scenario: str,
    seed: int,
    base: Settings,
    as_of: date,
    accounts: int | None = None,
    rescale: bool = True,
) -> RunResult:
    with tempfile.TemporaryDirectory(prefix="chanperf-eval-") as tmp:
        work = Path(tmp)
        scenario_path, pack, doc = prepare(scenario, seed, base.policies_dir, work, rescale)
        settings = base.with_(
            database_url=f"sqlite:///{work / 'eval.db'}",
            policies_dir=pack,
            database_url_chosen=True,
        )
        run_demo(
            settings,
            scenario=str(scenario_path),
            seed=seed,
            accounts=accounts,
            as_of=as_of,
            replace=True,
            analyse=False,
            echo=lambda _line: None,
        )
        analyze(settings, 1, as_of)
        engine = make_engine(settings.database_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(select(PerformanceInsight.__table__)).mappings().all()
        finally:
            engine.dispose()
    found = tuple(found_from_row(r) for r in rows)
    planted = doc.get("planted") or []
    marks = tuple((p["id"], p["detector"], any(matches(p, f) for f in found)) for p in planted)
    unexplained = sum(1 for f in found if not any(matches(p, f) for p in planted))
    return RunResult(scenario, seed, marks, found, unexplained)


def run_quality(
    base: Settings,
    as_of: date,
    planted_runs: int,
    null_runs: int,
    first_seed: int = 1000,
    accounts: int | None = None,
    progress: Callable[[RunResult], None] | None = None,
) -> QualityReport:
    report = QualityReport()
    jobs = [("planted", first_seed + i) for i in range(planted_runs)]
    jobs += [("null", first_seed + 500 + i) for i in range(null_runs)]
    for scenario, seed in jobs:
        result = evaluate_run(scenario, seed, base, as_of, accounts=accounts)
        report.runs.append(result)
        if progress:
            progress(result)
    return report
