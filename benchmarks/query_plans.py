"""The plan of every query a collect (and an analysis) runs, on SQLite or MariaDB.

    .venv/bin/python benchmarks/query_plans.py sqlite:////tmp/channel.db
    .venv/bin/python benchmarks/query_plans.py "mysql+pymysql://root@127.0.0.1:3306/chanperf_bench_x" --analysis

Runs one quarter's collect (the analysis's batch size) as of 2026-07-01 03:00 UTC on a
channel the demo or analysis_benchmark.py generated, records each statement with the
chanperf function that ran it, then asks the database for its plan (SQLite: EXPLAIN QUERY
PLAN; MariaDB: EXPLAIN) with the same parameters, and prints for each statement the tables
read and the index each read goes through. Nothing is written: the collect runs in a
transaction that is rolled back. docs/performance.md keeps the result.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

AS_OF = date(2026, 6, 30)
OBSERVED = datetime(2026, 7, 1, 3)


HELPERS = ("core.", "metrics.common", "metrics.store", "source.frames", "analysis.context")


def _caller() -> str:
    """The chanperf function that built the query, and the collector or detector it serves."""
    chain = []
    for frame in reversed(traceback.extract_stack()):
        name = frame.filename.replace("\\", "/")
        if "/chanperf/" not in name or frame.name.startswith("<"):
            continue
        module = name.split("/chanperf/", 1)[1].removesuffix(".py").replace("/", ".")
        if not module.startswith(HELPERS):
            chain.append(f"{module}.{frame.name}")
    if not chain:
        return "?"
    outer = next(
        (c for c in chain if c.rsplit(".", 1)[1].startswith(("detect_", "predict_", "collect_"))),
        None,
    )
    return chain[0] if outer in (None, chain[0]) else f"{chain[0]} (for {outer.rsplit('.', 1)[1]})"


@contextmanager
def recording(engine: Any) -> Iterator[list[tuple[str, str, Any]]]:
    seen: list[tuple[str, str, Any]] = []

    def before(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and not many:
            seen.append((_caller(), statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def plan(conn: Any, statement: str, parameters: Any) -> list[str]:
    raw = conn.connection.driver_connection
    cursor = raw.cursor()
    try:
        if conn.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            return [row[3] for row in cursor.fetchall()]
        cursor.execute("EXPLAIN " + statement, parameters)
        names = [d[0] for d in cursor.description]
        out = []
        for row in cursor.fetchall():
            r = dict(zip(names, row, strict=True))
            out.append(
                f"{r['table']}: {r['type']} key={r['key']} rows~{r['rows']}"
                + (f" ({r['Extra']})" if r.get("Extra") else "")
            )
        return out
    finally:
        cursor.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url")
    parser.add_argument("--analysis", action="store_true", help="Also the detectors' queries.")
    args = parser.parse_args()

    from chanperf.analysis.context import analysis_context, load_packs
    from chanperf.analysis.detect import run_detectors
    from chanperf.core.database import make_engine
    from chanperf.core.settings import REPO_ROOT, Settings
    from chanperf.metrics.collect import collect_batch, plan_batches, windows_from
    from chanperf.metrics.state import first_transition_at

    settings = Settings(
        database_url=args.url, policies_dir=REPO_ROOT / "policies", rules_dir=REPO_ROOT / "rules"
    )
    policies, _rules = load_packs(settings)
    engine = make_engine(args.url)
    days = [date(2026, 4, 1 + i) for i in range(30)] + [date(2026, 5, 1 + i) for i in range(31)]
    days += [date(2026, 6, 1 + i) for i in range(30)]
    batches = plan_batches(days, settings.tz, 3)
    with recording(engine) as seen, engine.connect() as conn:
        trans = conn.begin()
        try:
            first_move = first_transition_at(conn, 1)
            for batch in batches:
                collect_batch(
                    conn,
                    conn,
                    1,
                    batch,
                    settings.tz,
                    windows_from(policies),
                    OBSERVED,
                    first_move,
                    1,
                )
            if args.analysis:
                run_detectors(conn, analysis_context(settings, 1, AS_OF, policies))
        finally:
            trans.rollback()
    print(f"# {engine.dialect.name}: {len(seen)} statements\n")
    with engine.connect() as conn:
        if engine.dialect.name != "sqlite":
            conn.execute(text("SELECT 1"))
        shown: set[tuple[str, tuple[str, ...]]] = set()
        for caller, statement, parameters in seen:
            lines = tuple(plan(conn, statement, parameters))
            if (caller, lines) in shown:  # the same query of another batch or run
                continue
            shown.add((caller, lines))
            print(f"## {caller}")
            for line in lines:
                print(f"    {line}")
            print()
    engine.dispose()


if __name__ == "__main__":
    main()
