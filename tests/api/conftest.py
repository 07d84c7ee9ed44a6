"""Shared pieces of the API tests: keys for every role and org, a client, seed rows.

Fixtures for tests/api (keys, client) and helpers other test modules import from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient

from api import create_app
from chanperf.core.api_keys import new_key
from chanperf.core.enums import (
    InsightCategory,
    InsightStatus,
    InsightType,
    PeriodType,
    ProposalStatus,
    Severity,
    SuggestedAction,
)
from chanperf.core.settings import Settings
from chanperf.models.performance import PerformanceInsight, PerformanceMetric, PolicyProposal

PREFIX = "/v1/performance"
ROLES = ("viewer", "analyst", "approver")


@dataclass(frozen=True)
class Keys:
    """A key per role for org 1 (named after the role) and an approver of org 2."""

    by_role: dict[str, str]
    other_org: str
    config: str

    def header(self, role: str = "viewer") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.by_role[role]}"}

    def other_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.other_org}"}


def make_keys() -> Keys:
    by_role, lines = {}, []
    for role in ROLES:
        key, line = new_key(f"{role}-ana", role, 1)
        by_role[role] = key
        lines.append(line)
    other, line = new_key("org2-approver", "approver", 2)
    lines.append(line)
    return Keys(by_role, other, ";".join(lines))


def make_client(settings: Settings, keys: Keys) -> FlaskClient:
    app = create_app({"TESTING": True, "CHANPERF_SETTINGS": settings.with_(api_keys=keys.config)})
    return app.test_client()


@pytest.fixture
def keys() -> Keys:
    return make_keys()


@pytest.fixture
def client(settings: Settings, keys: Keys) -> FlaskClient:
    return make_client(settings, keys)


def error_of(response: Any) -> dict[str, Any]:
    """The one error shape, checked on every error answer the tests look at."""
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"}, body
    assert body["code"] == response.status_code
    return dict(body)


NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC).replace(tzinfo=None)


def add_insight(session: Any, org_id: int = 1, **overrides: Any) -> PerformanceInsight:
    values: dict[str, Any] = {
        "org_id": org_id,
        "insight_type": InsightType.POLICY_GAP,
        "category": InsightCategory.ONBOARDING,
        "severity": Severity.HIGH,
        "title": "Kit B tem 2x mais sucesso que Kit A na região Norte",
        "observation": "Análise de 120 onboardings",
        "evidence": {"kit_a_activation_rate": 0.45, "kit_b_activation_rate": 0.78},
        "recommendation": "Kit B deve ser padrão para a região Norte",
        "suggested_action": SuggestedAction.CHANGE_POLICY,
        "affected_region": "Norte",
        "analysis_period_start": date(2026, 9, 21),
        "analysis_period_end": date(2026, 11, 19),
        "status": InsightStatus.NEW,
        "first_seen_at": NOW,
        "last_seen_at": NOW,
        "rule_id": "kit-effectiveness",
    }
    values.update(overrides)
    row = PerformanceInsight(**values)
    session.add(row)
    session.flush()
    return row


def add_proposal(
    session: Any,
    org_id: int = 1,
    insight_id: int | None = None,
    status: ProposalStatus = ProposalStatus.PENDING_REVIEW,
    **overrides: Any,
) -> PolicyProposal:
    values: dict[str, Any] = {
        "org_id": org_id,
        "insight_id": insight_id,
        "policy_name": "onboarding",
        "title": "Kit B como padrão na região Norte",
        "current_policy": {"params": {"regions": {"Norte": {"default_kit": "KIT_A"}}}},
        "proposed_policy": {"params": {"regions": {"Norte": {"default_kit": "KIT_B"}}}},
        "description": "Kit B ativa 78% na região Norte, contra 45% com o kit A.",
        "affected_policy": "onboarding.regions.Norte.default_kit",
        "current_value": "KIT_A",
        "proposed_value": "KIT_B",
        "policy_diff": (
            "--- a/policies/onboarding.yaml\n+++ b/policies/onboarding.yaml\n"
            "@@ -1 +1 @@\n-default_kit: KIT_A\n+default_kit: KIT_B\n"
        ),
        "status": status,
        "requested_by": "chanperf",
    }
    values.update(overrides)
    row = PolicyProposal(**values)
    session.add(row)
    session.flush()
    return row


def add_metric(
    session: Any, org_id: int, period_type: PeriodType, day: date, **measures: Any
) -> None:
    session.add(
        PerformanceMetric(
            org_id=org_id,
            period_type=period_type,
            period_date=day,
            **{k: Decimal(str(v)) if isinstance(v, float) else v for k, v in measures.items()},
        )
    )


def days_before(day: date, n: int) -> date:
    return day - timedelta(days=n)
