"""Analysis against a separate, read-only source database (CHANPERF_SOURCE_DATABASE_URL):
source tables are read there; metrics, insights and runs are written to the main one."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from chanperf.analysis.run import analyze
from chanperf.core.database import make_engine
from chanperf.core.settings import REPO_ROOT, Settings
from chanperf.demo.run import run_demo
from chanperf.migrations.upgrade import upgrade
from chanperf.models.performance import PerformanceInsight, PerformanceMetric
from chanperf.models.runs import AnalysisRun
from chanperf.models.source import ChannelAccount
from tests.demo_data import DEMO_AS_OF

pytestmark = pytest.mark.slow


def count(url: str, model) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(model)).scalar_one()
    finally:
        engine.dispose()


def test_analysis_reads_the_source_database_and_writes_the_main_one(tmp_path):
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    main_url = f"sqlite:///{tmp_path / 'main.db'}"
    base = Settings(policies_dir=REPO_ROOT / "policies", rules_dir=REPO_ROOT / "rules")
    run_demo(
        base.with_(database_url=source_url, database_url_chosen=True),
        scenario="planted",
        seed=3,
        accounts=1500,
        as_of=DEMO_AS_OF,
        analyse=False,
        echo=lambda _: None,
    )
    upgrade(main_url)  # the main database holds chanperf's tables, no channel data
    settings = base.with_(
        database_url=main_url, source_database_url=source_url, database_url_chosen=True
    )

    summary = analyze(settings, 1, DEMO_AS_OF)

    assert count(main_url, ChannelAccount) == 0 and count(source_url, ChannelAccount) == 1500
    assert summary.findings > 50  # the detectors saw the source data
    assert summary.insights_created == count(main_url, PerformanceInsight) > 0
    assert count(main_url, PerformanceMetric) > 0  # collected from the source into the main
    assert count(source_url, PerformanceMetric) == 0
    assert count(main_url, AnalysisRun) == 1
