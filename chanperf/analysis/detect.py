"""Run the detectors: every comparison each one tested, with p-values adjusted together.

Detectors return findings for every comparison they tested (significant or not), so
that the run-wide Benjamini–Hochberg adjustment counts every test. Rules decide which
findings matter.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine

from chanperf.analysis.context import AnalysisContext
from chanperf.analysis.detectors import (
    alignment,
    churn,
    cohorts,
    drift,
    onboarding,
    policy,
    reactivation,
    state,
)
from chanperf.analysis.findings import Finding
from chanperf.core.stats import benjamini_hochberg

log = logging.getLogger(__name__)

Detector = Callable[[Connection, AnalysisContext], list[Finding]]


def detectors() -> list[tuple[str, Detector]]:
    """Every detector, in the order of the detector table in docs/detection.md."""
    return [
        ("detect_kit_effectiveness", onboarding.detect_kit_effectiveness),
        ("detect_region_patterns", onboarding.detect_region_patterns),
        ("analyze_onboarding_patterns", onboarding.analyze_onboarding_patterns),
        ("detect_discount_patterns", reactivation.detect_discount_patterns),
        ("analyze_strategy_effectiveness", reactivation.analyze_strategy_effectiveness),
        ("detect_reincidence_patterns", reactivation.detect_reincidence_patterns),
        ("detect_bottlenecks", state.detect_bottlenecks),
        ("predict_churn_risk", churn.predict_churn_risk),
        ("detect_excessive_exceptions", policy.detect_excessive_exceptions),
        ("detect_policy_gaps", policy.detect_policy_gaps),
        ("detect_compliance_drift", reactivation.detect_compliance_drift),
        ("detect_misalignments", alignment.detect_misalignments),
        ("detect_metric_drift", drift.detect_metric_drift),
    ]


def adjust_p_values(findings: Sequence[Finding], q: float = 0.05) -> list[Finding]:
    """Set `p_value_adj` on every finding: one Benjamini–Hochberg family per run."""
    adjusted = benjamini_hochberg(
        [f.p_value if f.p_value is not None else float("nan") for f in findings], q
    )
    return [
        dataclasses.replace(f, p_value_adj=None if f.p_value is None else adj)
        for f, adj in zip(findings, adjusted, strict=True)
    ]


# Detectors that read chanperf's stored metrics rather than the source tables; with a
# separate source database (CHANPERF_SOURCE_DATABASE_URL) they get the main connection.
READS_METRICS = frozenset({"detect_metric_drift"})


def run_detectors(
    conn: Connection,
    ctx: AnalysisContext,
    only: Sequence[str] | None = None,
    metrics_conn: Connection | None = None,
) -> list[Finding]:
    """Run the detectors (all, or those named in `only`) and adjust their p-values together.

    `conn` reads the source tables; `metrics_conn` (default: `conn`) chanperf's metrics.
    """
    findings: list[Finding] = []
    with reading_ahead(conn, ctx, enabled=only is None):
        for name, detect in detectors():
            if only is not None and name not in only:
                continue
            reader = metrics_conn if metrics_conn is not None and name in READS_METRICS else conn
            found = detect(reader, ctx)
            log.debug("%s: %d finding(s)", name, len(found))
            findings.extend(found)
    return adjust_p_values(findings)


Read = tuple[Hashable, Callable[[Connection], Any]]


def reads_ahead(ctx: AnalysisContext) -> list[Read]:
    """The run's grouped reads whose time is mostly the server's, first needed first."""
    return [cohorts.states_read(ctx), cohorts.account_orders_read(ctx)]


@contextmanager
def reading_ahead(conn: Connection, ctx: AnalysisContext, enabled: bool = True) -> Iterator[None]:
    """On MariaDB/MySQL, run `reads_ahead` on a second connection while the detectors work.

    The server aggregates those reads (seconds at 100k accounts) while this process decodes
    and tests the others; the detectors take them from the context when they get there.
    SQLite runs in this process anyway: nothing to overlap.
    """
    if not enabled or conn.dialect.name not in ("mysql", "mariadb"):
        yield
        return
    engine = conn.engine
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as pool:
        pending = []
        for key, read in reads_ahead(ctx):
            future = pool.submit(_on_own_connection, engine, read)
            ctx.ahead(key, future)
            pending.append(future)
        try:
            yield
        finally:
            for future in pending:
                future.cancel()  # a read nobody asked for (a failed run) is not started


def _on_own_connection(engine: Engine, read: Callable[[Connection], Any]) -> Any:
    with engine.connect() as conn:
        return read(conn)
