"""The policy versions an organisation ran under, recorded in the database (one row per version)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from chanperf.core.errors import Problem, ValidationError
from chanperf.models.runs import PolicyVersion
from chanperf.policies.load import PolicySet


def record_versions(session: Session, policy_set: PolicySet, org_id: int) -> list[PolicyVersion]:
    """Add a PolicyVersion row for each policy whose content is new for this org.

    The same version number with different content is refused: whoever changed the
    file forgot to bump `version`. Flushes, does not commit (the caller owns the transaction).
    """
    added: list[PolicyVersion] = []
    problems: list[Problem] = []
    for policy in policy_set:
        rows = session.scalars(
            select(PolicyVersion).where(
                PolicyVersion.org_id == org_id, PolicyVersion.policy_name == policy.name
            )
        ).all()
        if any(r.content_hash == policy.content_hash for r in rows):
            continue
        clash = next((r for r in rows if r.version == policy.version), None)
        if clash is not None:
            problems.append(
                Problem(
                    policy.source_path,
                    f"version {policy.version} of policy {policy.name!r} is already recorded with "
                    f"different content (hash {clash.content_hash[:12]}): increase version",
                    policy.version_line,
                    policy.version_col,
                )
            )
            continue
        row = PolicyVersion(
            org_id=org_id,
            policy_name=policy.name,
            version=policy.version,
            document=policy.document,
            content_hash=policy.content_hash,
            source_path=policy.source_path,
        )
        session.add(row)
        added.append(row)
    if problems:
        raise ValidationError(problems, summary="policy version clash")
    session.flush()
    return added
