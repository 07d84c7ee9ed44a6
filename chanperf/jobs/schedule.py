"""The cron table: which job each schedule line enqueues, under which deterministic id.

Cron strings are read in the organisation's local time (the scheduler sets TZ to it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chanperf.core.errors import ConfigError
from chanperf.core.periods import iso_week_code
from chanperf.jobs.tasks import (
    check_experiments_job,
    collect_metrics_job,
    generate_proposals_job,
    run_analysis_job,
)


@dataclass(frozen=True)
class PlannedJob:
    """What a cron entry enqueues when it fires: the real job under its deterministic id."""

    func: Callable[..., Any]
    kwargs: Mapping[str, Any]
    job_id: str
    org_id: int
    kind: str


def previous_month(day: date) -> str:
    last = day.replace(day=1) - timedelta(days=1)
    return f"{last:%Y-%m}"


@dataclass(frozen=True)
class CronEntry:
    """One line of the cron table for one org. Cron strings are read in the org's local time."""

    kind: str
    cron: str
    org_id: int
    tz_name: str = field(default="America/Sao_Paulo")

    @property
    def name(self) -> str:
        return f"{self.kind}:org-{self.org_id}"

    def plan(self, fired_at: datetime) -> PlannedJob:
        """The job for the period that ended before `fired_at` (aware, any zone)."""

        local_day = fired_at.astimezone(ZoneInfo(self.tz_name)).date()
        yesterday = local_day - timedelta(days=1)
        org = self.org_id
        if self.kind == "collect":
            job_id = f"collect-{org}-{yesterday.isoformat()}"
            return PlannedJob(
                collect_metrics_job,
                {"org_id": org, "day_iso": yesterday.isoformat()},
                job_id,
                org,
                "collect",
            )
        if self.kind == "analyze":
            # Monday's run analyses the ISO week that ended yesterday (Sunday).
            job_id = f"analyze-{org}-{iso_week_code(yesterday)}"
            kwargs = {"org_id": org, "as_of_iso": yesterday.isoformat(), "run_key": job_id}
            return PlannedJob(run_analysis_job, kwargs, job_id, org, "analyze")
        if self.kind == "proposals":
            month = previous_month(local_day)
            job_id = f"proposals-{org}-{month}"
            kwargs = {"org_id": org, "month": month, "run_key": job_id}
            return PlannedJob(generate_proposals_job, kwargs, job_id, org, "proposals")
        if self.kind == "experiments":
            job_id = f"experiments-{org}-{previous_month(local_day)}"
            kwargs = {"org_id": org, "as_of_iso": yesterday.isoformat()}
            return PlannedJob(check_experiments_job, kwargs, job_id, org, "experiments")
        raise ConfigError(f"unknown cron job kind {self.kind!r}")


# kind, cron (local time). Collection first, so the Monday analysis and the monthly
# jobs on the 1st read the metrics collected the same morning.
SCHEDULE: tuple[tuple[str, str], ...] = (
    ("collect", "0 6 * * *"),  # daily 06:00: yesterday's metrics
    ("analyze", "0 8 * * 1"),  # Monday 08:00: the week that ended on Sunday
    ("proposals", "0 9 1 * *"),  # the 1st, 09:00: proposals from last month's insights
    ("experiments", "30 9 1 * *"),  # the 1st, 09:30: results of running experiments
)


def cron_table(org_ids: list[int] | tuple[int, ...], tz_name: str) -> list[CronEntry]:
    return [CronEntry(kind, cron, org, tz_name) for org in org_ids for kind, cron in SCHEDULE]
