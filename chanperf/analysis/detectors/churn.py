"""Churn risk: a per-account logistic model and the share of accounts at risk.

The population, features, label, training and held-back snapshots, and why the health
score stays out of the scoring model are in docs/detection.md ("Churn risk").
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps
from sqlalchemy import Connection, select
from statsmodels.discrete.discrete_model import Logit
from statsmodels.tools.tools import add_constant

from chanperf.analysis.context import AnalysisContext
from chanperf.analysis.detectors.cohorts import (
    RECENCY_CAP_DAYS,
    account_orders,
    account_orders_read,
    accounts,
    churn_instants,
    states_at,
)
from chanperf.analysis.detectors.comparisons import days_between, local_day, two_proportions
from chanperf.analysis.findings import ChurnRisk, Finding
from chanperf.core.enums import AccountState
from chanperf.models.source import ChannelStateTransition
from chanperf.source.frames import floats
from chanperf.source.indexes import by_time

FEATURES = ("recency_days", "orders_90d", "revenue_trend", "health_score", "health_missing")
HEALTH_FEATURES = ("health_score", "health_missing")
MODEL_FEATURES = tuple(f for f in FEATURES if f not in HEALTH_FEATURES)
POPULATION = (AccountState.ACTIVE.value, AccountState.AT_RISK.value)
CHURN_STATES = (AccountState.STALLED.value, AccountState.CHURNED.value)
# revenue_at_risk: the at-risk accounts' revenue over the last 180 days, per month. Their
# last 90 days alone understate it: an account at risk has mostly stopped buying already.
MONTHS_IN_REVENUE = 6.0


@dataclass(frozen=True)
class ChurnModel:
    """A fitted model: standardisation, coefficients (intercept first) and its held-back AUC."""

    features: tuple[str, ...]
    center: tuple[float, ...]
    scale: tuple[float, ...]
    coefficients: tuple[float, ...]
    health_median: float
    trained_at: datetime
    n_train: int
    positives_train: int
    auc_train: float | None

    def score(self, snap: pd.DataFrame) -> np.ndarray:
        if snap.empty:
            return np.array([], dtype=float)
        x = (
            design(snap, self.health_median)[list(self.features)].to_numpy(float) - self.center
        ) / self.scale
        z = self.coefficients[0] + x @ np.asarray(self.coefficients[1:])
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=float)


def snapshot(conn: Connection, ctx: AnalysisContext, at: datetime) -> pd.DataFrame:
    """The population at `at` with raw features and revenue_90d (see the module doc),
    built once per run and instant; each caller gets its own copy."""
    return ctx.once(("churn_snapshot", at), lambda: _snapshot(conn, ctx, at)).copy()


def _health(conn: Connection, ctx: AnalysisContext) -> pd.DataFrame:
    return accounts(conn, ctx)[["account_id", "health_score"]]


def _orders_at(conn: Connection, ctx: AnalysisContext, at: datetime) -> pd.DataFrame:
    """Accounts with an order in the recency cap before `at`: last_order, orders_90d,
    revenue_90d, revenue_prior_90d. The run's instants share one read (`account_orders`)."""
    at_times: tuple[datetime, ...] = churn_instants(ctx)
    if at in at_times:
        key, read = account_orders_read(ctx)
        wide: pd.DataFrame = ctx.once(key, lambda: read(conn))
    else:
        at_times = (at,)
        wide = account_orders(conn, ctx.org_id, at_times)
    i = at_times.index(at)
    names = ["last_order", "orders_90d", "revenue_90d", "revenue_prior_90d"]
    part = wide[["account_id", *(f"{n}_{i}" for n in names)]]
    part = part[part[f"last_order_{i}"].notna()]
    return part.set_axis(["account_id", *names], axis=1).reset_index(drop=True)


def _snapshot(conn: Connection, ctx: AnalysisContext, at: datetime) -> pd.DataFrame:
    states = states_at(conn, ctx, at)
    pop = states[states["state"].isin(POPULATION)].drop(columns="entered_at")
    orders = _orders_at(conn, ctx, at)
    health = _health(conn, ctx)
    snap = pop.merge(orders, on="account_id", how="left").merge(health, on="account_id", how="left")
    recency = (
        days_between(snap["last_order"], at)
        if snap["last_order"].notna().any()
        else pd.Series(math.nan)
    )
    snap["recency_days"] = (
        recency.reindex(snap.index).fillna(RECENCY_CAP_DAYS).clip(0, RECENCY_CAP_DAYS)
    )
    snap["orders_90d"] = snap["orders_90d"].fillna(0).astype(float)
    snap["revenue_90d"] = floats(snap["revenue_90d"]).fillna(0.0)
    snap["revenue_prior_90d"] = floats(snap["revenue_prior_90d"]).fillna(0.0)
    snap["revenue_trend"] = np.log1p(snap["revenue_90d"].clip(lower=0)) - np.log1p(
        snap["revenue_prior_90d"].clip(lower=0)
    )
    snap["health_score"] = floats(snap["health_score"])
    return snap.drop(columns=["last_order"]).reset_index(drop=True)


