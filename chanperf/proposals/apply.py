"""Applying an approved proposal: APPROVED -> IMPLEMENTED, the policy file written with version + 1."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chanperf.core.clock import as_utc
from chanperf.core.enums import ProposalStatus
from chanperf.core.errors import (
    ConflictError,
    NotFoundError,
)
from chanperf.models.runs import PolicyVersion
from chanperf.policies.files import apply_to_text, atomic_write, read_document
from chanperf.policies.load import PolicySet, load_policies
from chanperf.policies.versions import record_versions
from chanperf.proposals.queries import get_proposal
from chanperf.proposals.workflow import SYSTEM_ACTOR, move, require_actor

_MISSING = object()


def _value_at(document: dict[str, Any], parameter: str) -> Any:
    node: Any = document.get("params", {})
    for part in parameter.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def apply_proposal(
    session: Session,
    org_id: int,
    proposal_id: int,
    policies_dir: Path | str,
    actor: str | None = None,
    now: datetime | None = None,
) -> PolicyVersion:
    """Write the approved change into `<policies_dir>/<policy>.yaml` with version + 1.

    Refused (ConflictError, nothing written) unless APPROVED, and when the file no
    longer holds the value the proposal was based on. A file that moved on to a
    new version with the target value untouched is patched on top of that version.
    The database rows are flushed before the file is renamed into place, so a
    refused flush leaves the file alone.
    """
    actor = require_actor(actor or SYSTEM_ACTOR)
    row = get_proposal(session, org_id, proposal_id)
    if row.status != ProposalStatus.APPROVED:
        raise ConflictError(
            f"proposal {proposal_id} is {row.status.value}; only APPROVED is applied"
        )
    folder = Path(policies_dir)
    path = folder / f"{row.policy_name}.yaml"
    if not path.is_file():
        raise NotFoundError(f"policy file not found: {path}")
    old_bytes = path.read_bytes()
    old_text = old_bytes.decode("utf-8")
    current = _plain_document(old_text)
    on_file = _value_at(current, row.parameter_path or "")
    expected = None if row.current_value is None else row.current_value
    if (on_file is _MISSING and expected is not None) or (
        on_file is not _MISSING and on_file != expected
    ):
        raise ConflictError(
            f"{path}: {row.policy_name}.{row.parameter_path} is {on_file if on_file is not _MISSING else 'absent'} "
            f"(version {current.get('version')}), the proposal was based on {expected!r} "
            f"(version {row.base_policy_version}): rebase the proposal"
        )
    new_version = int(current["version"]) + 1
    new_text, _ = apply_to_text(old_text, list(row.policy_patch or []), new_version)
    new_policy = _validated(folder, path.name, new_text)
    when = as_utc(now)
    try:
        with session.begin_nested():
            base = load_policies(folder).policies[row.policy_name]
            record_versions(session, PolicySet({base.name: base}), org_id)
            version = PolicyVersion(
                org_id=org_id,
                policy_name=row.policy_name,
                version=new_version,
                document=new_policy.document,
                content_hash=new_policy.content_hash,
                source_path=path.name,
                applied_at=when,
                applied_by=actor,
                proposal_id=row.id,
            )
            session.add(version)
            # The status moves by compare-and-set: of two applies racing, one moves it.
            values = {
                "status": ProposalStatus.IMPLEMENTED,
                "implemented_at": when,
                "implemented_by": actor,
            }
            row = move(session, org_id, proposal_id, ProposalStatus.APPROVED, values, "applied")
            session.flush()
    except IntegrityError as exc:
        raise ConflictError(
            f"version {new_version} of {row.policy_name} is already recorded: {exc.orig}"
        ) from None
    if path.read_bytes() != old_bytes:  # someone wrote the file while we were working
        raise ConflictError(f"{path} changed while the proposal was being applied")
    atomic_write(path, new_text.encode("utf-8"))
    return version


def _plain_document(text: str) -> dict[str, Any]:
    doc = read_document(text)
    if not isinstance(doc, dict) or not isinstance(doc.get("version"), int):
        raise ConflictError("the policy file has no integer version")
    return doc


def _validated(folder: Path, name: str, text: str) -> Any:
    """The new file validated as the loader would (schema, name), from a scratch copy."""
    with tempfile.TemporaryDirectory() as scratch:
        for other in folder.glob("*.y*ml"):
            shutil.copy2(other, Path(scratch) / other.name)
        (Path(scratch) / name).write_text(text, encoding="utf-8")
        return load_policies(scratch).policies[Path(name).stem]
