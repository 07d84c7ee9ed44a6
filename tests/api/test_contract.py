"""The API does what /openapi.json says: schemathesis fuzzes every operation, every check.

Both backends, on a small planted channel analysed once per backend (insights and
proposals to act on). Each operation gets a bounded, derandomised run (EXAMPLES
cases, fixed seed), so a failure reproduces. Every built-in check runs; one is
refined rather than weakened: a schema-valid request may answer 422 only when it names
a field whose documentation states the rule the schema cannot (a day not after today, a
dismissal's reason, `from` not after `to`), and the answer's fields are checked to be so
documented.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.generation.meta import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import Engine

from api import create_app
from chanperf.analysis.run import analyze
from chanperf.core.api_keys import new_key
from chanperf.core.database import make_engine
from chanperf.core.settings import REPO_ROOT, Settings
from chanperf.models.base import Base
from tests.conftest import BACKENDS, _empty_all_tables
from tests.metrics.test_collect_golden import load_channel

EXAMPLES = int(os.environ.get("CHANPERF_CONTRACT_EXAMPLES", "25"))
KEY, KEY_LINE = new_key("contract-approver", "approver", 1)


def _seeded_app(engine: Engine) -> Any:
    load_channel(engine)
    url = engine.url.render_as_string(hide_password=False)
    cfg = Settings(
        database_url=url, policies_dir=REPO_ROOT / "policies", rules_dir=REPO_ROOT / "rules"
    )
    analyze(cfg, 1, date(2026, 6, 30))
    return create_app({"TESTING": True, "CHANPERF_SETTINGS": cfg.with_(api_keys=KEY_LINE)})


@pytest.fixture(scope="module", params=BACKENDS)
def contract_schema(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('contract') / 'c.db'}")
        Base.metadata.create_all(engine)
        yield schemathesis.openapi.from_wsgi("/openapi.json", _seeded_app(engine))
        engine.dispose()
    else:
        engine = request.getfixturevalue("mariadb_engine")
        _empty_all_tables(engine)
        yield schemathesis.openapi.from_wsgi("/openapi.json", _seeded_app(engine))
        _empty_all_tables(engine)


schema = schemathesis.pytest.from_fixture("contract_schema")


def _documented_rules(case: Any) -> dict[str, str]:
    """Each parameter or body field of the operation with its description."""
    definition = case.operation.definition.raw
    out = {
        p["name"]: p.get("description", "") + p.get("schema", {}).get("description", "")
        for p in definition.get("parameters", [])
    }
    body = definition.get("requestBody", {}).get("content", {}).get("application/json", {})
    resolved = body.get("schema", {})
    if "$ref" in resolved:  # "#/components/schemas/Name"
        node: Any = case.operation.schema.raw_schema
        for part in resolved["$ref"].lstrip("#/").split("/"):
            node = node[part]
        resolved = node
    for name, prop in resolved.get("properties", {}).items():
        out[name] = prop.get("description", "")
    return out


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_does_what_the_contract_says(case: Any) -> None:
    # The key goes where schemathesis put the security scheme's header ("Bearer " with no
    # token); a negative case that removed the header is sent without one (401 expected).
    has_auth = "Authorization" in (case.headers or {})
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {KEY}"} if has_auth else None,
        excluded_checks=[positive_data_acceptance],
    )
    if case.meta is None or case.meta.generation.mode is not GenerationMode.POSITIVE:
        return
    if response.status_code == 422:
        named = set(response.json()["errors"])
        documented = _documented_rules(case)
        undocumented = sorted(
            f
            for f in named
            if "422" not in documented.get(f, "") and "today" not in documented.get(f, "")
        )
        assert not undocumented, (
            f"{case.method} {case.path}: a schema-valid request answered 422 on {undocumented}, "
            f"a rule the contract does not state: {response.text}"
        )
    else:
        assert response.status_code < 400 or response.status_code in (401, 403, 404, 409), (
            f"{case.method} {case.path}: schema-valid request answered {response.status_code}: "
            f"{response.text}"
        )