def churned_within(
    conn: Connection, ctx: AnalysisContext, at: datetime, horizon_days: int
) -> set[int]:
    """Accounts with a transition to STALLED or CHURNED in (at, at + horizon]."""
    t = ChannelStateTransition.__table__
    query = (
        select(t.c.account_id)
        .distinct()
        .where(
            t.c.org_id == ctx.org_id,
            t.c.to_state.in_(CHURN_STATES),
            t.c.transitioned_at > at,
            t.c.transitioned_at <= at + timedelta(days=horizon_days),
        )
    )
    rows = conn.execute(by_time(conn, query, t, t.c.transitioned_at))
    return {int(r[0]) for r in rows}


def design(snap: pd.DataFrame, health_median: float) -> pd.DataFrame:
    out = snap[["recency_days", "orders_90d", "revenue_trend"]].astype(float).copy()
    missing = snap["health_score"].isna()
    out["health_score"] = snap["health_score"].fillna(health_median).astype(float)
    out["health_missing"] = missing.astype(float)
    return out


def auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve as Mann–Whitney U / (n1 × n0); None without both classes."""
    pos, neg = scores[labels], scores[~labels]
    if len(pos) == 0 or len(neg) == 0:
        return None
    u = sps.mannwhitneyu(pos, neg, alternative="two-sided").statistic
    return float(u) / (len(pos) * len(neg))


def fit_model(
    snap: pd.DataFrame, labels: np.ndarray, at: datetime, features: tuple[str, ...] = MODEL_FEATURES
) -> ChurnModel | None:
    """Logit of the labels on the standardised features; None when one class is missing."""
    positives = int(labels.sum())
    if positives == 0 or positives == len(labels):
        return None
    health_median = (
        float(snap["health_score"].median()) if snap["health_score"].notna().any() else 0.0
    )
    x_all = design(snap, health_median)
    std = x_all.std(ddof=0)
    # A constant column (e.g. no health score anywhere) carries nothing and makes the fit singular.
    used = tuple(f for f in features if std[f] > 0)
    x = x_all[list(used)].to_numpy(float)
    center, scale = x.mean(axis=0), x.std(axis=0)
    exog = add_constant((x - center) / scale, has_constant="add")
    y = labels.astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # separation/convergence warnings: the fallback handles them
        try:
            params = Logit(y, exog).fit(disp=0, maxiter=200).params
            if not np.all(np.isfinite(params)):
                raise ValueError("non-finite coefficients")
        except Exception:  # perfect separation or a singular Hessian: a lightly penalised fit
            params = Logit(y, exog).fit_regularized(alpha=0.1, disp=0).params
    model = ChurnModel(
        used,
        tuple(float(v) for v in center),
        tuple(float(v) for v in scale),
        tuple(float(v) for v in params),
        health_median,
        at,
        len(labels),
        positives,
        None,
    )
    return _with_train_auc(model, snap, labels)


def _with_train_auc(model: ChurnModel, snap: pd.DataFrame, labels: np.ndarray) -> ChurnModel:
    return replace(model, auc_train=auc(model.score(snap), labels))


@dataclass(frozen=True)
class _Fitted:
    model: ChurnModel | None
    train_at: datetime
    holdout_at: datetime
    holdout: pd.DataFrame
    holdout_labels: np.ndarray
    train: pd.DataFrame
    train_labels: np.ndarray


def _fit(conn: Connection, ctx: AnalysisContext) -> _Fitted:
    """The model trained at T0 and its held-back snapshot at T1, once per run."""
    return ctx.once(("churn_fit",), lambda: _fit_once(conn, ctx))


def _fit_once(conn: Connection, ctx: AnalysisContext) -> _Fitted:
    horizon = ctx.config.churn_horizon_days
    t0, t1, _now = churn_instants(ctx)
    train = snapshot(conn, ctx, t0)
    train_labels = train["account_id"].isin(churned_within(conn, ctx, t0, horizon)).to_numpy(bool)
    holdout = snapshot(conn, ctx, t1)
    holdout_labels = (
        holdout["account_id"].isin(churned_within(conn, ctx, t1, horizon)).to_numpy(bool)
    )
    model = fit_model(train, train_labels, t0) if len(train) > len(MODEL_FEATURES) + 1 else None
    return _Fitted(model, t0, t1, holdout, holdout_labels, train, train_labels)


def churn_model_report(conn: Connection, ctx: AnalysisContext) -> dict[str, Any]:
    """The model's features, coefficients (per standard deviation), sizes and AUCs."""
    fitted = _fit(conn, ctx)
    model = fitted.model
    report: dict[str, Any] = {
        "train_snapshot": fitted.train_at.isoformat(),
        "holdout_snapshot": fitted.holdout_at.isoformat(),
        "horizon_days": ctx.config.churn_horizon_days,
        "n_train": len(fitted.train),
        "positives_train": int(fitted.train_labels.sum()),
        "n_holdout": len(fitted.holdout),
        "positives_holdout": int(fitted.holdout_labels.sum()),
        "features": list(model.features) if model else [],
        "coefficients": {},
        "intercept": None,
        "auc_train": None,
        "auc_holdout": None,
        "auc_holdout_with_health": None,
    }
    if model is None:
        return report
    report["coefficients"] = dict(zip(model.features, model.coefficients[1:], strict=True))
    report["intercept"] = model.coefficients[0]
    report["auc_train"] = model.auc_train
    report["auc_holdout"] = auc(model.score(fitted.holdout), fitted.holdout_labels)
    leaky = fit_model(fitted.train, fitted.train_labels, fitted.train_at, FEATURES)
    if leaky is not None:
        report["auc_holdout_with_health"] = auc(leaky.score(fitted.holdout), fitted.holdout_labels)
    return report


