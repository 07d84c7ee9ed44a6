"""Policies as code: load and validate `policies/*.yaml` and address their parameters (pure: no database).

A folder is accepted whole or refused whole: every problem of every file is
collected (as `path:line:col: message`) and raised once as a ValidationError.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chanperf.core.errors import NotFoundError, Problem, ValidationError
from chanperf.core.yaml_positions import SCHEMAS_DIR, read_yaml, schema_problems

ENVELOPE_SCHEMA = "policy-envelope.v1.json"


def policy_schema_name(policy: str) -> str:
    return f"policy-{policy}.v1.json"


def known_policies() -> list[str]:
    """Policy names that have a params schema shipped with the code."""
    prefix, suffix = "policy-", ".v1.json"
    names = (p.name[len(prefix) : -len(suffix)] for p in SCHEMAS_DIR.glob(f"{prefix}*{suffix}"))
    return sorted(n for n in names if n != "envelope")


@dataclass(frozen=True)
class Policy:
    name: str
    version: int
    owner: str
    description: str
    params: Mapping[str, Any]
    content_hash: str
    source_path: str
    # Where `version:` is written, so a version clash can point at the line to bump.
    version_line: int | None = None
    version_col: int | None = None

    @property
    def document(self) -> dict[str, Any]:
        """The policy as stored in the policy-versions table (and hashed)."""
        return {
            "policy": self.name,
            "version": self.version,
            "owner": self.owner,
            "description": self.description,
            "params": self.params,
        }


def content_hash(document: Mapping[str, Any]) -> str:
    # Canonical JSON: comments and key order in the YAML do not make a new version.
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_MISSING = object()


@dataclass(frozen=True)
class PolicySet:
    policies: Mapping[str, Policy] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Policy]:
        return iter(self.policies[name] for name in sorted(self.policies))

    def get(self, address: str, default: Any = _MISSING) -> Any:
        """Value at `policy.<name>.<path>` or `<name>.<path>` (e.g. `onboarding.default_kit`)."""
        parts = address.split(".")
        if parts and parts[0] == "policy":
            parts = parts[1:]
        node: Any = None
        found = bool(parts) and parts[0] in self.policies
        if found:
            node = self.policies[parts[0]].params
            for part in parts[1:]:
                if isinstance(node, Mapping) and part in node:
                    node = node[part]
                elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                    node = node[int(part)]
                else:
                    found = False
                    break
        if found:
            return node
        if default is _MISSING:
            raise NotFoundError(f"policy parameter not found: {address}")
        return default

    def flat(self) -> dict[str, Any]:
        """Every leaf parameter by address (`reactivation.max_discount_pct`); lists stay lists."""
        out: dict[str, Any] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, Mapping) and value:
                for key, child in value.items():
                    walk(f"{prefix}.{key}", child)
            else:
                out[prefix] = value

        for policy in self:
            walk(policy.name, dict(policy.params))
        return out

    def with_params(self, overrides: Mapping[str, Any]) -> PolicySet:
        """A copy with some parameters replaced (rule tests use it); content hashes are updated."""
        policies = dict(self.policies)
        for address, value in overrides.items():
            parts = address.removeprefix("policy.").split(".")
            if parts[0] not in policies or len(parts) < 2:
                raise NotFoundError(f"policy parameter not found: {address}")
            old = policies[parts[0]]
            params = json.loads(json.dumps(old.params))
            node = params
            for part in parts[1:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
            doc = {**old.document, "params": params}
            policies[parts[0]] = Policy(
                old.name,
                old.version,
                old.owner,
                old.description,
                params,
                content_hash(doc),
                old.source_path,
            )
        return PolicySet(policies)


def load_policies(folder: Path | str) -> PolicySet:
    """Load and validate every `*.yaml` in `folder`; raise one ValidationError listing every problem."""
    folder = Path(folder)
    problems: list[Problem] = []
    policies: dict[str, Policy] = {}
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not folder.is_dir():
        raise ValidationError([Problem(str(folder), "policies folder not found")])
    known = known_policies()
    for path in files:
        policy, file_problems = _load_file(path, known)
        problems.extend(file_problems)
        if policy is not None:
            policies[policy.name] = policy
    if not problems:
        for name in known:
            if name not in policies:
                problems.append(Problem(str(folder), f"policy {name!r} is missing ({name}.yaml)"))
    if problems:
        raise ValidationError(problems, summary=f"{len(problems)} problem(s) in policies")
    return PolicySet(policies)


def _load_file(path: Path, known: list[str]) -> tuple[Policy | None, list[Problem]]:
    doc, problems = read_yaml(path)
    if doc is None:
        return None, problems
    data = doc.data
    problems += schema_problems(doc, data, ENVELOPE_SCHEMA)
    if not isinstance(data, dict):
        return None, problems
    name = data.get("policy")
    if isinstance(name, str):
        if path.stem != name:
            problems.append(
                doc.problem(["policy"], f"policy {name!r} must be in a file named {name}.yaml")
            )
        if name not in known:
            problems.append(
                doc.problem(["policy"], f"unknown policy {name!r} (known: {', '.join(known)})")
            )
        elif isinstance(data.get("params"), dict):
            problems += schema_problems(doc, data["params"], policy_schema_name(name), ["params"])
    if problems:
        return None, problems
    line, col = doc.mark(["version"])
    document = {k: data[k] for k in ("policy", "version", "owner", "description", "params")}
    policy = Policy(
        name=data["policy"],
        version=data["version"],
        owner=data["owner"],
        description=data["description"],
        params=data["params"],
        content_hash=content_hash(document),
        source_path=str(path),
        version_line=line,
        version_col=col,
    )
    return policy, []
