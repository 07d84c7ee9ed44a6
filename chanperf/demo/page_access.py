"""How to open the Performance page on the demo database: a key per role, and the command.

`chanperf demo` writes a keys file beside the demo's SQLite file (only digests, as
CHANPERF_API_KEYS_FILE wants them), prints the keys once, and the `chanperf serve`
command and URL that show the page on that database.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.engine import make_url

from chanperf.core.api_keys import Role, new_key

Echo = Callable[[str], None]

# One key per role: a viewer sees the page, an analyst acts on insights, an approver
# approves and rejects proposals.
DEMO_KEYS: tuple[tuple[str, Role, str], ...] = (
    ("demo-viewer", Role.VIEWER, "leitura"),
    ("demo-analyst", Role.ANALYST, "analista"),
    ("demo-approver", Role.APPROVER, "aprovador"),
)
KEYS_FILE_NAME = "chanperf-demo.keys"


@dataclass(frozen=True)
class DemoAccess:
    keys_file: Path
    keys: tuple[tuple[str, Role, str, str], ...]  # name, role, pt-BR label, key


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite URL, None for another database (or an in-memory one)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).resolve()


def keys_file_for(database_url: str, workdir: Path) -> Path:
    """Beside the SQLite file (demo.db → demo.keys); in `workdir` for another database."""
    db_file = sqlite_file(database_url)
    if db_file is None:
        return workdir.resolve() / KEYS_FILE_NAME
    if db_file.name == "chanperf-demo.db":
        return db_file.with_name(KEYS_FILE_NAME)
    return db_file.with_suffix(".keys")


def write_demo_keys(path: Path, org_id: int) -> DemoAccess:
    """Fresh keys (the old ones stop working): the file holds only their digests."""
    keys = []
    lines = ["# API keys of the chanperf demo (name:role:org:sha256); rewritten by every run"]
    for name, role, label in DEMO_KEYS:
        key, line = new_key(name, role, org_id)
        keys.append((name, role, label, key))
        lines.append(line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return DemoAccess(path, tuple(keys))


def print_page_access(
    access: DemoAccess,
    database_url: str,
    *,
    program: str = "chanperf",
    port: int = 8024,
    as_of: date | None = None,
    echo: Echo = print,
) -> None:
    db_file = sqlite_file(database_url)
    command = [f"CHANPERF_API_KEYS_FILE={shlex.quote(str(access.keys_file))}", program]
    if db_file is not None:
        command += ["--database-url", shlex.quote(f"sqlite:///{db_file}")]
    command += ["serve", "--host", "127.0.0.1", "--port", str(port)]
    query = f"?as_of={as_of.isoformat()}" if as_of else ""
    echo("")
    echo("Página de Performance (Seller Cockpit) neste banco:")
    echo(f"  {' '.join(command)}")
    if db_file is None:
        echo("  (com CHANPERF_DATABASE_URL apontando para este mesmo banco)")
    echo(f"  Abra http://127.0.0.1:{port}/performance/{query} e informe uma chave:")
    for _name, _role, label, key in access.keys:
        echo(f"    {label:<10} {key}")
    echo(f"  As chaves valem até o próximo `chanperf demo`; o arquivo {access.keys_file.name}")
    echo("  guarda só os hashes.")


__all__ = [
    "DEMO_KEYS",
    "DemoAccess",
    "keys_file_for",
    "print_page_access",
    "sqlite_file",
    "write_demo_keys",
]
