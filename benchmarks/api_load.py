"""Open-loop load on the REST API: fixed request rates, latency percentiles and errors.

    .venv/bin/python benchmarks/api_load.py "mysql+pymysql://root@127.0.0.1:3306/chanperf_bench_x"
    .venv/bin/python benchmarks/api_load.py sqlite:////tmp/channel.db --rate 100 --seconds 20

Starts `chanperf serve` (gunicorn, 2 workers unless --workers) on a free loopback port
against the given database (analysed beforehand: the demo or analysis_benchmark.py
--keep), with a viewer key of its own, then for each endpoint sends requests at a fixed
rate for a fixed time from this process and prints p50/p95/p99 latency and errors.

Open loop: request i is due at start + i/rate whether or not the earlier ones have
answered, and its latency is measured from when it was due, so a server that falls behind
shows the queue it builds (no coordinated omission). Requests go over keep-alive
connections when the server keeps them (gunicorn's sync workers do not: each request then
opens its own, and that counts), at most --connections at once; a request that finds
none free waits, and the wait counts. Loopback only, bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

# The channels the benchmarks generate end on 2026-06-30.
ENDPOINTS = {
    "dashboard": "/v1/performance/dashboard?as_of=2026-06-30",
    "insights": "/v1/performance/insights?page=1&page_size=20",
    "metrics history": "/v1/performance/metrics/history?period_type=WEEKLY&from=2026-01-01&to=2026-06-30",
}
TARGET_P95_MS = {"dashboard": 50.0}


@dataclass
class Outcome:
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    late_starts: int = 0  # requests sent more than 10 ms after they were due

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def get(self, path: str, key: str) -> tuple[int, bool]:
        """The status of one GET, and whether the server closed the connection after it."""
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            "Accept: application/json\r\n\r\n".encode()
        )
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        await self.reader.readexactly(length)
        return status, close


async def load(
    port: int, path: str, key: str, rate: float, seconds: float, connections: int
) -> Outcome:
    outcome = Outcome()
    pool: asyncio.Queue[Connection | None] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(None)  # opened on first use
    start = time.perf_counter() + 0.2
    count = int(rate * seconds)

    async def one(i: int) -> None:
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        conn = await pool.get()
        if time.perf_counter() - due > 0.010:
            outcome.late_starts += 1
        try:
            if conn is None:
                conn = Connection(*await asyncio.open_connection("127.0.0.1", port))
            status, closed = await asyncio.wait_for(conn.get(path, key), timeout=10)
            if closed:  # gunicorn's sync workers answer one request per connection
                conn.writer.close()
                conn = None
            if status != 200:
                outcome.error(f"HTTP {status}")
            outcome.latencies_ms.append((time.perf_counter() - due) * 1000)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            outcome.error(f"{type(exc).__name__}: {exc}"[:80])
            if conn is not None:
                conn.writer.close()
            conn = None
        finally:
            pool.put_nowait(conn)

    await asyncio.gather(*(one(i) for i in range(count)))
    return outcome


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


def wait_ready(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not answer /health within 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url", help="Database URL of an analysed channel.")
    parser.add_argument("--rate", type=float, default=200.0, help="Requests per second (<= 2000).")
    parser.add_argument("--seconds", type=float, default=30.0, help="Per endpoint (<= 300).")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", choices=sorted(ENDPOINTS), action="append")
    args = parser.parse_args()
    if not 0 < args.rate <= 2000 or not 0 < args.seconds <= 300:
        parser.error("--rate must be in (0, 2000] and --seconds in (0, 300]")

    from chanperf.core.api_keys import new_key

    key, line = new_key("api-load", "viewer", 1)
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        keys = Path(folder) / "keys"
        keys.write_text(line + "\n", encoding="utf-8")
        env = {**os.environ, "CHANPERF_DATABASE_URL": args.url, "CHANPERF_API_KEYS_FILE": str(keys)}
        cmd = [
            sys.executable,
            "-m",
            "chanperf",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ]
        server = subprocess.Popen(
            cmd, env=env, cwd=HERE.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_ready(port, time.monotonic() + 30)
            print(
                f"# chanperf serve (gunicorn, {args.workers} workers) on 127.0.0.1:{port}, "
                f"{args.rate:g} requests/s for {args.seconds:g} s per endpoint, open loop"
            )
            print(
                f"{'endpoint':<17} {'sent':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}  errors"
            )
            for name in args.only or list(ENDPOINTS):
                asyncio.run(
                    load(port, ENDPOINTS[name], key, args.rate, 2, args.connections)
                )  # warm
                out = asyncio.run(
                    load(port, ENDPOINTS[name], key, args.rate, args.seconds, args.connections)
                )
                lat = out.latencies_ms
                errors = ", ".join(f"{k}: {v}" for k, v in out.errors.items()) or "0"
                if len(lat) < 2:
                    print(f"{name:<17} no answers: {errors}")
                    continue
                p95 = percentile(lat, 95) if len(lat) > 1 else float("nan")
                print(
                    f"{name:<17} {int(args.rate * args.seconds):>6} "
                    f"{percentile(lat, 50):>8.1f} {p95:>8.1f} {percentile(lat, 99):>8.1f} {max(lat):>8.1f}  {errors}"
                )
                if name in TARGET_P95_MS and args.rate >= 200:
                    verdict = "met" if p95 <= TARGET_P95_MS[name] and not out.errors else "MISSED"
                    print(
                        f"  target: p95 <= {TARGET_P95_MS[name]:g} ms with 0 errors at 200/s: {verdict}"
                    )
                if out.late_starts:
                    print(
                        f"  ({out.late_starts} requests waited > 10 ms for a free connection or the client)"
                    )
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()
