"""What every detector receives: the org, the as-of date, the policies and the analysis config."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from chanperf.errors import ValidationError
from chanperf.periods import local_midnight_utc
from chanperf.policies import PolicySet
from chanperf.yaml_source import read_yaml, schema_problems

CONFIG_SCHEMA = "analysis-config.v1.json"


@dataclass(frozen=True)
class AnalysisConfig:
    """Windows and buckets of the analysis (rules/analysis/config.yaml); see that file."""

    lookback_days: int = 180
    recent_weeks: int = 4
    baseline_weeks: int = 12
    discount_bucket_edges_pct: tuple[float, ...] = (5.0, 8.0)
    churn_risk_top_share: float = 0.1
    churn_horizon_days: int = 60


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
