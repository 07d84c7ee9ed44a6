"""Did an applied proposal work? Compare the arms of its experiment once the plan's duration passed.

Accounts enter when their first onboarding starts (or reactivation is resolved)
on or after `implemented_at` and they belong to the plan's population; each is
in the arm `assign_arm(account, experiment_key, arms)` gives. A plan with a single
arm (no control) is read before/after: the same span before `implemented_at` is
the reference. The primary metric and every guardrail are two-proportion tests
(Newcombe interval of treatment − control); the arm sizes are checked for a
sample ratio mismatch first, because a broken assignment makes any estimate moot.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, select
from sqlalchemy.orm import Session

from chanperf.core.clock import utc_now
from chanperf.core.enums import (
    OnboardingStatus,
    ProposalStatus,
    ReactivationStatus,
)
from chanperf.core.stats import compare_proportions, sample_ratio_p_value
from chanperf.experiments.design import arms_of, assign_arm
from chanperf.experiments.relapses import relapse_times
from chanperf.experiments.sequential import read_look
from chanperf.models.performance import PolicyProposal
from chanperf.models.source import (
    ChannelAccount,
    ChannelFeedback,
    ChannelOnboarding,
    ChannelReactivation,
)

log = logging.getLogger(__name__)

DETRACTOR_MAX_SCORE = 6  # NPS definition (0-6 detractors), not a tunable threshold


@dataclass(frozen=True)
class Window:
    start: datetime  # entries from here (naive UTC) ...
    end: datetime  # ... up to here (exclusive); outcomes observed up to `end`


def _members(
    conn: Connection, org_id: int, source: str, population: Mapping[str, Any], w: Window
) -> list[tuple[int, dict[str, Any]]]:
    """(account_id, entry row) of the first entry of each account of the population in the window."""
    a = ChannelAccount.__table__
    if source == "onboardings":
        t, when = ChannelOnboarding.__table__, ChannelOnboarding.__table__.c.started_at
    else:
        t, when = ChannelReactivation.__table__, ChannelReactivation.__table__.c.resolved_at
    query = (
        select(t, a.c.region, a.c.segment)
        .select_from(t.join(a, and_(a.c.account_id == t.c.account_id, a.c.org_id == t.c.org_id)))
        .where(t.c.org_id == org_id, when >= w.start, when < w.end)
        .order_by(when, t.c.id)
    )
    if source == "reactivations":
        query = query.where(
            t.c.status.in_((ReactivationStatus.WON.value, ReactivationStatus.LOST.value))
        )
    for name in ("region", "segment"):
        if population.get(name) is not None:
            query = query.where(a.c[name] == population[name])
    first: dict[int, dict[str, Any]] = {}
    for row in conn.execute(query).mappings():
        first.setdefault(int(row["account_id"]), dict(row))
    return list(first.items())


def _outcome(
    conn: Connection,
    org_id: int,
    metric: str,
    members: list[tuple[int, dict[str, Any]]],
    end: datetime,
    maturation: timedelta,
) -> dict[int, bool]:
    """Per account: the metric's 0/1 outcome, for members whose outcome is known by `end`."""
    out: dict[int, bool] = {}
    if metric in ("activation_rate", "failure_rate"):
        for account, row in members:
            if row["started_at"] + maturation > end:
                continue  # censored: too young to tell
            if metric == "activation_rate":
                done = row["completed_at"]
                out[account] = (
                    row["status"] == OnboardingStatus.COMPLETED.value
                    and done is not None
                    and done <= row["started_at"] + maturation
                )
            else:
                out[account] = row["status"] == OnboardingStatus.FAILED.value
    elif metric == "win_rate":
        out = {acc: row["status"] == ReactivationStatus.WON.value for acc, row in members}
    elif metric == "reincidence_rate":
        won = [
            (acc, row)
            for acc, row in members
            if row["status"] == ReactivationStatus.WON.value
            and row["resolved_at"] + maturation <= end
        ]
        relapses = relapse_times(conn, org_id, [acc for acc, _ in won])
        for acc, row in won:
            resolved = row["resolved_at"]
            out[acc] = any(resolved < at <= resolved + maturation for at in relapses.get(acc, []))
    elif metric == "detractor_rate":
        f = ChannelFeedback.__table__
        entered = {acc: row for acc, row in members}
        ids = list(entered)
        for i in range(0, len(ids), 500):
            answers: list[Any] = list(
                conn.execute(
                    select(f.c.account_id, f.c.score, f.c.created_at).where(
                        f.c.org_id == org_id,
                        f.c.kind == "NPS",
                        f.c.score.is_not(None),
                        f.c.created_at < end,
                        f.c.account_id.in_(ids[i : i + 500]),
                    )
                )
            )
            for acc, score, at in answers:
                entry = entered[int(acc)]
                if at < entry.get("started_at", entry.get("resolved_at")):
                    continue  # answered before entering the experiment
                out[int(acc)] = out.get(int(acc), False) or score <= DETRACTOR_MAX_SCORE
    return out


