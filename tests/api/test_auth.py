"""API keys: parsing and hashing, 401/403 in the one error shape, the role × endpoint
matrix, identity from the key, and org isolation."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from chanperf.core.api_keys import KeyRing, Role, hash_key, load_keyring, new_key, parse_entries
from chanperf.core.errors import ConfigError
from chanperf.core.settings import Settings
from tests.api.conftest import PREFIX, ROLES, add_insight, add_proposal, error_of, make_client

# ---------------------------------------------------------------- keys


def test_new_key_line_authenticates_and_stores_only_the_digest():
    key, line = new_key("maria", "approver", 3)
    name, role, org, digest = line.split(":")
    assert (name, role, org) == ("maria", "approver", "3")
    assert digest == hash_key(key) and key not in line
    ring = KeyRing(parse_entries([line], "env"))
    found = ring.authenticate(key)
    assert found is not None and found.role is Role.APPROVER and found.org_id == 3
    assert ring.authenticate(key + "x") is None and ring.authenticate("") is None


def test_keys_file_with_comments_and_env_together(tmp_path):
    k1, l1 = new_key("a", "viewer", 1)
    k2, l2 = new_key("b", "analyst", 2)
    path = tmp_path / "keys"
    path.write_text(f"# operators' keys\n\n{l1}  # the dashboard\n", encoding="utf-8")
    ring = load_keyring(Settings(database_url="sqlite://", api_keys_file=path, api_keys=f"{l2};"))
    assert len(ring) == 2
    assert ring.authenticate(k1).name == "a" and ring.authenticate(k2).org_id == 2


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("a:viewer:1", "expected name:role:org:sha256hex"),
        ("a:boss:1:" + "0" * 64, "unknown role 'boss'"),
        ("a:viewer:zero:" + "0" * 64, "org must be a positive integer"),
        ("a:viewer:1:cpk_plainkey", "SHA-256 hex digest"),
        ("a b:viewer:1:" + "0" * 64, "name 'a b'"),
    ],
)
def test_bad_entries_name_the_line(line, why):
    with pytest.raises(ConfigError) as err:
        parse_entries(["# ok", line], "keys.txt")
    assert "keys.txt:2" in str(err.value) and why in str(err.value)


def test_the_same_key_twice_is_refused():
    _, line = new_key("a", "viewer", 1)
    with pytest.raises(ConfigError, match="configured twice"):
        KeyRing(parse_entries([line, line.replace("a:", "b:", 1)], "env"))


def test_roles_are_ordered():
    assert Role.VIEWER < Role.ANALYST < Role.APPROVER


def test_cli_apikey_new_prints_key_and_line():
    from chanperf.cli.main import main

    result = CliRunner().invoke(main, ["apikey", "new", "joao", "--role", "analyst", "--org", "2"])
    assert result.exit_code == 0, result.output
    key = next(x.split()[-1] for x in result.output.splitlines() if x.startswith("key:"))
    line = next(x.split()[-1] for x in result.output.splitlines() if x.startswith("line:"))
    assert line == f"joao:analyst:2:{hash_key(key)}"
    bad = CliRunner().invoke(main, ["apikey", "new", "joao", "--role", "admin"])
    assert bad.exit_code != 0


# ---------------------------------------------------------------- 401


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer nope", "Basic dXNlcjpwdw==", "cpk_without_scheme"],
    ids=["none", "empty", "unknown-key", "basic", "no-scheme"],
)
def test_401_without_a_valid_key(client, header):
    headers = {"Authorization": header} if header else {}
    r = client.get(f"{PREFIX}/insights", headers=headers)
    assert r.status_code == 401
    assert error_of(r)["status"] == "Unauthorized"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_401_comes_before_input_validation(client):
    r = client.get(f"{PREFIX}/insights?severity=NOPE")
    assert r.status_code == 401


def test_no_keys_configured_lets_nobody_in(settings):
    app_client = make_client(settings, type("K", (), {"config": None})())  # type: ignore[arg-type]
    assert (
        app_client.get(f"{PREFIX}/insights", headers={"Authorization": "Bearer x"}).status_code
        == 401
    )


@pytest.mark.parametrize("path", ["/", "/health", "/ready", "/openapi.json", "/docs"])
def test_open_endpoints_need_no_key(client, path):
    assert client.get(path).status_code == 200


# ---------------------------------------------------------------- role × endpoint

MATRIX: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("GET", "/insights", None, "viewer"),
    ("GET", "/insights/{insight}", None, "viewer"),
    ("POST", "/insights/{insight}/action", {"action": "review"}, "analyst"),
    ("GET", "/metrics?as_of=2026-11-20", None, "viewer"),
    ("GET", "/metrics/history", None, "viewer"),
    ("GET", "/trends/activation_rate", None, "viewer"),
    ("GET", "/proposals", None, "viewer"),
    ("GET", "/proposals/{proposal}", None, "viewer"),
    ("GET", "/proposals/{proposal}/diff", None, "viewer"),
    ("POST", "/proposals/{proposal}/approve", {}, "approver"),
    ("POST", "/proposals/{proposal}/reject", {"reason": "not now"}, "approver"),
    ("POST", "/analyze", {}, "analyst"),
    ("GET", "/jobs/analyze-1-2026-11-19", None, "viewer"),
    ("GET", "/dashboard", None, "viewer"),
    ("GET", "/policies", None, "viewer"),
    ("GET", "/policies/onboarding", None, "viewer"),
]


@pytest.fixture
def seeded(sessions) -> dict[str, int]:
    with sessions.begin() as s:
        insight = add_insight(s)
        proposal = add_proposal(s, insight_id=insight.id)
        return {"insight": insight.id, "proposal": proposal.id}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "path", "body", "needed"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX]
)
def test_role_matrix(client, keys, seeded, monkeypatch, role, method, path, body, needed):
    import api.analyze

    # The matrix is about who may call; running a real analysis here would only be slow.
    monkeypatch.setattr(
        api.analyze,
        "submit_analysis",
        lambda settings, org, as_of, rerun: (
            {"id": "analyze-1-x", "kind": "analyze", "org_id": org, "status": "finished"},
            True,
        ),
    )
    url = PREFIX + path.format(**seeded)
    r = client.open(url, method=method, json=body, headers=keys.header(role))
    if ROLES.index(role) < ROLES.index(needed):
        assert r.status_code == 403, (url, r.get_json())
        body_ = error_of(r)
        assert needed in body_["message"] and body_["status"] == "Forbidden"
    else:
        assert r.status_code not in (401, 403), (url, r.get_json())
        assert r.status_code < 500


def test_openapi_documents_the_bearer_scheme_on_every_v1_operation(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post"):
                continue
            if path.startswith(PREFIX):
                assert op.get("security") == [{"bearerAuth": []}], (method, path)
                assert {"401", "403"} <= set(op["responses"]), (method, path)
                assert "Role:" in op["description"]
            else:
                assert "security" not in op, (method, path)


# ---------------------------------------------------------------- identity and org isolation


def test_identity_comes_from_the_key_never_the_body(client, keys, seeded, sessions):
    url = f"{PREFIX}/insights/{seeded['insight']}/action"
    r = client.post(
        url,
        json={"action": "review", "reviewed_by": "someone-else"},
        headers=keys.header("analyst"),
    )
    assert r.status_code == 422
    assert "reviewed_by" in error_of(r)["errors"]
    r = client.post(url, json={"action": "review"}, headers=keys.header("analyst"))
    assert r.status_code == 200 and r.get_json()["reviewed_by"] == "analyst-ana"
    r = client.post(
        f"{PREFIX}/proposals/{seeded['proposal']}/approve",
        json={"approved_by": "x"},
        headers=keys.header("approver"),
    )
    assert r.status_code == 422


@pytest.fixture
def two_orgs(sessions) -> dict[str, int]:
    with sessions.begin() as s:
        mine = add_insight(s, 1, title="org 1")
        theirs = add_insight(s, 2, title="org 2")
        their_proposal = add_proposal(s, 2, insight_id=theirs.id)
        return {"mine": mine.id, "theirs": theirs.id, "their_proposal": their_proposal.id}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/insights/{theirs}", None),
        ("POST", "/insights/{theirs}/action", {"action": "review"}),
        ("GET", "/proposals/{their_proposal}", None),
        ("GET", "/proposals/{their_proposal}/diff", None),
        ("POST", "/proposals/{their_proposal}/approve", {}),
        ("POST", "/proposals/{their_proposal}/reject", {"reason": "no"}),
    ],
)
def test_another_orgs_ids_are_404(client, keys, two_orgs, method, path, body):
    r = client.open(
        PREFIX + path.format(**two_orgs), method=method, json=body, headers=keys.header("approver")
    )
    assert r.status_code == 404
    error_of(r)


def test_lists_show_only_the_keys_org(client, keys, two_orgs):
    mine = client.get(f"{PREFIX}/insights", headers=keys.header()).get_json()
    assert [i["id"] for i in mine] == [two_orgs["mine"]]
    theirs = client.get(f"{PREFIX}/insights", headers=keys.other_header()).get_json()
    assert [i["id"] for i in theirs] == [two_orgs["theirs"]]
    assert client.get(f"{PREFIX}/proposals", headers=keys.header()).get_json() == []
    assert len(client.get(f"{PREFIX}/proposals", headers=keys.other_header()).get_json()) == 1
    dash = client.get(f"{PREFIX}/dashboard", headers=keys.header()).get_json()
    assert dash["new_insights"]["total"] == 1 and dash["pending_proposals"]["total"] == 0
