"""Bearer API keys configured by the operator, stored only as SHA-256 digests.

An entry is `name:role:org:sha256hex`, one per line in CHANPERF_API_KEYS_FILE
(`#` starts a comment) or `;`-separated in CHANPERF_API_KEYS. The key itself is
never stored: `chanperf apikey new` prints it once, with the line to add.

Roles are ordered, and each includes the ones below it: an approver is usually
the policy owner who also reviews insights and starts analyses, and making them
hold a second key for that would only invite key sharing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum

from chanperf.core.errors import ConfigError
from chanperf.core.settings import Settings

KEY_PREFIX = "cpk_"
_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,100}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class Role(IntEnum):
    VIEWER = 1  # reads
    ANALYST = 2  # + insight actions, starting analyses
    APPROVER = 3  # + approving and rejecting proposals

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            known = ", ".join(r.label for r in cls)
            raise ConfigError(f"unknown role {text!r} (one of {known})") from None


@dataclass(frozen=True)
class ApiKey:
    """Who is calling: the name is what reviewed_by/approved_by record."""

    name: str
    role: Role
    org_id: int
    digest: str

    def allows(self, needed: Role) -> bool:
        return self.role >= needed


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_entry(entry: str, where: str = "API key") -> ApiKey:
    parts = entry.strip().split(":")
    if len(parts) != 4:
        raise ConfigError(f"{where}: expected name:role:org:sha256hex, got {len(parts)} field(s)")
    name, role, org, digest = (p.strip() for p in parts)
    if not _NAME.match(name):
        raise ConfigError(f"{where}: name {name!r} must be 1-100 of A-Z a-z 0-9 . _ @ -")
    try:
        parsed_role = Role.parse(role)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if not org.isdigit() or int(org) < 1:
        raise ConfigError(f"{where}: org must be a positive integer, got {org!r}")
    digest = digest.lower()
    if not _DIGEST.match(digest):
        # A raw key pasted here would be a secret at rest: refuse it loudly.
        raise ConfigError(f"{where}: the last field must be the SHA-256 hex digest of the key")
    return ApiKey(name, parsed_role, int(org), digest)


def parse_entries(lines: Iterable[str], source: str) -> list[ApiKey]:
    keys: list[ApiKey] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if line:
            keys.append(parse_entry(line, f"{source}:{number}"))
    return keys


class KeyRing:
    """The configured keys by digest; an empty ring lets nobody in."""

    def __init__(self, keys: Iterable[ApiKey] = ()):
        self._by_digest: dict[str, ApiKey] = {}
        for key in keys:
            if key.digest in self._by_digest:
                raise ConfigError(f"API key {key.name!r}: the same key is configured twice")
            self._by_digest[key.digest] = key

    def __len__(self) -> int:
        return len(self._by_digest)

    @property
    def keys(self) -> Mapping[str, ApiKey]:
        return dict(self._by_digest)

    def authenticate(self, token: str | None) -> ApiKey | None:
        if not token:
            return None
        digest = hash_key(token)
        for known, key in self._by_digest.items():
            # Constant-time comparison of digests; the ring is small.
            if hmac.compare_digest(known, digest):
                return key
        return None


def load_keyring(settings: Settings) -> KeyRing:
    """Keys from CHANPERF_API_KEYS_FILE and CHANPERF_API_KEYS together."""
    keys: list[ApiKey] = []
    if settings.api_keys_file is not None:
        try:
            text = settings.api_keys_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"CHANPERF_API_KEYS_FILE: cannot read {settings.api_keys_file}: {exc}"
            ) from exc
        keys += parse_entries(text.splitlines(), str(settings.api_keys_file))
    if settings.api_keys:
        keys += parse_entries(settings.api_keys.split(";"), "CHANPERF_API_KEYS")
    return KeyRing(keys)


def new_key(name: str, role: Role | str, org_id: int) -> tuple[str, str]:
    """A fresh random key and the `name:role:org:digest` line that configures it."""
    parsed = role if isinstance(role, Role) else Role.parse(role)
    if not _NAME.match(name):
        raise ConfigError(f"name {name!r} must be 1-100 of A-Z a-z 0-9 . _ @ -")
    if org_id < 1:
        raise ConfigError("org must be a positive integer")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, f"{name}:{parsed.label}:{org_id}:{hash_key(key)}"


__all__ = [
    "ApiKey",
    "KeyRing",
    "Role",
    "hash_key",
    "load_keyring",
    "new_key",
    "parse_entries",
    "parse_entry",
]
