"""Proposals: pending by default, status filter, one, diff as text/x-diff, approve, reject."""

from __future__ import annotations

import pytest

from chanperf.core.enums import ProposalStatus
from tests.api.conftest import PREFIX, add_proposal, error_of


@pytest.fixture
def proposals(sessions) -> dict[str, int]:
    with sessions.begin() as s:
        return {
            "pending": add_proposal(s).id,
            "pending2": add_proposal(s, title="Outro").id,
            "rejected": add_proposal(s, status=ProposalStatus.REJECTED).id,
            "draft": add_proposal(s, status=ProposalStatus.DRAFT).id,
            "mine": add_proposal(s, requested_by="approver-ana").id,
        }


def _ids(r) -> list[int]:
    assert r.status_code == 200, r.get_json()
    return [p["id"] for p in r.get_json()]


def test_pending_by_default_newest_first(client, keys, proposals):
    r = client.get(f"{PREFIX}/proposals", headers=keys.header())
    assert _ids(r) == [proposals["mine"], proposals["pending2"], proposals["pending"]]
    assert (
        r.get_json()[0]["proposed_policy"]["params"]["regions"]["Norte"]["default_kit"] == "KIT_B"
    )
    assert "X-Pagination" in r.headers


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=REJECTED", ["rejected"]),
        ("status=DRAFT&status=REJECTED", ["draft", "rejected"]),
        ("status=ALL", ["mine", "draft", "rejected", "pending2", "pending"]),
        ("status=ALL&policy=pricing", []),
    ],
)
def test_status_filter(client, keys, proposals, query, expected):
    r = client.get(f"{PREFIX}/proposals?{query}", headers=keys.header())
    assert _ids(r) == [proposals[k] for k in expected]


def test_bad_status_is_422(client, keys):
    r = client.get(f"{PREFIX}/proposals?status=MAYBE", headers=keys.header())
    assert r.status_code == 422 and "status" in error_of(r)["errors"]


def test_one_and_its_diff(client, keys, proposals):
    r = client.get(f"{PREFIX}/proposals/{proposals['pending']}", headers=keys.header())
    assert (
        r.status_code == 200
        and r.get_json()["affected_policy"] == "onboarding.regions.Norte.default_kit"
    )
    r = client.get(f"{PREFIX}/proposals/{proposals['pending']}/diff", headers=keys.header())
    assert r.status_code == 200 and r.mimetype == "text/x-diff"
    assert "+default_kit: KIT_B" in r.get_data(as_text=True)


@pytest.mark.parametrize("suffix", ["", "/diff"])
def test_unknown_proposal_is_404(client, keys, suffix):
    r = client.get(f"{PREFIX}/proposals/987654{suffix}", headers=keys.header())
    assert r.status_code == 404
    error_of(r)


def test_approve_records_the_key_name(client, keys, proposals):
    url = f"{PREFIX}/proposals/{proposals['pending']}/approve"
    r = client.post(url, json={"comment": "ok"}, headers=keys.header("approver"))
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "APPROVED" and body["approved_by"] == "approver-ana"
    assert client.post(url, json={}, headers=keys.header("approver")).status_code == 409


def test_approving_a_rejected_proposal_is_409(client, keys, proposals):
    r = client.post(
        f"{PREFIX}/proposals/{proposals['rejected']}/approve",
        json={},
        headers=keys.header("approver"),
    )
    assert r.status_code == 409 and "REJECTED" in error_of(r)["message"]


def test_reviewing_ones_own_request_is_403(client, keys, proposals):
    r = client.post(
        f"{PREFIX}/proposals/{proposals['mine']}/approve", json={}, headers=keys.header("approver")
    )
    assert r.status_code == 403
    error_of(r)


def test_reject_needs_a_reason_and_records_it(client, keys, proposals):
    url = f"{PREFIX}/proposals/{proposals['pending2']}/reject"
    for body in ({}, {"reason": ""}):
        r = client.post(url, json=body, headers=keys.header("approver"))
        assert r.status_code == 422 and "reason" in error_of(r)["errors"]
    r = client.post(url, json={"reason": "custo alto"}, headers=keys.header("approver"))
    body = r.get_json()
    assert body["status"] == "REJECTED" and body["rejected_by"] == "approver-ana"
    assert body["rejection_reason"] == "custo alto"
    r = client.post(
        f"{PREFIX}/proposals/{proposals['pending2']}/approve",
        json={},
        headers=keys.header("approver"),
    )
    assert r.status_code == 409


def test_review_of_unknown_proposal_is_404(client, keys):
    for action, body in (("approve", {}), ("reject", {"reason": "x"})):
        r = client.post(
            f"{PREFIX}/proposals/31337/{action}", json=body, headers=keys.header("approver")
        )
        assert r.status_code == 404
