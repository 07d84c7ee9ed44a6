"""Every bad input answers its 4xx in the one error shape, naming the field where there is one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import PREFIX, add_insight, error_of

JSON = "application/json"
BAD = [
    # (id, method, path, body bytes or None, content type, status, field or None)
    ("id beyond 2^63", "GET", "/insights/9223372036854775808", None, None, 404, None),
    ("id beyond 2^53", "GET", "/proposals/9007199254740993", None, None, 404, None),
    ("id zero", "GET", "/insights/0", None, None, 404, None),
    ("page beyond 2^53", "GET", "/insights?page=9223372036854775807", None, None, 422, "page"),
    ("page zero", "GET", "/proposals?page=0", None, None, 422, "page"),
    ("trend ending in year 1", "GET", "/trends/onboarding_rate?end=0001-01-01", None, None, 422, "end"),
    ("dashboard in 9999", "GET", "/dashboard?as_of=9999-12-31", None, None, 422, "as_of"),
    ("metrics tomorrow", "GET", "/metrics?as_of=2999-01-01", None, None, 422, "as_of"),
    ("history before 2000", "GET", "/metrics/history?from=1999-12-31", None, None, 422, "from"),
    ("from after to", "GET", "/metrics/history?from=2026-02-01&to=2026-01-01", None, None, 422, "from"),
    ("cut value without dimension", "GET", "/metrics/history?dimension_value=X", None, None, 422, "dimension_value"),
    ("unknown query parameter", "GET", "/insights?regoin=NORTE", None, None, 422, "regoin"),
    ("period that is not one", "GET", "/insights?period=ontem", None, None, 422, "period"),
    ("lone surrogate in a reason", "POST", "/insights/{id}/action",
     b'{"action": "dismiss", "reason": "\\ud800"}', JSON, 422, "reason"),
    ("blank dismissal reason", "POST", "/insights/{id}/action",
     b'{"action": "dismiss", "reason": "   "}', JSON, 422, "reason"),
    ("deep nesting", "POST", "/insights/{id}/action", b"[" * 40 + b"]" * 40, JSON, 400, "body"),
    ("100k brackets", "POST", "/insights/{id}/action", b"[" * 100_000, JSON, 413, None),
    ("50 MB body", "POST", "/insights/{id}/action", b" " * (50 * 1024 * 1024), JSON, 413, None),
    ("broken JSON", "POST", "/insights/{id}/action", b'{"action": ', JSON, 400, "body"),
    ("not UTF-8", "POST", "/insights/{id}/action", b'{"action": "\xff"}', JSON, 400, "body"),
    ("a text/plain body", "POST", "/insights/{id}/action", b"review", "text/plain", 415, None),
    ("unknown body field", "POST", "/insights/{id}/action",
     b'{"action": "review", "reviewed_by": "x"}', JSON, 422, "reviewed_by"),
    ("analysis in 2030", "POST", "/analyze", b'{"as_of": "2030-01-01"}', JSON, 422, "as_of"),
    ("PUT where only GET is", "PUT", "/insights", b"{}", JSON, 405, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "status", "field"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD],
)
def test_bad_input_answers_its_4xx_in_the_one_shape(
    client: Any,
    keys: Any,
    sessions: Any,
    method: str,
    path: str,
    body: bytes | None,
    content_type: str | None,
    status: int,
    field: str | None,
) -> None:
    with sessions.begin() as session:
        insight_id = add_insight(session).id
    headers = keys.header("approver")
    if content_type:
        headers["Content-Type"] = content_type
    r = client.open(PREFIX + path.format(id=insight_id), method=method, data=body, headers=headers)
    assert r.status_code == status, r.get_data(as_text=True)[:300]
    answer = error_of(r)
    if field is not None:
        assert field in answer["errors"], answer
        assert field in answer["message"] or status != 422, answer
    if status == 405:
        assert set(r.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_options_needs_no_key_and_lists_the_methods(client: Any) -> None:
    r = client.open(f"{PREFIX}/proposals/1/approve", method="OPTIONS")
    assert r.status_code == 200
    assert set(r.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}


def test_an_approval_without_a_body_is_an_approval(client: Any, keys: Any, sessions: Any) -> None:
    from tests.api.conftest import add_proposal

    with sessions.begin() as session:
        pid = add_proposal(session).id
    r = client.post(f"{PREFIX}/proposals/{pid}/approve", headers=keys.header("approver"))
    assert r.status_code == 200 and r.get_json()["status"] == "APPROVED"
    assert r.get_json()["approval_comment"] is None
    with sessions.begin() as session:
        other = add_proposal(session).id
    r = client.post(
        f"{PREFIX}/proposals/{other}/approve",
        json={"comment": "  teste piloto no Norte  "},
        headers=keys.header("approver"),
    )
    assert r.get_json()["approval_comment"] == "teste piloto no Norte"
