"""Reviewers racing on a live server: exactly one winner, and a row that says who won.

`chanperf serve` (gunicorn, two worker processes with four threads each) on each
backend; every trial makes a fresh proposal or insight, then N threads released together
by a barrier send their requests. Every trial must end with exactly one 200 per contested
transition, 409 for the others, and a row consistent with the winner.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from chanperf.core.api_keys import new_key
from chanperf.core.database import make_engine
from chanperf.core.enums import InsightStatus, ProposalStatus
from chanperf.models.base import Base
from chanperf.models.performance import PerformanceInsight, PolicyProposal
from tests.api.conftest import PREFIX, add_insight, add_proposal
from tests.conftest import BACKENDS, fresh_mariadb_database

TRIALS = int(os.environ.get("CHANPERF_CONCURRENCY_TRIALS", "100"))
THREADS = 8
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    url: str
    engine: Engine
    keys: dict[str, str]

    def post(self, path: str, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            self.url + PREFIX + path,
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('race') / 'race.db'}"
        else:
            server_url = request.getfixturevalue("mariadb_server_url")
            url = stack.enter_context(fresh_mariadb_database(server_url))
        yield stack.enter_context(_serving(url))


@contextmanager
def _serving(url: str) -> Iterator[Server]:
    """`chanperf serve` on `url` (tables created), with two approvers' and two analysts' keys."""
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    keys, lines = {}, []
    for who, role in (
        ("ana", "approver"),
        ("bia", "approver"),
        ("caio", "analyst"),
        ("duda", "analyst"),
    ):
        keys[who], line = new_key(who, role, 1)
        lines.append(line)
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CHANPERF_")},
        "CHANPERF_API_KEYS": ";".join(lines),
    }
    cmd = [sys.executable, "-m", "chanperf", "--database-url", url, "serve", "--port", str(port),
           "--workers", "2", "--threads", "4"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"chanperf serve did not start: {proc.stderr.read().decode()[-2000:]}"
                    )  # type: ignore[union-attr]
                time.sleep(0.2)
        yield Server(base, engine, keys)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        engine.dispose()


def _race(calls: list[tuple[str, str, dict[str, Any]]], server: Server) -> list[tuple[int, str]]:
    """Send every call at once; (status, key name) per call."""
    barrier = threading.Barrier(len(calls))
    results: list[tuple[int, str]] = [(0, "")] * len(calls)

    def one(i: int, path: str, who: str, body: dict[str, Any]) -> None:
        barrier.wait()
        status, _ = server.post(path, server.keys[who], body)
        results[i] = (status, who)

    threads = [threading.Thread(target=one, args=(i, *call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _new_proposal(server: Server) -> int:
    with server.engine.begin() as conn:
        from sqlalchemy.orm import Session

        with Session(bind=conn) as session:
            return add_proposal(session, status=ProposalStatus.PENDING_REVIEW).id


def test_concurrent_approvals_have_one_winner(server: Server) -> None:
    for _ in range(TRIALS):
        pid = _new_proposal(server)
        who = ["ana", "bia"] * (THREADS // 2)
        results = _race([(f"/proposals/{pid}/approve", w, {}) for w in who], server)
        winners = [w for status, w in results if status == 200]
        assert len(winners) == 1 and sorted(s for s, _ in results) == [200] + [409] * (THREADS - 1)
        with server.engine.connect() as conn:
            row = conn.execute(select(PolicyProposal).where(PolicyProposal.id == pid)).one()
        assert row.status is ProposalStatus.APPROVED and row.approved_by == winners[0]
        assert row.rejected_by is None and row.rejection_reason is None


def test_approve_racing_reject_leaves_one_consistent_decision(server: Server) -> None:
    for i in range(TRIALS):
        pid = _new_proposal(server)
        calls = [
            (f"/proposals/{pid}/approve" if j % 2 else f"/proposals/{pid}/reject",
             "ana" if (i + j) % 2 else "bia",
             {} if j % 2 else {"reason": f"motivo {j}"})
            for j in range(THREADS)
        ]  # fmt: skip
        results = _race(calls, server)
        won = [(calls[k][0], w) for k, (status, w) in enumerate(results) if status == 200]
        assert len(won) == 1 and sorted(s for s, _ in results) == [200] + [409] * (THREADS - 1)
        with server.engine.connect() as conn:
            row = conn.execute(select(PolicyProposal).where(PolicyProposal.id == pid)).one()
        path, winner = won[0]
        if path.endswith("approve"):
            assert (row.status, row.approved_by, row.rejected_by) == (
                ProposalStatus.APPROVED,
                winner,
                None,
            )
        else:
            assert (row.status, row.rejected_by, row.approved_by) == (
                ProposalStatus.REJECTED,
                winner,
                None,
            )
            assert row.rejection_reason.startswith("motivo ")


def test_concurrent_insight_actions_keep_the_winner_and_never_lose_a_dismissal(
    server: Server,
) -> None:
    for i in range(TRIALS):
        with server.engine.begin() as conn:
            from sqlalchemy.orm import Session

            with Session(bind=conn) as session:
                iid = add_insight(session, analysis_period_start=date(2026, 1, 1)).id
        calls = [
            (f"/insights/{iid}/action",
             "caio" if (i + j) % 2 else "duda",
             {"action": "review"} if j % 2 else {"action": "dismiss", "reason": f"ruído {j}"})
            for j in range(THREADS)
        ]  # fmt: skip
        results = _race(calls, server)
        reviews = [
            w for k, (s, w) in enumerate(results) if s == 200 and calls[k][2]["action"] == "review"
        ]
        dismissals = [
            (w, calls[k][2]["reason"])
            for k, (s, w) in enumerate(results)
            if s == 200 and calls[k][2]["action"] == "dismiss"
        ]
        assert all(s in (200, 409) for s, _ in results), results
        # NEW -> REVIEWED -> DISMISSED is a legal sequence; each transition has one winner.
        assert len(reviews) <= 1 and len(dismissals) == 1
        with server.engine.connect() as conn:
            row = conn.execute(select(PerformanceInsight).where(PerformanceInsight.id == iid)).one()
        assert row.status is InsightStatus.DISMISSED
        assert (row.reviewed_by, row.status_reason) == dismissals[0]
