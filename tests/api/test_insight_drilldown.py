"""An insight found at a wide scope carries its cuts in `evidence.drilldown`: the list and the
detail return it as stored, every other evidence key untouched, and the OpenAPI document
describes it."""

from __future__ import annotations

from openapi_spec_validator import validate

from chanperf.core.enums import InsightCategory, InsightType
from tests.api.conftest import PREFIX, add_insight

DRILLDOWN = [
    {
        "dimension": "region",
        "value": "R1",
        "rate_a": 40.0,
        "rate_b": -10.0,
        "n_a": 500,
        "n_b": 200,
        "effect": -50.0,
        "p_value": 1e-6,
        "differs": False,
        "own_insight": False,
        "difference_vs_rest": 0.0,
        "heterogeneity_p": 1.0,
        "heterogeneity_p_adj": 1.0,
        "heterogeneity_test": "z_test_cut_vs_rest",
    },
    {
        "dimension": "segment",
        "value": "S1",
        "rate_a": 40.0,
        "rate_b": -60.0,
        "n_a": 200,
        "n_b": 100,
        "effect": -100.0,
        "p_value": 1e-9,
        "differs": True,
        "own_insight": True,
        "difference_vs_rest": -80.0,
        "heterogeneity_p": 1.7e-16,
        "heterogeneity_p_adj": 5.1e-16,
        "heterogeneity_test": "z_test_cut_vs_rest",
        # a cut folded with its own cuts keeps them
        "drilldown": [{"dimension": "region", "value": "R1", "differs": False}],
    },
]
EVIDENCE = {"metric": "nps", "rate_a": 40.0, "rate_b": -10.0, "n_b": 400, "drilldown": DRILLDOWN}


def _seed(sessions) -> int:
    with sessions.begin() as s:
        add_insight(s)  # an insight without a drill-down
        return add_insight(
            s,
            insight_type=InsightType.EXECUTION_DRIFT,
            category=InsightCategory.QUALITY,
            title="NPS caiu 50 pontos nas últimas 4 semanas",
            affected_region=None,
            evidence=EVIDENCE,
            rule_id="nps_drift",
        ).id


def test_list_and_detail_return_the_drilldown_inside_evidence(client, keys, sessions):
    iid = _seed(sessions)
    listed = client.get(f"{PREFIX}/insights", headers=keys.header()).get_json()
    by_id = {i["id"]: i for i in listed}
    assert by_id[iid]["evidence"] == EVIDENCE
    other = next(i for i in listed if i["id"] != iid)
    assert "drilldown" not in other["evidence"]
    assert other["evidence"] == {"kit_a_activation_rate": 0.45, "kit_b_activation_rate": 0.78}
    detail = client.get(f"{PREFIX}/insights/{iid}", headers=keys.header()).get_json()
    assert detail["evidence"]["drilldown"] == DRILLDOWN


def test_openapi_documents_the_drilldown(client):
    spec = client.get("/openapi.json").get_json()
    validate(spec)
    schemas = spec["components"]["schemas"]
    evidence = schemas["PerformanceInsight"]["properties"]["evidence"]
    # nullable: `anyOf` a null object and the evidence schema
    (ref,) = [s["$ref"] for s in evidence.get("anyOf", [evidence]) if "$ref" in s]
    drill = schemas[ref.rsplit("/", 1)[1]]["properties"]["drilldown"]
    entry = schemas[drill["items"]["$ref"].rsplit("/", 1)[1]]
    assert {"dimension", "value", "rate_b", "n_b", "differs"} <= set(entry["properties"])
    assert {"dimension", "value", "differs"} <= set(entry["required"])
    assert entry["properties"]["differs"]["type"] == "boolean"