def risk_threshold(fitted: _Fitted, model: ChurnModel, ctx: AnalysisContext) -> float:
    """Score of the riskiest `churn_risk_top_share` of the held-back snapshot's accounts."""
    scores = model.score(fitted.holdout)
    if len(scores) == 0:
        return 1.0
    return float(np.quantile(scores, 1 - ctx.config.churn_risk_top_share))


def _scored(
    conn: Connection, ctx: AnalysisContext, model: ChurnModel, at: datetime, threshold: float
) -> pd.DataFrame:
    snap = snapshot(conn, ctx, at)
    snap["score"] = model.score(snap)
    snap["at_risk"] = snap["score"] >= threshold
    return snap


def accounts_at_risk(
    conn: Connection,
    ctx: AnalysisContext,
    segment: str | None = None,
    region: str | None = None,
    limit: int = 100,
) -> pd.DataFrame:
    """Accounts scored at or above the threshold at the end of the as-of day, riskiest first.

    Columns: account_id, region, segment, state, score, recency_days, orders_90d,
    revenue_trend, health_score (None when missing), revenue_90d.
    """
    columns = [
        "account_id",
        "region",
        "segment",
        "state",
        "score",
        "recency_days",
        "orders_90d",
        "revenue_trend",
        "health_score",
        "revenue_90d",
    ]
    fitted = _fit(conn, ctx)
    model = fitted.model
    if model is None:
        return pd.DataFrame(columns=columns)
    snap = _scored(conn, ctx, model, ctx.end_utc, risk_threshold(fitted, model, ctx))
    risky = snap[snap["at_risk"]]
    if segment is not None:
        risky = risky[risky["segment"] == segment]
    if region is not None:
        risky = risky[risky["region"] == region]
    risky = risky.sort_values(["score", "account_id"], ascending=[False, True]).head(limit)
    return risky[columns].reset_index(drop=True)


def predict_churn_risk(conn: Connection, ctx: AnalysisContext) -> list[Finding]:
    """Share of accounts at risk now (b) vs at the held-back snapshot (a), per segment and region."""
    fitted = _fit(conn, ctx)
    model = fitted.model
    if model is None:
        return []
    holdout_auc = auc(model.score(fitted.holdout), fitted.holdout_labels)
    threshold = risk_threshold(fitted, model, ctx)
    now = _scored(conn, ctx, model, ctx.end_utc, threshold)
    then = _scored(conn, ctx, model, fitted.holdout_at, threshold)
    findings: list[Finding] = []
    for dimension in ("segment", "region"):
        values = sorted(set(now[dimension]) & set(then[dimension]), key=str)
        for value in values:
            b, a = now[now[dimension] == value], then[then[dimension] == value]
            x_b, x_a = int(b["at_risk"].sum()), int(a["at_risk"].sum())
            if x_a + x_b == 0:
                continue  # nobody at risk at either snapshot: nothing to compare
            extra: dict[str, float | int | str] = {
                "baseline_snapshot": local_day(ctx, fitted.holdout_at).isoformat(),
                "score_threshold": threshold,
                "baseline_at_risk_count": x_a,
                "mean_score": float(b["score"].mean()),
                "n_train": model.n_train,
            }
            if holdout_auc is not None:
                extra["auc_holdout"] = holdout_auc
            findings.append(
                ChurnRisk(
                    org_id=ctx.org_id,
                    period_start=local_day(ctx, fitted.holdout_at),
                    period_end=ctx.as_of,
                    filters={dimension: str(value)},
                    segment=str(value) if dimension == "segment" else None,
                    region=str(value) if dimension == "region" else None,
                    at_risk_count=x_b,
                    revenue_at_risk=float(
                        b.loc[b["at_risk"], ["revenue_90d", "revenue_prior_90d"]].to_numpy().sum()
                    )
                    / MONTHS_IN_REVENUE,
                    **two_proportions(x_b, len(b), x_a, len(a)),
                    extra=extra,
                )
            )
    return findings
