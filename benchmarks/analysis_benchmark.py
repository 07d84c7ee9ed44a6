"""The whole analysis at N accounts, phase by phase, with peak memory, against a pandas peer.

    .venv/bin/python benchmarks/analysis_benchmark.py --backend sqlite --accounts 30000
    .venv/bin/python benchmarks/analysis_benchmark.py --backend mariadb --accounts 100000 --buffer-pool-mb 1024
    .venv/bin/python benchmarks/analysis_benchmark.py --scaling 6000,30000,100000     # SQLite ratios

Generates the planted scenario's channel at N accounts with the demo generator (18 months
as of 2026-06-30; SQLite through insert(), MariaDB through CSV and LOAD DATA), then runs
each phase in a process of its own, so each phase's peak RSS is its own (it includes the
imports, printed apart as "baseline"):

- generate: the demo generator writing the source tables;
- backfill: `collect --backfill` (every day, week and month), first run and median of 3;
- daily: one day's collect after the backfill (the daily job), median of 3 warm;
- detectors, rules, store: the parts of an analysis (run_detectors; rule evaluation;
  insights and proposals written in a transaction rolled back), median of 3;
- analyze: a whole `chanperf analyze`, first run (every period collected) and median of 3
  (the periods stored at its as-of are reused);
- weekly: the weekly run: collect yesterday, then an analysis without proposals, with the
  stored periods as the previous week's run left them (those not final then are read again);
- peer: pandas reading the source tables and computing the monthly rows (pandas_peer.py),
  checked against chanperf's stored MONTHLY rows.

Targets (printed beside the figures): SQLite analysis of 30k <= 6x and 100k <= 20x that of
6k; MariaDB 100k whole analysis <= 8 s; 1M weekly run <= 60 s and <= 2 GB; backfill <=
0.5x the peer's time and <= 0.25x its peak memory.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

AS_OF = date(2026, 6, 30)
OBSERVED = datetime(2026, 7, 1, 3)  # the end of the as-of day in Sao Paulo, naive UTC
MYSQL_SERVER = os.environ.get("CHANPERF_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
REPEAT = 3


# ---------------------------------------------------------------- phases (child processes)


def _settings(url: str) -> Any:
    from chanperf.core.settings import REPO_ROOT, Settings

    return Settings(
        database_url=url, policies_dir=REPO_ROOT / "policies", rules_dir=REPO_ROOT / "rules"
    )


def _median_of(
    fn: Callable[[], object], repeat: int = REPEAT, warm: bool = True
) -> dict[str, float]:
    first = _timed(fn)
    runs = [_timed(fn) for _ in range(repeat)] if warm else []
    return {"first": first, "median": statistics.median(runs) if runs else first}


def _timed(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def phase_baseline(url: str, accounts: int) -> dict[str, Any]:
    import chanperf.cli.main  # noqa: F401 - what every chanperf process loads

    return {}


def phase_generate(url: str, accounts: int) -> dict[str, Any]:
    from chanperf.core.database import make_engine
    from chanperf.demo import generator
    from chanperf.demo.scenario_file import load_scenario
    from chanperf.migrations.upgrade import upgrade

    upgrade(url)
    scn = load_scenario("planted")
    period = generator.period_for(AS_OF, scn.history_months, ZoneInfo("America/Sao_Paulo"))
    began = time.perf_counter()
    data = generator.generate(scn, seed=7, accounts=accounts, period=period, org_id=1)
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            generator.write(conn, data)
    else:
        _load_data(engine, data)
    engine.dispose()
    return {"seconds": time.perf_counter() - began, "rows": sum(data.counts().values())}


def _load_data(engine: Any, data: Any) -> None:
    """LOAD DATA from CSV, secondary indexes built after the load (one sort each)."""
    from chanperf.demo.generator import SOURCE_ORDER
    from chanperf.models.base import Base

    with tempfile.TemporaryDirectory() as folder, engine.begin() as conn:
        for table in SOURCE_ORDER:
            rows = data.tables[table.name]
            columns = [c.name for c in table.columns]
            path = Path(folder) / f"{table.name}.csv"
            with path.open("w", newline="") as f:
                # LOAD DATA ends lines at "\n": csv's default "\r\n" would leave "\r" in the
                # last column, turning its NULLs into zero dates and its strings into others.
                out = csv.writer(f, lineterminator="\n")
                for chunk in rows.chunks(50_000):
                    out.writerows(
                        ["\\N" if r.get(c) is None else r[c] for c in columns] for r in chunk
                    )
            for index in Base.metadata.tables[table.name].indexes:
                index.drop(conn)
            conn.execute(
                text(
                    f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {table.name} "
                    f"FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ({', '.join(columns)})"
                )
            )
            for index in Base.metadata.tables[table.name].indexes:
                index.create(conn)
            conn.execute(text(f"ANALYZE TABLE {table.name}"))


def phase_backfill(url: str, accounts: int) -> dict[str, Any]:
    from chanperf.metrics.collect import collect

    settings = _settings(url)
    return _median_of(lambda: collect(settings, 1, None, AS_OF, as_of=OBSERVED, backfill=True))


def phase_daily(url: str, accounts: int) -> dict[str, Any]:
    from chanperf.metrics.collect import collect

    settings = _settings(url)
    return _median_of(lambda: collect(settings, 1, AS_OF, AS_OF, as_of=OBSERVED))


def phase_parts(url: str, accounts: int) -> dict[str, Any]:
    """The analysis without its collect, part by part, in one transaction rolled back."""
    from chanperf.analysis.context import analysis_context, load_packs
    from chanperf.analysis.detect import run_detectors
    from chanperf.core.database import make_engine, session_factory
    from chanperf.insights.drafts import build_insight_drafts
    from chanperf.insights.impact import impact_basis
    from chanperf.insights.store import generate_insights
    from chanperf.proposals.store import make_proposal_hook
    from chanperf.rules.engine import evaluate

    settings = _settings(url)
    policies, rules = load_packs(settings)
    engine = make_engine(url)
    hook = make_proposal_hook(settings.rules_dir, settings.timezone)
    out: dict[str, list[float]] = {"detectors": [], "rules": [], "store": []}
    for _ in range(REPEAT + 1):
        ctx = analysis_context(settings, 1, AS_OF, policies)
        with engine.connect() as conn:
            began = time.perf_counter()
            findings = run_detectors(conn, ctx)
            out["detectors"].append(time.perf_counter() - began)
            began = time.perf_counter()
            drafts = build_insight_drafts(evaluate(rules, policies, findings))
            out["rules"].append(time.perf_counter() - began)
        session = session_factory(engine)()
        try:
            began = time.perf_counter()
            basis = impact_basis(session.connection(), 1, ctx.end_utc)
            sync = generate_insights(session, 1, drafts, basis)
            hook(session, 1, drafts, sync, policies)
            session.flush()
            out["store"].append(time.perf_counter() - began)
        finally:
            session.rollback()
            session.close()
    engine.dispose()
    return {k: {"first": v[0], "median": statistics.median(v[1:])} for k, v in out.items()}


def phase_analyze(url: str, accounts: int) -> dict[str, Any]:
    from chanperf.analysis.run import analyze

    settings = _settings(url)
    return _median_of(lambda: analyze(settings, 1, AS_OF))


def phase_weekly(url: str, accounts: int) -> dict[str, Any]:
    """What the weekly job does: yesterday's metrics, then an analysis without proposals.

    Before each run the stored rows are marked as observed a week earlier, as the previous
    weekly run left them, so the analysis reads again every period not final a week ago.
    """
    from chanperf.analysis.run import analyze
    from chanperf.core.database import make_engine
    from chanperf.metrics.collect import collect
    from chanperf.models.performance import PerformanceMetric

    settings = _settings(url)
    engine = make_engine(url)
    table = PerformanceMetric.__table__
    week_before = OBSERVED - timedelta(days=7)

    def weekly() -> float:
        with engine.begin() as conn:
            conn.execute(table.update().values(observed_at=week_before))
        began = time.perf_counter()
        collect(settings, 1, AS_OF, AS_OF, as_of=OBSERVED)
        analyze(settings, 1, AS_OF, with_proposals=False)
        return time.perf_counter() - began

    runs = [weekly() for _ in range(REPEAT + 1)]
    engine.dispose()
    return {"first": runs[0], "median": statistics.median(runs[1:])}


def phase_peer(url: str, accounts: int) -> dict[str, Any]:
    import pandas_peer

    from chanperf.core.enums import PeriodType
    from chanperf.metrics.store import get_metrics

    engine = create_engine(url)
    began = time.perf_counter()
    rows = pandas_peer.monthly_rows(engine, 1, OBSERVED)
    seconds = time.perf_counter() - began
    with engine.connect() as conn:
        stored = get_metrics(conn, 1, PeriodType.MONTHLY, date(2000, 1, 1), AS_OF)
    engine.dispose()
    problems = pandas_peer.compare(rows, stored)
    return {
        "seconds": seconds,
        "months": len(rows),
        "differences": problems[:20],
        "n_differences": len(problems),
    }


PHASES = {
    "baseline": phase_baseline,
    "generate": phase_generate,
    "backfill": phase_backfill,
    "daily": phase_daily,
    "parts": phase_parts,
    "analyze": phase_analyze,
    "weekly": phase_weekly,
    "peer": phase_peer,
}


# ---------------------------------------------------------------- orchestration


def run_phase(name: str, url: str, accounts: int) -> dict[str, Any]:
    """Run one phase in a child process; its result plus the child's peak RSS (MB)."""
    cmd = [
        sys.executable,
        str(Path(__file__)),
        "--phase",
        name,
        "--url",
        url,
        "--accounts",
        str(accounts),
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(HERE)}
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"phase {name} failed (status {status}):\n{output}")
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    return result


