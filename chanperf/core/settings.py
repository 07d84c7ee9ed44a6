"""One Settings object built from CHANPERF_* variables (and `.env`), passed down explicitly."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from platformdirs import user_data_dir

from chanperf.core.errors import ConfigError

# The source checkout (tests, benchmarks and scripts use it). Installed from a wheel this
# names site-packages itself, so nothing in the package reads files through it.
REPO_ROOT = Path(__file__).resolve().parents[2]

# The default policy and rule packs, packaged with chanperf (chanperf/packs/policies and
# chanperf/packs/rules are links to the repository's policies/ and rules/, which setuptools
# copies into the wheel as plain files).
PACKAGED_PACKS = Path(__file__).resolve().parents[1] / "packs"

# Settings that may carry a password: each is read from CHANPERF_<NAME> or from the file
# that CHANPERF_<NAME>_FILE names (Docker secrets are files under /run/secrets), so the
# secret never has to sit in the environment. CHANPERF_API_KEYS_FILE is older than this
# and keeps its own meaning: a file of key entries that adds to CHANPERF_API_KEYS.
SECRET_SETTINGS = ("DATABASE_URL", "SOURCE_DATABASE_URL", "REDIS_URL")

# One line per record, on stderr, for every process (CLI, API, workers).
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


def _default_database_url() -> str:
    """./chanperf.db when the working folder is writable, else the user's data folder."""
    cwd = Path.cwd()
    if os.access(cwd, os.W_OK):
        return f"sqlite:///{cwd / 'chanperf.db'}"

    data = Path(user_data_dir("chanperf"))
    data.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data / 'chanperf.db'}"


def default_pack_dir(name: str) -> Path:
    """Where pack `name` ("policies" or "rules") is read from when no folder is configured:
    the working folder's own `name/` (a policy repository), else the packaged one."""
    local = Path.cwd() / name
    return local if local.is_dir() else PACKAGED_PACKS / name


def pack_origin(path: Path, name: str) -> str:
    """How the folder of pack `name` was chosen, in words (for "which packs are loaded")."""
    if path == PACKAGED_PACKS / name:
        return f"the default {name} packaged with chanperf"
    if path == Path.cwd() / name:
        return "the working folder"
    return "configured"


