"""Policy loading, addressing and versioning; broken files give exact path:line:col messages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chanperf.core.errors import NotFoundError, ValidationError
from chanperf.core.settings import REPO_ROOT
from chanperf.models.runs import PolicyVersion
from chanperf.policies.load import known_policies, load_policies
from chanperf.policies.versions import record_versions

POLICIES = REPO_ROOT / "policies"
BROKEN = Path(__file__).parents[1] / "fixtures" / "broken_policies"


def test_shipped_pack_loads_with_every_policy_and_the_values_others_rely_on() -> None:
    ps = load_policies(POLICIES)
    assert sorted(ps.policies) == known_policies()
    assert ps.get("onboarding.default_kit") == "KIT_A"
    assert ps.get("onboarding.regions.NORTE.default_kit") == "KIT_A"
    assert ps.get("policy.reactivation.max_reincidence_rate") == 0.25
    assert ps.get("reactivation.allowed_strategies.1") == "CALL"
    assert ps.get("states.max_days_in_state.ACTIVATING") == 45
    assert ps.flat()["pricing.max_exception_rate"] == 0.05
    assert ps.get("onboarding.nope", None) is None
    with pytest.raises(NotFoundError, match=r"policy parameter not found: onboarding\.nope"):
        ps.get("onboarding.nope")


def test_content_hash_ignores_comments_and_key_order(tmp_path: Path) -> None:
    shutil.copytree(POLICIES, tmp_path / "p")
    path = tmp_path / "p" / "pricing.yaml"
    text = path.read_text()
    path.write_text(
        "# a new comment\n" + text.replace("owner: canal-precos\n", "") + "owner: canal-precos\n"
    )
    assert load_policies(tmp_path / "p").policies["pricing"].content_hash == (
        load_policies(POLICIES).policies["pricing"].content_hash
    )


def _problems(folder: Path) -> list[str]:
    with pytest.raises(ValidationError) as info:
        load_policies(folder)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            "bad_yaml/pricing.yaml",
            ["7:1: invalid YAML: expected ',' or ']', but got '<stream end>'"],
        ),
        (
            "wrong_type/pricing.yaml",
            ["6:23: params.max_exception_rate: 'cinco por cento' is not of type 'number'"],
        ),
        (
            "unknown_key/pricing.yaml",
            ["7:3: params.max_exceptoin_rate: unknown key 'max_exceptoin_rate'"],
        ),
        (
            "yaml11_bool/strategy.yaml",
            [
                "7:34: unquoted 'NO' is read as a boolean by YAML 1.1: quote it (\"NO\")",
                "7:34: params.priority_regions.1: False is not of type 'string'",
            ],
        ),
        (
            "wrong_file_name/prices.yaml",
            ["1:9: policy 'pricing' must be in a file named pricing.yaml"],
        ),
    ],
)
def test_broken_policy_file_gives_exact_positions(case: str, expected: list[str]) -> None:
    path = BROKEN / case
    assert _problems(path.parent) == [f"{path}:{e}" for e in expected]


def test_every_problem_of_a_folder_is_reported_at_once(tmp_path: Path) -> None:
    shutil.copytree(POLICIES, tmp_path, dirs_exist_ok=True)
    shutil.copy(BROKEN / "wrong_type" / "pricing.yaml", tmp_path / "pricing.yaml")
    shutil.copy(BROKEN / "yaml11_bool" / "strategy.yaml", tmp_path / "strategy.yaml")
    assert len(_problems(tmp_path)) == 3


def test_a_missing_policy_is_an_error(tmp_path: Path) -> None:
    shutil.copytree(POLICIES, tmp_path, dirs_exist_ok=True)
    (tmp_path / "pricing.yaml").unlink()
    assert _problems(tmp_path) == [f"{tmp_path}: policy 'pricing' is missing (pricing.yaml)"]


def test_record_versions_inserts_new_content_once_and_refuses_a_version_clash(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    ps = load_policies(POLICIES)
    with sessions() as session:
        assert len(record_versions(session, ps, org_id=1)) == len(ps.policies)
        assert record_versions(session, ps, org_id=1) == []  # same content: nothing new
        assert len(record_versions(session, ps, org_id=2)) == len(ps.policies)  # per org
        session.commit()

    changed = tmp_path / "p"
    shutil.copytree(POLICIES, changed)
    path = changed / "pricing.yaml"
    path.write_text(
        path.read_text().replace("max_exception_rate: 0.05", "max_exception_rate: 0.08")
    )
    clash = load_policies(changed)
    old_hash = ps.policies["pricing"].content_hash
    with sessions() as session, pytest.raises(ValidationError) as info:
        record_versions(session, clash, org_id=1)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:3:10: version 1 of policy 'pricing' is already recorded with different content "
        f"(hash {old_hash[:12]}): increase version"
    ]

    path.write_text(path.read_text().replace("version: 1", "version: 2"))
    with sessions() as session:
        added = record_versions(session, load_policies(changed), org_id=1)
        session.commit()
        assert [(r.policy_name, r.version) for r in added] == [("pricing", 2)]
        rows = session.scalars(select(PolicyVersion).where(PolicyVersion.org_id == 1)).all()
        assert len(rows) == len(ps.policies) + 1
