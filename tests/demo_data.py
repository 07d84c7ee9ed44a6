"""Demo channels for tests that need realistic data: generated once per module into SQLite."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from chanperf.analysis.context import AnalysisContext, load_analysis_config
from chanperf.core.database import make_engine
from chanperf.core.settings import REPO_ROOT
from chanperf.demo import generator
from chanperf.demo.scenario import Planted
from chanperf.demo.scenario_file import load_scenario
from chanperf.models.base import Base
from chanperf.policies.load import load_policies

DEMO_AS_OF = date(2026, 6, 30)
# The planted scenario sizes its patterns for a two-sided alpha of 0.001 (planted.yaml, "Sizes").
PLANTED_ALPHA = 1e-3


def generate_demo_db(tmp: Path, scenario: str, seed: int, as_of: date = DEMO_AS_OF) -> Engine:
    """A SQLite database holding the scenario's channel generated with `seed`."""
    scn = load_scenario(scenario)
    period = generator.period_for(as_of, scn.history_months, ZoneInfo("America/Sao_Paulo"))
    data = generator.generate(scn, seed=seed, accounts=None, period=period, org_id=1)
    eng = make_engine(f"sqlite:///{tmp / f'{scenario}-{seed}.db'}")
    Base.metadata.create_all(eng)
    with eng.begin() as conn:
        generator.write(conn, data)
    return eng


def planted_entry(detector: str) -> Planted:
    """The planted scenario's ground-truth entry for `detector` (exactly one expected)."""
    (entry,) = [p for p in load_scenario("planted").planted if p.detector == detector]
    return entry


def planted_truth(detector: str) -> tuple[dict[str, str], dict[str, float]]:
    """The planted entry's affected fields and effect sizes, as plain dicts."""
    entry = planted_entry(detector)
    return dict(entry.affected), dict(entry.effect)


def demo_context() -> AnalysisContext:
    """The analysis context of the demo channel: shipped policies and analysis config."""
    return AnalysisContext(
        org_id=1,
        as_of=DEMO_AS_OF,
        policies=load_policies(REPO_ROOT / "policies"),
        config=load_analysis_config(REPO_ROOT / "rules"),
    )