def database(
    backend: str, accounts: int, folder: Path, reuse: str | None
) -> tuple[str, Callable[[], None]]:
    if backend == "sqlite":
        path = Path(reuse) if reuse else folder / f"bench-{accounts}.db"
        return f"sqlite:///{path}", lambda: None
    name = reuse or f"chanperf_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(MYSQL_SERVER)
    if not reuse:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))

    def drop() -> None:
        if not reuse:
            with admin.begin() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()

    return f"{MYSQL_SERVER}/{name}?local_infile=1", drop


def set_buffer_pool(mb: int | None) -> Callable[[], None]:
    if mb is None:
        return lambda: None
    admin = create_engine(MYSQL_SERVER)
    with admin.begin() as conn:
        before = conn.execute(text("SELECT @@innodb_buffer_pool_size")).scalar()
        conn.execute(text(f"SET GLOBAL innodb_buffer_pool_size = {mb * 1024 * 1024}"))

    def restore() -> None:
        with admin.begin() as conn:
            conn.execute(text(f"SET GLOBAL innodb_buffer_pool_size = {before}"))
        admin.dispose()

    return restore


def bench(
    backend: str, accounts: int, keep: bool, reuse: str | None, phases: list[str]
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        # A kept SQLite file lives outside the temporary folder, which is removed.
        url, drop = database(backend, accounts, Path(tempfile.mkdtemp() if keep else folder), reuse)
        results: dict[str, Any] = {}
        try:
            for name in phases:
                if reuse and name == "generate":
                    continue
                print(f"  {backend} {accounts:,}: {name} ...", file=sys.stderr, flush=True)
                results[name] = run_phase(name, url, accounts)
        finally:
            if not keep:
                drop()
            else:
                print(f"  kept: {url}", file=sys.stderr)
        return results


def show(backend: str, accounts: int, r: dict[str, Any]) -> None:
    def t(name: str, key: str = "median") -> str:
        v = r.get(name, {})
        value = v.get(key, v.get("seconds"))
        return "—" if value is None else f"{value:.2f} s"

    def m(name: str) -> str:
        return f"{r[name]['peak_rss_mb']:.0f} MB" if name in r else "—"

    print(f"\n{backend}, {accounts:,} accounts")
    print(f"  baseline (imports)      {'':>10} {m('baseline'):>9}")
    if "generate" in r:
        print(
            f"  generate                {r['generate']['seconds']:>8.2f} s {m('generate'):>9}  ({r['generate']['rows']:,} rows)"
        )
    for name in ("backfill", "daily", "analyze", "weekly"):
        if name in r:
            print(f"  {name:<23} {t(name):>10} {m(name):>9}  (first {r[name]['first']:.2f} s)")
    if "parts" in r:
        for part in ("detectors", "rules", "store"):
            print(f"    {part:<21} {r['parts'][part]['median']:>8.2f} s")
        print(f"    {'(peak of the three)':<21} {'':>10} {m('parts'):>9}")
    if "peer" in r:
        p = r["peer"]
        print(
            f"  pandas peer (monthly)   {p['seconds']:>8.2f} s {m('peer'):>9}  {p['months']} months, {p['n_differences']} differences"
        )
        for line in p["differences"]:
            print(f"      {line}")
        if "backfill" in r:
            ratio_t = r["backfill"]["median"] / p["seconds"]
            ratio_m = r["backfill"]["peak_rss_mb"] / r["peer"]["peak_rss_mb"]
            print(
                f"  backfill / peer: time {ratio_t:.2f} (target <= 0.5), peak memory {ratio_m:.2f} (target <= 0.25)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "mariadb"], default="sqlite")
    parser.add_argument("--accounts", type=int, default=6000)
    parser.add_argument("--scaling", help="SQLite sizes to compare, e.g. 6000,30000,100000")
    parser.add_argument(
        "--phases", default="baseline,generate,backfill,daily,parts,analyze,weekly,peer"
    )
    parser.add_argument("--buffer-pool-mb", type=int, default=None)
    parser.add_argument(
        "--keep", action="store_true", help="Keep the database (its URL is printed)."
    )
    parser.add_argument(
        "--reuse", default=None, help="A kept database (SQLite path or MariaDB name)."
    )
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(PHASES[args.phase](args.url, args.accounts), default=str))
        return
    if args.accounts < 100:
        parser.error("--accounts: at least 100")
    phases = [p for p in args.phases.split(",") if p]
    unknown = sorted(set(phases) - set(PHASES))
    if unknown:
        parser.error(f"--phases: unknown {unknown} (known: {', '.join(PHASES)})")
    restore = set_buffer_pool(args.buffer_pool_mb) if args.backend == "mariadb" else (lambda: None)
    try:
        if args.scaling:
            sizes = [int(s) for s in args.scaling.split(",")]
            measured = {n: bench("sqlite", n, False, None, ["generate", "analyze"]) for n in sizes}
            base = measured[sizes[0]]["analyze"]["median"]
            print("\nSQLite scaling: a whole analysis (metrics stored), median of 3")
            for n in sizes:
                a = measured[n]["analyze"]
                print(
                    f"  {n:>9,} accounts  {a['median']:7.2f} s  x{a['median'] / base:5.2f} of {sizes[0]:,}  "
                    f"(x{n / sizes[0]:.0f} accounts)  peak {a['peak_rss_mb']:.0f} MB"
                )
            return
        show(
            args.backend,
            args.accounts,
            bench(args.backend, args.accounts, args.keep, args.reuse, phases),
        )
    finally:
        restore()


if __name__ == "__main__":
    main()