def _compare(
    groups: Mapping[str, dict[int, bool]],
    control: str,
    treatment: str,
    direction: str,
    alpha: float,
) -> dict[str, Any]:
    c, t = groups[control], groups[treatment]
    if not c or not t:
        return {"n_control": len(c), "n_treatment": len(t), "status": "insufficient_data"}
    cmp = compare_proportions(sum(t.values()), len(t), sum(c.values()), len(c))
    better = cmp.diff > 0 if direction == "increase" else cmp.diff < 0
    significant = cmp.p_value < alpha
    return {
        "rate_control": cmp.rate_b,
        "rate_treatment": cmp.rate_a,
        "n_control": len(c),
        "n_treatment": len(t),
        "estimate": cmp.diff,
        "ci": [cmp.ci_low, cmp.ci_high],
        "p_value": cmp.p_value,
        "test": cmp.test,
        "status": "better"
        if significant and better
        else "worse"
        if significant
        else "no_difference",
    }


def evaluate_experiment(
    conn: Connection, org_id: int, plan: Mapping[str, Any], implemented_at: datetime, end: datetime
) -> dict[str, Any]:
    """The results of one plan, read the way its design says.

    A group-sequential design (`design.kind`) is read at each of its looks that `end`
    has reached, on its decision metric (the leading metric when the plan chose one)
    with the plan's stored boundaries, and stops at the first look whose |z| crosses
    one; any other plan is read once, at `end`.
    """
    design = plan.get("design") or {}
    if design.get("kind") != "group_sequential" or len(arms_of(plan)) < 2:
        return _evaluate_fixed(conn, org_id, plan, implemented_at, end)
    return _evaluate_sequential(conn, org_id, plan, implemented_at, end)


