"""The insight actions: NEW → REVIEWED → IN_PROGRESS → IMPLEMENTED, dismiss from any open
status (with a reason), reopen a dismissed one; each a compare-and-set."""

from __future__ import annotations

from datetime import datetime

import pytest

from chanperf.core.enums import InsightStatus
from chanperf.core.errors import ConflictError, NotFoundError, ValidationError
from chanperf.insights.store import generate_insights
from chanperf.insights.workflow import act_on_insight
from tests.insights.test_store import BASIS, draft, kit_finding

NOW = datetime(2026, 11, 30, 12, 0, 0)


@pytest.fixture
def insight_id(sessions):
    with sessions.begin() as s:
        (iid,) = generate_insights(s, 1, [draft(kit_finding())], BASIS).created
    return iid


def act(sessions, iid, action, actor="bruno", org=1, **texts):
    with sessions.begin() as s:
        row = act_on_insight(s, org, iid, action, actor, now=NOW, **texts)
        return row.status, row.reviewed_by, row.status_reason, row.implementation_notes


def test_the_whole_workflow_records_who_when_and_what(sessions, insight_id):
    assert act(sessions, insight_id, "review", "ana") == (InsightStatus.REVIEWED, "ana", None, None)
    assert act(sessions, insight_id, "start")[0] == InsightStatus.IN_PROGRESS
    done = act(sessions, insight_id, "implement", implementation_notes=" kit B padrão no NORTE ")
    assert done == (InsightStatus.IMPLEMENTED, "bruno", None, "kit B padrão no NORTE")
    # Final: nothing moves an implemented insight.
    for action in ("review", "start", "implement", "dismiss", "reopen"):
        with sessions.begin() as s, pytest.raises(ConflictError, match="IMPLEMENTED"):
            act_on_insight(s, 1, insight_id, action, "bruno", reason="x", implementation_notes="x")


def test_steps_cannot_be_skipped(sessions, insight_id):
    with (
        sessions.begin() as s,
        pytest.raises(ConflictError, match="is NEW; start needs it REVIEWED"),
    ):
        act_on_insight(s, 1, insight_id, "start", "bruno")
    with (
        sessions.begin() as s,
        pytest.raises(ConflictError, match="implement needs it IN_PROGRESS"),
    ):
        act_on_insight(s, 1, insight_id, "implement", "bruno", implementation_notes="feito")
    act(sessions, insight_id, "review")
    with sessions.begin() as s, pytest.raises(ConflictError, match="REVIEWED; review needs it NEW"):
        act_on_insight(s, 1, insight_id, "review", "bruno")


@pytest.mark.parametrize("steps", [[], ["review"], ["review", "start"]])
def test_dismiss_from_any_open_status_and_reopen(sessions, insight_id, steps):
    for step in steps:
        act(sessions, insight_id, step)
    dismissed = act(sessions, insight_id, "dismiss", "carla", reason="efeito sazonal")
    assert dismissed == (InsightStatus.DISMISSED, "carla", "efeito sazonal", None)
    assert act(sessions, insight_id, "reopen", "ana")[0] == InsightStatus.NEW
    with sessions.begin() as s, pytest.raises(ConflictError, match="reopen needs it DISMISSED"):
        act_on_insight(s, 1, insight_id, "reopen", "ana")


def test_bad_requests_name_the_field_and_change_nothing(sessions, insight_id):
    with sessions.begin() as s, pytest.raises(ValidationError) as exc:
        act_on_insight(s, 1, insight_id, "dismiss", "bruno", reason="   ")
    assert exc.value.problems[0].field == "reason"
    with sessions.begin() as s, pytest.raises(ValidationError) as exc:
        act_on_insight(s, 1, insight_id, "accept", "bruno")
    assert exc.value.problems[0].field == "action"
    act(sessions, insight_id, "review")
    act(sessions, insight_id, "start")
    with sessions.begin() as s, pytest.raises(ValidationError) as exc:
        act_on_insight(s, 1, insight_id, "implement", "bruno")
    assert exc.value.problems[0].field == "implementation_notes"
    with sessions.begin() as s, pytest.raises(NotFoundError):
        act_on_insight(s, 2, insight_id, "dismiss", "eve", reason="x")  # another org's id
    with sessions.begin() as s, pytest.raises(NotFoundError):
        act_on_insight(s, 1, 999_999, "review", "bruno")
    assert act(sessions, insight_id, "dismiss", reason="ok")[0] == InsightStatus.DISMISSED
