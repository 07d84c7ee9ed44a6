"""Policies: the current version (recorded, else the shipped file) and history."""

from __future__ import annotations

from chanperf.policies.load import load_policies
from chanperf.policies.versions import record_versions
from tests.api.conftest import PREFIX, error_of


def test_shipped_files_before_any_run(client, keys, settings):
    r = client.get(f"{PREFIX}/policies", headers=keys.header())
    body = r.get_json()
    names = [p["name"] for p in body]
    assert "onboarding" in names and "reactivation" in names
    assert all(p["current"]["source"] == "file" and p["versions"] == 0 for p in body)
    one = client.get(f"{PREFIX}/policies/onboarding", headers=keys.header()).get_json()
    assert one["current"]["document"]["policy"] == "onboarding" and one["history"] == []


def test_recorded_versions_are_the_history(client, keys, settings, sessions):
    with sessions.begin() as s:
        record_versions(s, load_policies(settings.policies_dir), 1)
    body = client.get(f"{PREFIX}/policies", headers=keys.header()).get_json()
    assert all(p["current"]["source"] == "recorded" and p["versions"] == 1 for p in body)
    one = client.get(f"{PREFIX}/policies/reactivation", headers=keys.header()).get_json()
    assert len(one["history"]) == 1 and one["current"]["version"] == one["history"][0]["version"]
    # Org 2 has recorded nothing: it still sees the shipped files.
    other = client.get(f"{PREFIX}/policies/reactivation", headers=keys.other_header()).get_json()
    assert other["current"]["source"] == "file"


def test_unknown_policy_is_404(client, keys):
    r = client.get(f"{PREFIX}/policies/nope", headers=keys.header())
    assert r.status_code == 404
    error_of(r)