def _evaluate_sequential(
    conn: Connection, org_id: int, plan: Mapping[str, Any], implemented_at: datetime, end: datetime
) -> dict[str, Any]:
    design = plan["design"]
    metric = design.get("metric") or {}
    name = str(metric.get("name") or plan.get("primary_metric", {}).get("name", ""))
    direction = str(metric.get("direction") or plan.get("primary_metric", {}).get("direction"))
    window = timedelta(days=int(metric.get("window_days") or plan.get("maturation_days") or 0))
    entries_end = implemented_at + timedelta(weeks=int(design.get("enrollment_weeks") or 0))
    population = plan.get("population", {})
    source = population.get("source", "onboardings")
    arms = arms_of(plan)
    control, treatment = arms[0][0], arms[-1][0]
    stop = plan.get("stopping_rule", {})
    harm_alpha = float(stop.get("harm_alpha", 0.01))
    looks_read: list[dict[str, Any]] = []
    stopped: dict[str, Any] | None = None
    by_arm: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    at = end
    for look in design.get("looks") or []:
        at = implemented_at + timedelta(days=int(look["day"]))
        if at > end:
            break
        members = _members(
            conn, org_id, source, population, Window(implemented_at, min(at, entries_end))
        )
        by_arm = {n: [] for n, _ in arms}
        for member in members:
            by_arm[assign_arm(member[0], plan["experiment_key"], arms)].append(member)
        groups = {n: _outcome(conn, org_id, name, m, at, window) for n, m in by_arm.items()}
        t, c = groups[treatment], groups[control]
        read = read_look(
            sum(t.values()), len(t), sum(c.values()), len(c), float(look["boundary_z"]), direction
        )
        looks_read.append({"look": look["look"], "at": at.isoformat(), **read})
        if read["crossed"]:
            stopped = looks_read[-1]
            break
    last_look = (design.get("looks") or [{}])[-1]
    finished = stopped is not None or (
        bool(looks_read) and looks_read[-1]["look"] == last_look.get("look")
    )
    read_at = min(at, end) if looks_read else end
    sizes = {n: len(by_arm.get(n, [])) for n, _ in arms}
    srm_p = (
        sample_ratio_p_value([sizes[n] for n, _ in arms], [s for _, s in arms])
        if sum(sizes.values())
        else None
    )
    primary_def = plan.get("primary_metric", {})
    primary_window = timedelta(days=int(plan.get("maturation_days") or 0))

    def measure(metric_name: str, better: str, maturity: timedelta, level: float) -> dict[str, Any]:
        groups = {
            n: _outcome(conn, org_id, metric_name, m, read_at, maturity) for n, m in by_arm.items()
        }
        return {
            "metric": metric_name,
            "direction": better,
            **_compare(groups, control, treatment, better, level),
        }

    decision = measure(name, direction, window, float(plan.get("alpha", 0.05)))
    primary = measure(
        primary_def.get("name", ""),
        primary_def.get("direction", "increase"),
        primary_window,
        float(plan.get("alpha", 0.05)),
    )
    guardrails = [
        measure(g["metric"], g["direction"], primary_window, harm_alpha)
        for g in plan.get("guardrails", [])
    ]
    srm_threshold = float(stop.get("srm_p_threshold", 0.001))
    if srm_p is not None and srm_p < srm_threshold:
        verdict = "srm_invalid"
    elif not looks_read or decision["status"] == "insufficient_data":
        verdict = "insufficient_data"
    elif any(g["status"] == "worse" for g in guardrails):
        verdict = "worse"
    elif stopped is not None:
        verdict = "improved" if stopped["better"] else "worse"
    elif not finished:
        verdict = "in_progress"
    else:
        verdict = "no_effect"
    return {
        "design": "group_sequential",
        "decision_metric": {"name": name, "window_days": window.days},
        "looks": looks_read,
        "stopped_at_look": stopped["look"] if stopped else None,
        "stopped_early": bool(stopped and stopped["look"] != last_look.get("look")),
        "arms": sizes,
        "srm_p": srm_p,
        "estimate": decision.get("estimate"),
        "ci": decision.get("ci"),
        "p_value": decision.get("p_value"),
        "decision": decision,
        "primary": primary,
        "guardrails": guardrails,
        "verdict": verdict,
        "window": {"start": implemented_at.isoformat(), "end": read_at.isoformat()},
    }