def _read_secret_file(variable: str, value: str) -> tuple[str, Path]:
    path = Path(value)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{variable}: cannot read {path}: {exc}") from exc
    if not text:
        raise ConfigError(f"{variable}: {path} is empty")
    return text, path


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=_default_database_url)
    source_database_url: str | None = None
    redis_url: str | None = None
    policies_dir: Path = field(default_factory=lambda: default_pack_dir("policies"))
    rules_dir: Path = field(default_factory=lambda: default_pack_dir("rules"))
    timezone: str = "America/Sao_Paulo"
    port: int = 8024
    api_keys_file: Path | None = None
    api_keys: str | None = None
    log_level: str = "INFO"
    # Connections a collect reads the source with at once (MariaDB/MySQL; 1 = serial).
    collect_readers: int = 2
    # Reverse proxies in front of the API whose X-Forwarded-* headers are trusted (Traefik
    # strips the route's prefix and sends it as X-Forwarded-Prefix); 0: none.
    proxy_hops: int = 0
    # True when CHANPERF_DATABASE_URL (or --database-url) chose the database: the demo
    # then refuses to overwrite data unless asked, instead of using its own file.
    database_url_chosen: bool = False
    # The files the secret settings were read from (SECRET_SETTINGS name -> file), so a
    # child process is handed the file's name rather than the secret itself.
    secret_files: tuple[tuple[str, Path], ...] = ()

    @property
    def source_url(self) -> str:
        return self.source_database_url or self.database_url

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def describe_packs(self) -> str:
        """Which policy and rule packs these settings read, and why those."""
        return (
            f"policies: {self.policies_dir} ({pack_origin(self.policies_dir, 'policies')}); "
            f"rules: {self.rules_dir} ({pack_origin(self.rules_dir, 'rules')})"
        )

    def to_env(self) -> dict[str, str]:
        """These settings as CHANPERF_* variables: what a child process (the API server)
        needs to build the same Settings with `from_env`. A secret read from a file is
        passed on as its file's name."""
        values = {
            "DATABASE_URL": self.database_url,
            "SOURCE_DATABASE_URL": self.source_database_url,
            "REDIS_URL": self.redis_url,
            "POLICIES_DIR": str(self.policies_dir),
            "RULES_DIR": str(self.rules_dir),
            "TIMEZONE": self.timezone,
            "PORT": str(self.port),
            "API_KEYS_FILE": str(self.api_keys_file) if self.api_keys_file else None,
            "API_KEYS": self.api_keys,
            "LOG_LEVEL": self.log_level,
            "COLLECT_READERS": str(self.collect_readers),
            "PROXY_HOPS": str(self.proxy_hops),
        }
        for name, path in self.secret_files:
            values[name] = None
            values[f"{name}_FILE"] = str(path)
        return {f"CHANPERF_{k}": v for k, v in values.items() if v is not None}

    def with_(self, **changes: object) -> Settings:
        # A setting given a new value no longer comes from its file.
        files = tuple((n, p) for n, p in self.secret_files if n.lower() not in changes)
        return replace(self, **{"secret_files": files, **changes})  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, dotenv: bool = True) -> Settings:
        """Read CHANPERF_* variables; a `.env` in the working folder fills what is unset.

        Each of SECRET_SETTINGS may come from CHANPERF_<NAME>_FILE instead (setting both is
        an error); a `.env` line does not fill a setting the environment gives either way.
        """
        given = os.environ if environ is None else environ
        env: dict[str, str] = {}
        if dotenv and environ is None and Path(".env").is_file():
            env.update({k: v for k, v in dotenv_values(".env").items() if v is not None})
            for name in SECRET_SETTINGS:
                if {f"CHANPERF_{name}", f"CHANPERF_{name}_FILE"} & given.keys():
                    env.pop(f"CHANPERF_{name}", None)
                    env.pop(f"CHANPERF_{name}_FILE", None)
        env.update(given)

        def get(name: str) -> str | None:
            value = env.get(f"CHANPERF_{name}")
            return value if value not in (None, "") else None

        kwargs: dict[str, object] = {}
        files: list[tuple[str, Path]] = []
        secret_values: dict[str, str | None] = {}
        for name in SECRET_SETTINGS:
            value, file_name = get(name), get(f"{name}_FILE")
            if value is not None and file_name is not None:
                raise ConfigError(f"set CHANPERF_{name} or CHANPERF_{name}_FILE, not both")
            if file_name is not None:
                value, path = _read_secret_file(f"CHANPERF_{name}_FILE", file_name)
                files.append((name, path))
            secret_values[name] = value
        kwargs["secret_files"] = tuple(files)

        if (v := secret_values["DATABASE_URL"]) is not None:
            kwargs["database_url"] = v
            kwargs["database_url_chosen"] = True
        kwargs["source_database_url"] = secret_values["SOURCE_DATABASE_URL"]
        kwargs["redis_url"] = secret_values["REDIS_URL"]
        if (v := get("POLICIES_DIR")) is not None:
            kwargs["policies_dir"] = Path(v)
        if (v := get("RULES_DIR")) is not None:
            kwargs["rules_dir"] = Path(v)
        if (v := get("TIMEZONE")) is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ConfigError(f"CHANPERF_TIMEZONE: unknown time zone {v!r}") from exc
            kwargs["timezone"] = v
        if (v := get("PORT")) is not None:
            if not v.isdigit() or not 0 < int(v) < 65536:
                raise ConfigError(f"CHANPERF_PORT: not a TCP port: {v!r}")
            kwargs["port"] = int(v)
        if (v := get("API_KEYS_FILE")) is not None:
            kwargs["api_keys_file"] = Path(v)
        kwargs["api_keys"] = get("API_KEYS")
        if (v := get("COLLECT_READERS")) is not None:
            if not v.isdigit() or not 1 <= int(v) <= 32:
                raise ConfigError(f"CHANPERF_COLLECT_READERS: not a number from 1 to 32: {v!r}")
            kwargs["collect_readers"] = int(v)
        if (v := get("LOG_LEVEL")) is not None:
            kwargs["log_level"] = v.upper()
        if (v := get("PROXY_HOPS")) is not None:
            if not v.isdigit() or not 0 <= int(v) <= 8:
                raise ConfigError(f"CHANPERF_PROXY_HOPS: not a number from 0 to 8: {v!r}")
            kwargs["proxy_hops"] = int(v)
        return cls(**kwargs)  # type: ignore[arg-type]
