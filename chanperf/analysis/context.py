"""What every detector receives: the org, the as-of date, the policies and the analysis config.

Also the packs a run loads (policies and rules, validated together) and a connection to the
source tables for one-off reads outside a run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from chanperf.core.database import make_engine
from chanperf.core.errors import ValidationError
from chanperf.core.periods import local_midnight_utc
from chanperf.core.settings import Settings
from chanperf.core.yaml_positions import read_yaml, schema_problems
from chanperf.policies.load import PolicySet, load_policies
from chanperf.rules.load import Rule, load_rules

log = logging.getLogger(__name__)
T = TypeVar("T")
CONFIG_SCHEMA = "analysis-config.v1.json"


@dataclass(frozen=True)
class AnalysisConfig:
    """Windows and buckets of the analysis (rules/analysis/config.yaml); see that file."""

    lookback_days: int = 180
    recent_weeks: int = 4
    baseline_weeks: int = 12
    discount_bucket_edges_pct: tuple[float, ...] = (5.0, 8.0)
    discount_level_step_pct: float = 1.0
    split_min_group_size: int = 30
    split_band_min_effect: float = 0.05
    split_prior_margin: float = 0.25
    scan_permutations: int = 999
    churn_risk_top_share: float = 0.1
    churn_horizon_days: int = 60
    # A dismissed or snoozed insight of a rule without `reraise_margin` comes back when
    # its |effect| grows by more than this share (insights/store.py).
    reraise_growth: float = 0.25
    history_weeks: int = 52
    changepoint_min_weeks: int = 4


def load_analysis_config(rules_dir: Path | str) -> AnalysisConfig:
    """Read `<rules_dir>/analysis/config.yaml`; defaults where the file or a key is absent."""
    path = Path(rules_dir) / "analysis" / "config.yaml"
    if not path.is_file():
        return AnalysisConfig()
    doc, problems = read_yaml(path)
    if doc is not None and not problems:
        if not isinstance(doc.data, dict):
            problems = [doc.problem([], "expected a mapping of settings")]
        else:
            problems = schema_problems(doc, doc.data, CONFIG_SCHEMA)
    if problems or doc is None:
        raise ValidationError(problems, summary=f"{path}: invalid analysis configuration")
    known = {f.name for f in fields(AnalysisConfig)}
    values = {k: v for k, v in doc.data.items() if k in known}
    if "discount_bucket_edges_pct" in values:
        values["discount_bucket_edges_pct"] = tuple(
            sorted(float(v) for v in values["discount_bucket_edges_pct"])
        )
    return AnalysisConfig(**values)


@dataclass(frozen=True)
class AnalysisContext:
    """One analysis run's inputs. Dates are local (the org's time zone); SQL bounds are naive UTC."""

    org_id: int
    as_of: date  # last local day included in the analysis
    policies: PolicySet
    config: AnalysisConfig = field(default_factory=AnalysisConfig)
    timezone: str = "America/Sao_Paulo"
    # What detectors share within one run (cohorts, account states, the churn model):
    # computed once, on first use. A new run makes a new context, so nothing outlives it.
    shared: dict[Hashable, Any] = field(default_factory=dict, compare=False, repr=False)

    def once(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()` the first time `key` is asked in this run, the kept value after.

        A value being read ahead (`ahead`) is waited for instead of computed again.
        """
        if key not in self.shared:
            self.shared[key] = compute()
        value = self.shared[key]
        if isinstance(value, Future):
            value = self.shared[key] = value.result()
        kept: T = value
        return kept

    def ahead(self, key: Hashable, pending: Future[Any]) -> None:
        """Keep `pending` (a read started on another connection) as the value of `key`."""
        self.shared.setdefault(key, pending)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def utc(self, local_day: date) -> datetime:
        """Naive UTC instant at which `local_day` starts in the org's time zone."""
        return local_midnight_utc(local_day, self.tz)

    @property
    def end_utc(self) -> datetime:
        """Exclusive end of the analysed data: the start of the day after as_of."""
        return self.utc(self.as_of + timedelta(days=1))

    @property
    def period_start(self) -> date:
        return self.as_of - timedelta(days=self.config.lookback_days - 1)

    def finding_fields(self, filters: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Fields every finding of the lookback period shares: org, period, the cut's filters."""
        return {
            "org_id": self.org_id,
            "period_start": self.period_start,
            "period_end": self.as_of,
            "filters": dict(filters or {}),
        }

    def weeks(self) -> tuple[list[date], list[date]]:
        """Mondays of the baseline weeks and of the recent weeks (full ISO weeks before as_of)."""
        last_monday = self.as_of - timedelta(days=self.as_of.weekday())
        if self.as_of.weekday() != 6:  # the week of as_of is not complete yet
            last_monday -= timedelta(days=7)
        n_recent, n_base = self.config.recent_weeks, self.config.baseline_weeks
        recent = [last_monday - timedelta(days=7 * i) for i in range(n_recent - 1, -1, -1)]
        first_base = recent[0] - timedelta(days=7 * n_base)
        baseline = [first_base + timedelta(days=7 * i) for i in range(n_base)]
        return baseline, recent


def load_packs(settings: Settings) -> tuple[PolicySet, tuple[Rule, ...]]:
    """Policies and rules, validated; any problem raises one ValidationError listing all."""
    log.info("%s", settings.describe_packs())
    policies = load_policies(settings.policies_dir)
    return policies, load_rules(settings.rules_dir, policies)


def analysis_context(
    settings: Settings, org_id: int, as_of: date, policies: PolicySet
) -> AnalysisContext:
    """The context every detector receives, with the configured analysis windows."""
    return AnalysisContext(
        org_id, as_of, policies, load_analysis_config(settings.rules_dir), settings.timezone
    )


@contextmanager
def source_context(
    settings: Settings, org_id: int, as_of: date
) -> Iterator[tuple[Connection, AnalysisContext]]:
    """A connection to the source tables and the analysis context, for one-off reads
    outside a run (the churn model report, the accounts at risk)."""
    ctx = analysis_context(settings, org_id, as_of, load_policies(settings.policies_dir))
    engine = make_engine(settings.source_url)
    try:
        with engine.connect() as conn:
            yield conn, ctx
    finally:
        engine.dispose()
