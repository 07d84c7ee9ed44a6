"""Collect cost against plain table scans, on a generated channel in MariaDB.

    .venv/bin/python benchmarks/collect_benchmark.py --accounts 100000

Creates a database of its own (dropped at the end unless --keep), loads org 1
with `--years` of history (~10 orders per account) through CSV files and LOAD
DATA LOCAL INFILE, and org 2 with only the last month of the same activity
(the rows of org 1 timed in the last 40 days, accounts renumbered). `--reuse NAME`
measures a database kept by an earlier run instead.

Ids follow time, as in a real channel: the source services assign account,
transition, onboarding, reactivation, order, feedback and exception ids as they
write the rows, so each table's rows are generated, sorted by their timestamp and
then numbered. One month's rows are then contiguous in InnoDB's clustered (primary
key) order, as they are in production; ids drawn per account instead would scatter
a month over the whole table and measure buffer-pool misses that a real channel
does not have.

Then prints:

- scans: one `SELECT org_id, COUNT(*), SUM(..) ... GROUP BY org_id` per source table;
  and the same aggregates read by primary key (MariaDB plans the first through a
  secondary index for channel_orders, a primary-key lookup per row);
- backfill: `collect(backfill=True)` of org 1 (every day, week and month): the first
  run (the process's first collect, onto empty metrics tables), then, measured as the
  scans are, the median of 3 more (each rewriting every row);
- daily: one `collect --from Y --to Y` (day, its week and month) for org 1 (years of
  history) and org 2 (one month), each after its own backfill so the state
  distribution is seeded from stored rows; each org's collect runs once untimed
  (same warm-up for both), then the median of 3 timed runs;
- default: the default run (yesterday plus the two maturing days) for both orgs,
  measured the same way.

- floor: on channel_orders of org 1, what every backfill cut by day, region and
  segment does per line, step by step (read; group by local day; find the line's
  account), each as one query and as a multiple of the primary-key scan.

Targets: backfill <= 2x scans; daily(years) <= 1.2x daily(one month).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, create_engine, text

from chanperf.core.database import make_engine
from chanperf.core.settings import Settings
from chanperf.metrics.collect import collect
from chanperf.models.base import Base

END = datetime(2026, 3, 1, 3)  # local midnight of 2026-03-01 in Sao Paulo: yesterday = 02-28
STATES = np.array(["NEW", "ACTIVATING", "ACTIVE", "STALLED", "AT_RISK", "CHURNED"])


def _seconds(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    return rng.uniform(lo, hi, n).astype("int64")


def _ts(base: np.datetime64, secs: np.ndarray) -> np.ndarray:
    return base + secs.astype("timedelta64[s]")


def generate(folder: Path, accounts: int, years: int, seed: int) -> dict[str, Path]:
    """CSV files of org 1 (columns in table order, NULL as \\N)."""
    rng = np.random.default_rng(seed)
    span = years * 365 * 86400
    start = np.datetime64(END - timedelta(seconds=span), "s")
    ids = np.arange(1, accounts + 1)
    created = _ts(start, np.sort(_seconds(rng, accounts, 0, span - 86400)))  # ids follow time
    regions = np.array([f"REG{i}" for i in range(5)])[rng.integers(0, 5, accounts)]
    segments = np.array([f"SEG{i}" for i in range(4)])[rng.integers(0, 4, accounts)]
    end = np.datetime64(END, "s")
    life = (end - created).astype("int64")
    # Transitions: NEW at creation, then 0-3 moves strictly later, ending in the account's state.
    moves = rng.integers(0, 4, accounts)
    t_acc, t_from, t_to, t_at = (
        [ids],
        [np.full(accounts, "\\N")],
        [np.full(accounts, "NEW")],
        [created],
    )
    state = np.full(accounts, "NEW", dtype=object)
    for k in range(1, 4):
        has = moves >= k
        nxt = STATES[rng.integers(1, 6, has.sum())]
        at = created[has] + (life[has] * (k / 4 + rng.uniform(0, 0.2, has.sum()))).astype(
            "timedelta64[s]"
        )
        t_acc.append(ids[has])
        t_from.append(state[has].astype(str))
        t_to.append(nxt)
        t_at.append(at)
        state[has] = nxt
    files = {}

    def write(name: str, frame: pd.DataFrame, time_col: str | None = None) -> None:
        if time_col is not None:  # number the rows in time order, as the source services do
            frame = frame.sort_values(time_col, kind="stable").reset_index(drop=True)
            frame["id"] = np.arange(1, len(frame) + 1)
        path = folder / f"{name}.csv"
        frame.to_csv(path, index=False, header=False, na_rep="\\N", date_format="%Y-%m-%d %H:%M:%S")
        files[name] = path

    write("channel_accounts", pd.DataFrame({"account_id": ids, "org_id": 1, "region": regions,
          "segment": segments, "created_at": created, "state": state, "health_score": "\\N"}))  # fmt: skip
    write("channel_state_transitions", pd.DataFrame({"id": np.arange(1, sum(map(len, t_acc)) + 1), "org_id": 1,
          "account_id": np.concatenate(t_acc), "from_state": np.concatenate(t_from),
          "to_state": np.concatenate(t_to), "transitioned_at": np.concatenate(t_at)}), "transitioned_at")  # fmt: skip
    o_start = created + _seconds(rng, accounts, 0, 5 * 86400).astype("timedelta64[s]")
    o_status = np.array(["COMPLETED", "FAILED", "IN_PROGRESS"])[
        rng.choice(3, accounts, p=[0.6, 0.3, 0.1])
    ]
    o_done = o_start + _seconds(rng, accounts, 3600, 40 * 86400).astype("timedelta64[s]")
    o_done = np.where(o_done < end, o_done, end - np.timedelta64(1, "s"))
    done = pd.Series(o_done).dt.strftime("%Y-%m-%d %H:%M:%S")
    write("channel_onboardings", pd.DataFrame({"id": ids, "org_id": 1, "account_id": ids,
          "kit": np.array(["KA", "KB", "KC"])[rng.integers(0, 3, accounts)], "started_at": o_start,
          "status": o_status, "completed_at": done.where(o_status == "COMPLETED", "\\N"),
          "failed_at": done.where(o_status == "FAILED", "\\N")}), "started_at")  # fmt: skip
    r_n = accounts // 5
    r_acc = rng.choice(ids, r_n)
    r_start = created[r_acc - 1] + (life[r_acc - 1] * rng.uniform(0.2, 0.9, r_n)).astype(
        "timedelta64[s]"
    )
    r_status = np.array(["WON", "LOST", "PENDING"])[rng.choice(3, r_n, p=[0.4, 0.5, 0.1])]
    r_res = pd.Series(r_start + _seconds(rng, r_n, 3600, 20 * 86400).astype("timedelta64[s]"))
    r_res = r_res.where(r_res < pd.Timestamp(END)).dt.strftime("%Y-%m-%d %H:%M:%S")
    write("channel_reactivations", pd.DataFrame({"id": np.arange(1, r_n + 1), "org_id": 1, "account_id": r_acc,
          "strategy": np.array(["SA", "SB", "SC"])[rng.integers(0, 3, r_n)], "discount_pct": rng.integers(0, 20, r_n),
          "cost": rng.integers(100, 50000, r_n) / 100, "started_at": r_start, "status": r_status,
          "resolved_at": r_res.where(r_status != "PENDING", "\\N").fillna("\\N")}), "started_at")  # fmt: skip
    n_orders = rng.poisson(10, accounts)
    o_acc = np.repeat(ids, n_orders)
    o_at = created[o_acc - 1] + (life[o_acc - 1] * rng.uniform(0, 1, len(o_acc))).astype(
        "timedelta64[s]"
    )
    rev = rng.integers(1000, 500000, len(o_acc))
    write("channel_orders", pd.DataFrame({"id": np.arange(1, len(o_acc) + 1), "org_id": 1, "account_id": o_acc,
          "ordered_at": o_at, "sku": "SKU", "quantity": 1, "revenue": rev / 100,
          "cost": (rev * rng.uniform(0.4, 0.9, len(rev))).astype("int64") / 100,
          "discount_pct": rng.integers(0, 1500, len(rev)) / 100}), "ordered_at")  # fmt: skip
    f_acc = rng.choice(ids, accounts)
    f_kind = np.where(rng.random(accounts) < 0.8, "NPS", "COMPLAINT")
    write("channel_feedback", pd.DataFrame({"id": np.arange(1, accounts + 1), "org_id": 1, "account_id": f_acc,
          "kind": f_kind, "score": np.where(f_kind == "NPS", rng.integers(0, 11, accounts).astype(str), "\\N"),
          "created_at": created[f_acc - 1] + (life[f_acc - 1] * rng.uniform(0, 1, accounts)).astype("timedelta64[s]")}), "created_at")  # fmt: skip
    e_n = accounts // 5
    e_acc = rng.choice(ids, e_n)
    write("channel_policy_exceptions", pd.DataFrame({"id": np.arange(1, e_n + 1), "org_id": 1, "account_id": e_acc,
          "policy_key": "pricing.min_price", "sku": "\\N",
          "requested_at": created[e_acc - 1] + (life[e_acc - 1] * rng.uniform(0, 1, e_n)).astype("timedelta64[s]"),
          "decision": np.array(["GRANTED", "DENIED", "PENDING"])[rng.integers(0, 3, e_n)], "reason": "\\N"}), "requested_at")  # fmt: skip
    return files


TIME = {
    "channel_state_transitions": "transitioned_at",
    "channel_onboardings": "started_at",
    "channel_reactivations": "started_at",
    "channel_orders": "ordered_at",
    "channel_feedback": "created_at",
    "channel_policy_exceptions": "requested_at",
}
SUMMED = {
    "channel_accounts": "account_id",
    "channel_state_transitions": "account_id",
    "channel_onboardings": "account_id",
    "channel_reactivations": "cost",
    "channel_orders": "revenue",
    "channel_feedback": "score",
    "channel_policy_exceptions": "account_id",
}
OFFSET = 1_000_000_000  # account ids of org 2


def load(engine: Engine, files: dict[str, Path]) -> None:
    """LOAD DATA into tables without their secondary indexes, then build the indexes.

    Inserting 10M rows (1M accounts) through two secondary indexes into the default
    128 MB buffer pool is random I/O per row and had not finished after 5 minutes;
    an index built afterwards is one sort.
    """
    with engine.begin() as conn:
        for table, path in files.items():
            for index in Base.metadata.tables[table].indexes:
                index.drop(conn)
            conn.execute(
                text(f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {table} FIELDS TERMINATED BY ','")
            )
            for index in Base.metadata.tables[table].indexes:
                index.create(conn)
        # Org 2: the last 40 days of org 1 (enough for the collected day's month), ids moved.
        since = (END - timedelta(days=40)).strftime("%Y-%m-%d %H:%M:%S")
        for table, col in TIME.items():
            cols = [c.name for c in Base.metadata.tables[table].c if c.name != "id"]
            sel = ", ".join(
                "2" if c == "org_id" else f"{c} + {OFFSET}" if c == "account_id" else c
                for c in cols
            )
            conn.execute(text(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {sel} FROM {table} "
                              f"WHERE org_id = 1 AND {col} >= '{since}' ORDER BY {col}, id"))  # fmt: skip
        conn.execute(text(
            f"INSERT INTO channel_accounts SELECT account_id + {OFFSET}, 2, region, segment, created_at, state, "
            f"health_score FROM channel_accounts a WHERE org_id = 1 AND (created_at >= '{since}' OR EXISTS "
            f"(SELECT 1 FROM channel_orders o WHERE o.org_id = 2 AND o.account_id = a.account_id + {OFFSET}))"
        ))  # fmt: skip
        for table in files:
            conn.execute(text(f"ANALYZE TABLE {table}"))


def timed(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def scans(engine: Engine) -> float:
    total = 0.0
    with engine.connect() as conn:
        for table, col in SUMMED.items():
            sql = text(f"SELECT org_id, COUNT(*), SUM({col}) FROM {table} GROUP BY org_id")
            total += timed(lambda sql=sql: conn.execute(sql).all())
    return total


def pk_scans(engine: Engine) -> float:
    """The same aggregates as `scans`, each table read in primary-key order (org 1).

    `scans` is the yardstick's definition and MariaDB plans it as it likes: for
    channel_orders it walks the (org_id, account_id) index and fetches every row by
    primary key, which is several times slower than reading the table itself, and
    its time moves with what the buffer pool holds. This is the sequential read.
    """
    total = 0.0
    with engine.connect() as conn:
        for table, col in SUMMED.items():
            sql = text(
                f"SELECT COUNT(*), SUM({col}) FROM {table} FORCE INDEX (PRIMARY) WHERE org_id = 1"
            )
            total += timed(lambda sql=sql: conn.execute(sql).all())
    return total


def floor(engine: Engine, tz: tzinfo) -> list[tuple[str, float]]:
    """What any daily cut by region and segment costs on channel_orders (org 1), step by step.

    Each step adds one thing every backfill must do per order line: read it, put
    it in its local day, find its account's region and segment (which the source
    contract keeps on channel_accounts only), through InnoDB's primary key as the
    collector does and through the cheapest lookup MariaDB has (a MEMORY table
    with a HASH key, built first). Server time of one query each, median of 3.
    """
    offset = int(tz.utcoffset(END - timedelta(days=1)).total_seconds())  # type: ignore[union-attr]
    day = f"DATE(DATE_ADD(o.ordered_at, INTERVAL {offset} SECOND))"
    base = "FROM channel_orders o FORCE INDEX (PRIMARY)"
    sums = "COUNT(*), SUM(o.revenue)"
    steps = {
        "scan by primary key": f"SELECT {sums} {base} WHERE o.org_id = 1",
        "+ grouped by local day": f"SELECT {day} d, {sums} {base} WHERE o.org_id = 1 "
        "GROUP BY d ORDER BY NULL",
        "+ account's region, segment (InnoDB key)": f"SELECT {day} d, a.region, a.segment, {sums} "
        f"{base} JOIN channel_accounts a ON a.account_id = o.account_id AND a.org_id = 1 "
        "WHERE o.org_id = 1 GROUP BY d, a.region, a.segment ORDER BY NULL",
        "+ account's cut (MEMORY hash, built first)": f"SELECT {day} d, m.cut, {sums} "
        f"{base} JOIN floor_cut m ON m.account_id = o.account_id "
        "WHERE o.org_id = 1 GROUP BY d, m.cut ORDER BY NULL",
    }
    out = []
    with engine.connect() as conn:
        conn.execute(
            text("SET SESSION tmp_table_size = 268435456, max_heap_table_size = 268435456")
        )
        for label, sql in steps.items():
            runs = []
            for _ in range(3):
                began = time.perf_counter()
                if "floor_cut" in sql:
                    conn.execute(text("DROP TEMPORARY TABLE IF EXISTS floor_cut"))
                    conn.execute(text(
                        "CREATE TEMPORARY TABLE floor_cut (account_id BIGINT NOT NULL, cut INT NOT NULL, "
                        "PRIMARY KEY USING HASH (account_id)) ENGINE=MEMORY"
                    ))  # fmt: skip
                    conn.execute(text(
                        "INSERT INTO floor_cut SELECT account_id, DENSE_RANK() OVER "
                        "(ORDER BY region, segment) FROM channel_accounts WHERE org_id = 1"
                    ))  # fmt: skip
                conn.execute(text(sql)).all()
                runs.append(time.perf_counter() - began)
            out.append((label, statistics.median(runs)))
        conn.execute(text("DROP TEMPORARY TABLE IF EXISTS floor_cut"))
    return out


def buffer_pool_mb(admin: Engine) -> int:
    with admin.connect() as conn:
        return int(conn.execute(text("SELECT @@innodb_buffer_pool_size")).scalar_one()) >> 20


def resize_buffer_pool(admin: Engine, mb: int) -> None:
    """SET GLOBAL innodb_buffer_pool_size, then wait for the online resize to finish."""
    with admin.connect() as conn:
        conn.execute(text(f"SET GLOBAL innodb_buffer_pool_size = {int(mb) << 20}"))
        for _ in range(600):
            status = conn.execute(
                text("SHOW STATUS LIKE 'Innodb_buffer_pool_resize_status'")
            ).first()
            if status is None or not status[1] or "ompleted" in status[1]:
                break
            time.sleep(0.1)
    print(f"buffer pool now {buffer_pool_mb(admin)} MB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--server",
        default=os.environ.get("CHANPERF_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306"),
    )
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument("--reuse", metavar="NAME", help="Measure a database kept by --keep.")
    parser.add_argument(
        "--load-only", action="store_true", help="Generate and load, then stop (with --keep)."
    )
    parser.add_argument(
        "--buffer-pool-mb",
        type=int,
        help="Resize InnoDB's buffer pool for the run (SET GLOBAL, restored afterwards).",
    )
    args = parser.parse_args()
    if args.buffer_pool_mb is not None and args.buffer_pool_mb < 128:
        parser.error("--buffer-pool-mb: at least 128 (MB)")
    name = args.reuse or f"chanperf_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.server)
    if args.reuse:
        with admin.connect() as conn:
            found = conn.execute(text("SHOW DATABASES LIKE :n"), {"n": args.reuse}).first()
        if found is None:
            parser.error(
                f"--reuse: no database {args.reuse!r} on {args.server} (kept ones: --keep)"
            )
    pool_before = buffer_pool_mb(admin)
    if args.buffer_pool_mb:
        resize_buffer_pool(admin, args.buffer_pool_mb)
    if not args.reuse:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = f"{args.server}/{name}"
    engine = make_engine(url, connect_args={"local_infile": True})
    try:
        if not args.reuse:
            Base.metadata.create_all(engine)
            with tempfile.TemporaryDirectory() as tmp:
                files: dict[str, Path] = {}
                t_gen = timed(
                    lambda: files.update(generate(Path(tmp), args.accounts, args.years, args.seed))
                )
                t_load = timed(lambda: load(engine, files))
            print(f"generated in {t_gen:.1f}s, loaded in {t_load:.1f}s")
        with engine.connect() as conn:
            counts = {
                t: conn.execute(text(f"SELECT COUNT(*) FROM {t} WHERE org_id = 1")).scalar()
                for t in SUMMED
            }
        print(f"database {name}: " + ", ".join(f"{k[8:]}={v}" for k, v in counts.items()))
        if args.load_only:
            return
        settings = Settings(database_url=url)
        as_of = END + timedelta(hours=6)
        yesterday = date(2026, 2, 28)
        scans(engine)  # warm the caches once, as the collects below run warm too
        t_scan = statistics.median(scans(engine) for _ in range(3))
        t_pk = statistics.median(pk_scans(engine) for _ in range(3))
        steps = floor(engine, settings.tz)

        def backfill(org: int) -> float:
            return timed(lambda: collect(settings, org, backfill=True, as_of=as_of))

        t_first = backfill(1)
        t_back = statistics.median(backfill(1) for _ in range(3))
        t_back2 = backfill(2)

        def warm_median(run: Callable[[], object]) -> float:
            run()  # one untimed run, the same warm-up for both orgs
            return statistics.median(timed(run) for _ in range(3))

        def daily(org: int) -> float:
            return warm_median(lambda: collect(settings, org, yesterday, yesterday, as_of=as_of))

        def default(org: int) -> float:
            return warm_median(lambda: collect(settings, org, as_of=as_of))

        d_long, d_short = daily(1), daily(2)
        f_long, f_short = default(1), default(2)
        print(
            f"accounts={counts['channel_accounts']} history={args.years}y  (MariaDB, buffer pool "
            f"{buffer_pool_mb(admin)} MB, {datetime.now(UTC):%Y-%m-%d})"
        )
        print(f"  scan of every source table        {t_scan:8.2f} s")
        print(f"    the same, by primary key          {t_pk:8.2f} s")
        print(
            f"  backfill, {args.years}y history               {t_back:8.2f} s   ratio to scans {t_back / t_scan:5.2f}  (target <= 2)"
            f"; to the primary-key scans {t_back / t_pk:5.2f}"
        )
        print(
            f"    first backfill of the process      {t_first:8.2f} s   ratio to scans {t_first / t_scan:5.2f}"
        )
        print(f"  backfill, 1 month history          {t_back2:8.2f} s")
        print(f"  daily collect, {args.years}y history          {d_long:8.3f} s")
        print(
            f"  daily collect, 1 month history     {d_short:8.3f} s   ratio {d_long / d_short:5.2f}  (target <= 1.2)"
        )
        print(f"  default run, {args.years}y history            {f_long:8.3f} s")
        print(
            f"  default run, 1 month history       {f_short:8.3f} s   ratio {f_long / f_short:5.2f}"
        )
        print(
            f"  floor on channel_orders ({counts['channel_orders']} lines; x = times its scan by primary key):"
        )
        for label, seconds in steps:
            print(f"    {label:44s} {seconds:7.2f} s  {seconds / steps[0][1]:5.1f} x")
    finally:
        engine.dispose()
        if args.buffer_pool_mb and args.buffer_pool_mb != pool_before:
            resize_buffer_pool(admin, pool_before)
        if not args.keep and not args.reuse:
            with admin.begin() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


if __name__ == "__main__":
    main()
