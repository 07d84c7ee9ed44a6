"""The OpenAPI document validates and lists every endpoint of the service."""

from __future__ import annotations

from openapi_spec_validator import validate

ENDPOINTS = {
    ("get", "/"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/v1/performance/insights"),
    ("get", "/v1/performance/insights/{insight_id}"),
    ("post", "/v1/performance/insights/{insight_id}/action"),
    ("get", "/v1/performance/metrics"),
    ("get", "/v1/performance/metrics/history"),
    ("get", "/v1/performance/trends/{metric}"),
    ("get", "/v1/performance/proposals"),
    ("get", "/v1/performance/proposals/{proposal_id}"),
    ("get", "/v1/performance/proposals/{proposal_id}/diff"),
    ("post", "/v1/performance/proposals/{proposal_id}/approve"),
    ("post", "/v1/performance/proposals/{proposal_id}/reject"),
    ("post", "/v1/performance/analyze"),
    ("get", "/v1/performance/jobs/{job_id}"),
    ("get", "/v1/performance/dashboard"),
    ("get", "/v1/performance/policies"),
    ("get", "/v1/performance/policies/{name}"),
}


def test_openapi_validates_and_lists_every_endpoint(client):
    spec = client.get("/openapi.json").get_json()
    validate(spec)
    listed = {(m, p) for p, item in spec["paths"].items() for m in item if m in ("get", "post")}
    assert listed == ENDPOINTS
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("get", "post"):
                assert op.get("summary"), (method, path)  # the view's one-line docstring


def test_diff_is_documented_as_text_x_diff(client):
    spec = client.get("/openapi.json").get_json()
    op = spec["paths"]["/v1/performance/proposals/{proposal_id}/diff"]["get"]
    assert "text/x-diff" in op["responses"]["200"]["content"]
    analyze = spec["paths"]["/v1/performance/analyze"]["post"]
    assert "Location" in analyze["responses"]["202"]["headers"]
