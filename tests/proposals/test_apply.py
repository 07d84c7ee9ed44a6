"""Review and apply: who/when/why recorded, decided proposals stay decided, refused applies write nothing."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from chanperf.core.enums import ProposalStatus
from chanperf.core.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from chanperf.models.performance import PolicyProposal
from chanperf.models.runs import PolicyVersion
from chanperf.policies.load import load_policies
from chanperf.proposals.apply import apply_proposal
from chanperf.proposals.queries import get_proposal, list_proposals, proposal_diff
from chanperf.proposals.store import store_proposal
from chanperf.proposals.workflow import approve_proposal, reject_proposal, submit_for_review
from tests.proposals.test_generate import discount_finding, kit_finding, policies_copy, proposal_for

NOW = datetime(2026, 7, 1, 12, 0, 0)


@pytest.fixture
def setup(sessions, tmp_path: Path):
    folder = policies_copy(tmp_path)
    policies = load_policies(folder)
    with sessions.begin() as s:
        discount, _ = store_proposal(s, proposal_for(policies, discount_finding()), None)
        kit, _ = store_proposal(s, proposal_for(policies, kit_finding(policies)), None)
        ids = discount.id, kit.id
    return folder, ids


def snapshot(sessions, folder: Path):
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    with sessions() as s:
        proposals = [
            (r.id, r.status, r.implemented_at, r.approved_by, r.rejected_by)
            for r in s.scalars(select(PolicyProposal).order_by(PolicyProposal.id))
        ]
        versions = [
            (v.policy_name, v.version, v.content_hash)
            for v in s.scalars(select(PolicyVersion).order_by(PolicyVersion.id))
        ]
    return files, proposals, versions


def test_approve_records_who_and_when(sessions, setup) -> None:
    _folder, (pid, _) = setup
    with sessions.begin() as s:
        approve_proposal(s, 1, pid, "ana", now=NOW)
    with sessions() as s:
        row = get_proposal(s, 1, pid)
        assert (row.status, row.approved_by, row.approved_at) == (
            ProposalStatus.APPROVED,
            "ana",
            NOW,
        )
        assert [p.id for p in list_proposals(s, 1, "APPROVED")] == [pid]
        assert proposal_diff(s, 1, pid).startswith("--- a/policies/reactivation.yaml")
    with sessions.begin() as s, pytest.raises(ConflictError):
        approve_proposal(s, 1, pid, "bia")  # already decided: refused, not repeated
    with sessions.begin() as s, pytest.raises(ConflictError):
        reject_proposal(s, 1, pid, "bia", "mudei de ideia")
    with sessions() as s:
        assert get_proposal(s, 1, pid).approved_by == "ana"


def test_reject_needs_a_reason_and_is_final(sessions, setup) -> None:
    _folder, (pid, _) = setup
    with sessions.begin() as s, pytest.raises(ValidationError):
        reject_proposal(s, 1, pid, "ana", "  ")
    with sessions.begin() as s:
        reject_proposal(s, 1, pid, "ana", "Teto menor derruba a taxa de ganho", now=NOW)
    with sessions() as s:
        row = get_proposal(s, 1, pid)
        assert row.status == ProposalStatus.REJECTED
        assert (row.rejected_by, row.rejected_at) == ("ana", NOW)
        assert row.rejection_reason == "Teto menor derruba a taxa de ganho"
    with sessions.begin() as s, pytest.raises(ConflictError):
        approve_proposal(s, 1, pid, "bia")


def test_requester_cannot_approve(sessions, setup) -> None:
    _folder, (pid, _) = setup
    with sessions.begin() as s:
        row = get_proposal(s, 1, pid)
        row.status, row.requested_by = ProposalStatus.DRAFT, None
    with sessions.begin() as s:
        submit_for_review(s, 1, pid, "carla", now=NOW)
    with sessions.begin() as s, pytest.raises(PermissionDenied):
        approve_proposal(s, 1, pid, "Carla")
    with sessions.begin() as s:
        approve_proposal(s, 1, pid, "davi")
    with sessions.begin() as s, pytest.raises(NotFoundError):
        approve_proposal(s, 2, pid, "davi")  # another org's proposal does not exist for you


def test_apply_writes_version_plus_one_and_records_it(sessions, setup) -> None:
    folder, (pid, _) = setup
    before = (folder / "reactivation.yaml").read_text()
    with sessions.begin() as s:
        approve_proposal(s, 1, pid, "ana")
    with sessions.begin() as s:
        version = apply_proposal(s, 1, pid, folder, "ops", now=NOW)
        assert version.version == 2
    after = (folder / "reactivation.yaml").read_text()
    assert after == before.replace("version: 1", "version: 2").replace(
        "max_discount_pct: 10", "max_discount_pct: 5"
    )
    assert load_policies(folder).get("reactivation.max_discount_pct") == 5
    with sessions() as s:
        row = get_proposal(s, 1, pid)
        assert (row.status, row.implemented_at, row.implemented_by) == (
            ProposalStatus.IMPLEMENTED,
            NOW,
            "ops",
        )
        versions = s.scalars(
            select(PolicyVersion).where(PolicyVersion.policy_name == "reactivation")
        ).all()
        assert sorted(v.version for v in versions) == [1, 2]
        new = next(v for v in versions if v.version == 2)
        assert (new.proposal_id, new.applied_by, new.applied_at) == (pid, "ops", NOW)
        assert new.document["params"]["max_discount_pct"] == 5
    assert not list(folder.glob(".*.tmp"))  # the temp file was renamed, not left behind


def test_applying_twice_is_refused_and_writes_nothing(sessions, setup) -> None:
    folder, (pid, _) = setup
    with sessions.begin() as s:
        approve_proposal(s, 1, pid, "ana")
    with sessions.begin() as s:
        apply_proposal(s, 1, pid, folder, "ops")
    state = snapshot(sessions, folder)
    with sessions.begin() as s, pytest.raises(ConflictError):
        apply_proposal(s, 1, pid, folder, "ops")
    assert snapshot(sessions, folder) == state


@pytest.mark.parametrize("decision", ["rejected", "pending"])
def test_applying_an_undecided_or_rejected_proposal_is_refused(sessions, setup, decision) -> None:
    folder, (pid, _) = setup
    if decision == "rejected":
        with sessions.begin() as s:
            reject_proposal(s, 1, pid, "ana", "não")
    state = snapshot(sessions, folder)
    with sessions.begin() as s, pytest.raises(ConflictError):
        apply_proposal(s, 1, pid, folder, "ops")
    assert snapshot(sessions, folder) == state


def test_applying_after_a_conflicting_edit_is_refused(sessions, setup) -> None:
    folder, (pid, _) = setup
    with sessions.begin() as s:
        approve_proposal(s, 1, pid, "ana")
    path = folder / "reactivation.yaml"
    path.write_text(
        path.read_text()
        .replace("version: 1", "version: 2")
        .replace("max_discount_pct: 10", "max_discount_pct: 8")
    )
    state = snapshot(sessions, folder)
    with sessions.begin() as s, pytest.raises(ConflictError, match="rebase"):
        apply_proposal(s, 1, pid, folder, "ops")
    assert snapshot(sessions, folder) == state


def test_a_file_that_moved_on_elsewhere_is_patched_on_top(sessions, setup) -> None:
    folder, (pid, _) = setup
    with sessions.begin() as s:
        approve_proposal(s, 1, pid, "ana")
    path = folder / "reactivation.yaml"
    path.write_text(
        path.read_text()
        .replace("version: 1", "version: 2")
        .replace("target_win_rate: 0.35", "target_win_rate: 0.4")
    )
    with sessions.begin() as s:
        assert apply_proposal(s, 1, pid, folder, "ops").version == 3
    text = path.read_text()
    assert "version: 3" in text and "max_discount_pct: 5" in text and "target_win_rate: 0.4" in text


def test_kit_proposal_applies_with_comments_kept(sessions, setup) -> None:
    folder, (_, kid) = setup
    comments = (folder / "onboarding.yaml").read_text().count("#")
    with sessions.begin() as s:
        approve_proposal(s, 1, kid, "ana")
    with sessions.begin() as s:
        apply_proposal(s, 1, kid, folder, "ops")
    text = (folder / "onboarding.yaml").read_text()
    assert text.count("#") == comments and '"K_BETTER"' in text and "version: 2" in text