def _evaluate_fixed(
    conn: Connection, org_id: int, plan: Mapping[str, Any], implemented_at: datetime, end: datetime
) -> dict[str, Any]:
    """The results of one plan: arm sizes, SRM, primary metric, guardrails and the verdict."""
    population = plan.get("population", {})
    source = population.get("source", "onboardings")
    arms = arms_of(plan)
    maturation = timedelta(days=int(plan.get("maturation_days") or 0))
    stop = plan.get("stopping_rule", {})
    alpha, harm_alpha = float(plan.get("alpha", 0.05)), float(stop.get("harm_alpha", 0.01))
    after = _members(conn, org_id, source, population, Window(implemented_at, end))
    if len(arms) >= 2:
        control, treatment = arms[0][0], arms[-1][0]
        by_arm: dict[str, list[tuple[int, dict[str, Any]]]] = {name: [] for name, _ in arms}
        for member in after:
            by_arm[assign_arm(member[0], plan["experiment_key"], arms)].append(member)
        sizes = {name: len(by_arm[name]) for name, _ in arms}
        srm_p = (
            sample_ratio_p_value([sizes[n] for n, _ in arms], [s for _, s in arms])
            if sum(sizes.values())
            else None
        )
        design = "ab"
    else:  # no control arm: the same span before the change is the reference
        control, treatment = "before", "after"
        span = end - implemented_at
        before = _members(
            conn, org_id, source, population, Window(implemented_at - span, implemented_at)
        )
        by_arm = {"before": before, "after": after}
        sizes = {k: len(v) for k, v in by_arm.items()}
        srm_p, design = None, "before_after"

    def measure(
        metric: str, direction: str, level: float, window: timedelta = maturation
    ) -> dict[str, Any]:
        groups = {
            name: _outcome(conn, org_id, metric, members, end, window)
            for name, members in by_arm.items()
        }
        return {
            "metric": metric,
            "direction": direction,
            **_compare(groups, control, treatment, direction, level),
        }

    primary_def = plan.get("primary_metric", {})
    primary = measure(primary_def.get("name", ""), primary_def.get("direction", "increase"), alpha)
    # a design that decides on a leading metric is judged on it (its shorter window);
    # the primary metric is reported beside it, on the entries mature by then
    lead = (plan.get("design") or {}).get("metric") or {}
    decision = primary
    if lead.get("leading"):
        decision = measure(
            str(lead.get("name")),
            str(lead.get("direction") or primary_def.get("direction", "increase")),
            alpha,
            timedelta(days=int(lead.get("window_days") or 0)),
        )
    guardrails = [
        measure(g["metric"], g["direction"], harm_alpha) for g in plan.get("guardrails", [])
    ]
    srm_threshold = float(stop.get("srm_p_threshold", 0.001))
    if srm_p is not None and srm_p < srm_threshold:
        verdict = "srm_invalid"
    elif decision["status"] == "insufficient_data":
        verdict = "insufficient_data"
    elif decision["status"] == "worse" or any(g["status"] == "worse" for g in guardrails):
        verdict = "worse"
    elif decision["status"] == "better":
        verdict = "improved"
    else:
        verdict = "no_effect"
    return {
        "design": design,
        "decision_metric": (
            {"name": lead.get("name"), "window_days": int(lead.get("window_days") or 0)}
            if lead.get("leading")
            else {"name": primary_def.get("name"), "window_days": maturation.days}
        ),
        "decision": decision,
        "arms": sizes,
        "srm_p": srm_p,
        "estimate": decision.get("estimate"),
        "ci": decision.get("ci"),
        "p_value": decision.get("p_value"),
        "primary": primary,
        "guardrails": guardrails,
        "verdict": verdict,
        "window": {"start": implemented_at.isoformat(), "end": end.isoformat()},
    }


def _end_of(as_of: date, timezone: str) -> datetime:
    local = datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=ZoneInfo(timezone))
    return local.astimezone(UTC).replace(tzinfo=None)


def check_experiment_results(
    session: Session, org_id: int, as_of: date, timezone: str = "America/Sao_Paulo"
) -> list[PolicyProposal]:
    """Store `implementation_results` of every IMPLEMENTED proposal whose planned duration
    passed, or, for a group-sequential design, whose first look passed.

    Safe to run twice: results are recomputed from the source tables and overwritten.
    """
    end = _end_of(as_of, timezone)
    checked: list[PolicyProposal] = []
    rows = session.scalars(
        select(PolicyProposal).where(
            PolicyProposal.org_id == org_id,
            PolicyProposal.status == ProposalStatus.IMPLEMENTED,
            PolicyProposal.implemented_at.is_not(None),
        )
    ).all()
    for row in rows:
        plan = row.experiment_plan or {}
        days = plan.get("expected_duration_days")
        if not plan or days is None or row.implemented_at is None:
            continue  # no plan, or no observed volume to plan a duration with
        design = plan.get("design") or {}
        if design.get("kind") == "group_sequential" and design.get("looks"):
            days = design["looks"][0]["day"]  # a sequential test is read from its first look
        if row.implemented_at + timedelta(days=int(days)) > end:
            continue
        row.implementation_results = evaluate_experiment(
            session.connection(), org_id, plan, row.implemented_at, end
        )
        row.results_checked_at = utc_now()
        checked.append(row)
    session.flush()
    return checked
