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
    ("get", "/v1/performance/rules"),
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


def test_models_carry_the_interface_names(client):
    """The design names its API models; the document uses those names, and their fields."""
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    for name in (
        "PerformanceInsight",
        "PolicyProposal",
        "ChannelMetrics",
        "TrendData",
        "AnalysisRequest",
    ):
        assert name in schemas, name
    insight = schemas["PerformanceInsight"]["properties"]
    for field in (
        "type",
        "severity",
        "category",
        "title",
        "observation",
        "evidence",
        "recommendation",
        "suggested_action",
        "implementation_notes",
        "analysis_period_start",
        "analysis_period_end",
    ):
        assert field in insight, field
    proposal = schemas["PolicyProposal"]["properties"]
    for field in (
        "description",
        "affected_policy",
        "current_value",
        "proposed_value",
        "expected_impact",
        "impact_metrics",
        "risk_assessment",
        "experiment_plan",
        "experiment_duration_days",
        "rejection_reason",
    ):
        assert field in proposal, field
    metrics = schemas["ChannelMetrics"]["properties"]
    for field in (
        "onboarding_started",
        "onboarding_rate",
        "reactivation_attempts",
        "avg_reactivation_cost",
        "accounts_new",
        "transitions_to_churn",
        "total_revenue",
        "revenue_from_new",
        "avg_health_score",
        "exceptions_count",
    ):
        assert field in metrics, field
