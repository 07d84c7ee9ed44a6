"""Policies as the API shows them: the current version of each and its recorded history.

The current version is the highest recorded for the org. A policy that no run
has recorded yet (a fresh install) is shown from the shipped file, marked so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chanperf.core.errors import NotFoundError
from chanperf.core.settings import Settings
from chanperf.models.runs import PolicyVersion
from chanperf.policies.load import Policy, load_policies


def _file_name(path: str | None) -> str | None:
    """The policy file's name in the policy folder: where the server keeps it is its own."""
    return Path(path).name if path else None


def _version(row: PolicyVersion) -> dict[str, Any]:
    return {
        "version": row.version,
        "content_hash": row.content_hash,
        "source": "recorded",
        "source_path": _file_name(row.source_path),
        "loaded_at": row.loaded_at,
        "applied_at": row.applied_at,
        "applied_by": row.applied_by,
        "proposal_id": row.proposal_id,
        "document": dict(row.document),
    }


def _from_file(policy: Policy) -> dict[str, Any]:
    return {
        "version": policy.version,
        "content_hash": policy.content_hash,
        "source": "file",
        "source_path": _file_name(policy.source_path),
        "loaded_at": None,
        "applied_at": None,
        "applied_by": None,
        "proposal_id": None,
        "document": policy.document,
    }


def _recorded(session: Session, org_id: int, name: str | None = None) -> list[PolicyVersion]:
    query = select(PolicyVersion).where(PolicyVersion.org_id == org_id)
    if name is not None:
        query = query.where(PolicyVersion.policy_name == name)
    return list(
        session.scalars(query.order_by(PolicyVersion.policy_name, PolicyVersion.version.desc()))
    )


def list_policies(session: Session, settings: Settings, org_id: int) -> list[dict[str, Any]]:
    history: dict[str, list[PolicyVersion]] = {}
    for row in _recorded(session, org_id):
        history.setdefault(row.policy_name, []).append(row)
    shipped = {p.name: p for p in load_policies(settings.policies_dir)}
    out = []
    for name in sorted(set(history) | set(shipped)):
        rows = history.get(name, [])
        current = _version(rows[0]) if rows else _from_file(shipped[name])
        current.pop("document")
        out.append({"name": name, "current": current, "versions": len(rows)})
    return out


def get_policy(session: Session, settings: Settings, org_id: int, name: str) -> dict[str, Any]:
    rows = _recorded(session, org_id, name)
    if rows:
        history = [_version(r) for r in rows]
        return {"name": name, "current": history[0], "history": history}
    shipped = {p.name: p for p in load_policies(settings.policies_dir)}
    if name not in shipped:
        raise NotFoundError(f"policy {name!r} not found")
    return {"name": name, "current": _from_file(shipped[name]), "history": []}


__all__ = ["get_policy", "list_policies"]
