"""Labellers and snoozers racing on a live server (`chanperf serve`, both backends): one
snooze wins, a label-only action wins only before it, and the row keeps the winner's label."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from chanperf.core.enums import InsightStatus
from chanperf.models.performance import PerformanceInsight
from tests.api.conftest import add_insight
from tests.api.test_concurrency import THREADS, TRIALS, Server, _race
from tests.api.test_concurrency import server as server

pytestmark = pytest.mark.slow

LABELS = ("TRUE_POSITIVE", "FALSE_POSITIVE", "EXPECTED", "NOT_ACTIONABLE")


def test_racing_snoozes_and_labels_leave_the_snooze_winners_label(server: Server) -> None:
    until = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0)
    for i in range(TRIALS):
        with server.engine.begin() as conn, Session(bind=conn) as session:
            iid = add_insight(session, analysis_period_start=date(2026, 1, 1)).id
        calls = []
        for j in range(THREADS):
            who = "caio" if (i + j) % 2 else "duda"
            label = LABELS[j % len(LABELS)]
            if j % 2:
                body = {
                    "action": "snooze",
                    "label": label,
                    "snooze_until": (until + timedelta(hours=j)).isoformat(),
                }
            else:
                body = {"action": "label", "label": label}
            calls.append((f"/insights/{iid}/action", who, body))
        results = _race(calls, server)
        assert all(s in (200, 409) for s, _ in results), results
        won = [(calls[k][2], w) for k, (s, w) in enumerate(results) if s == 200]
        snoozes = [(b, w) for b, w in won if b["action"] == "snooze"]
        labels = [(b, w) for b, w in won if b["action"] == "label"]
        assert len(snoozes) == 1 and len(labels) <= 1, won
        ((body, winner),) = snoozes
        with server.engine.connect() as conn:
            row = conn.execute(select(PerformanceInsight).where(PerformanceInsight.id == iid)).one()
        # A label-only action that won came before the snooze, which overwrote its label;
        # after the snooze, every label-only action found a label and lost.
        assert row.status is InsightStatus.DISMISSED
        assert (row.label.value, row.labelled_by, row.reviewed_by) == (
            body["label"],
            winner,
            winner,
        )
        assert row.snooze_until == datetime.fromisoformat(body["snooze_until"]).replace(tzinfo=None)
