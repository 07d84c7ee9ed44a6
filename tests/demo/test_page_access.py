"""`chanperf demo` ends with how to open the Performance page: keys file, command, URL."""

from __future__ import annotations

import re
import shlex
import stat
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from api import create_app
from chanperf.cli.main import main
from chanperf.core.api_keys import KeyRing, Role, parse_entries
from chanperf.core.settings import Settings
from chanperf.demo.page_access import (
    keys_file_for,
    print_page_access,
    sqlite_file,
    write_demo_keys,
)


def test_the_keys_file_sits_beside_the_sqlite_file(tmp_path):
    assert keys_file_for(f"sqlite:///{tmp_path}/chanperf-demo.db", Path("/x")) == (
        tmp_path / "chanperf-demo.keys"
    )
    assert keys_file_for(f"sqlite:///{tmp_path}/e2e.db", Path("/x")) == tmp_path / "e2e.keys"
    assert keys_file_for("mysql+pymysql://u:secret@db/chanperf", tmp_path) == (
        tmp_path / "chanperf-demo.keys"
    )
    assert sqlite_file("mysql+pymysql://u:secret@db/chanperf") is None
    assert sqlite_file("sqlite://") is None


def test_one_key_per_role_the_file_holds_only_digests(tmp_path):
    access = write_demo_keys(tmp_path / "chanperf-demo.keys", org_id=1)
    text = access.keys_file.read_text(encoding="utf-8")
    assert stat.S_IMODE(access.keys_file.stat().st_mode) == 0o600
    ring = KeyRing(parse_entries(text.splitlines(), "keys"))
    assert [(name, role, label) for name, role, label, _ in access.keys] == [
        ("demo-viewer", Role.VIEWER, "leitura"),
        ("demo-analyst", Role.ANALYST, "analista"),
        ("demo-approver", Role.APPROVER, "aprovador"),
    ]
    for name, role, _, key in access.keys:
        assert key not in text
        found = ring.authenticate(key)
        assert found is not None and (found.name, found.role, found.org_id) == (name, role, 1)
    # A new run makes new keys: the old ones stop working.
    again = write_demo_keys(access.keys_file, org_id=1)
    ring = KeyRing(parse_entries(again.keys_file.read_text().splitlines(), "keys"))
    assert ring.authenticate(access.keys[0][3]) is None


def test_the_printed_instructions(tmp_path):
    access = write_demo_keys(tmp_path / "chanperf-demo.keys", org_id=1)
    lines: list[str] = []
    print_page_access(
        access,
        f"sqlite:///{tmp_path}/chanperf-demo.db",
        program=".venv/bin/chanperf",
        port=8024,
        as_of=date(2026, 6, 30),
        echo=lines.append,
    )
    assert lines == [
        "",
        "Página de Performance (Seller Cockpit) neste banco:",
        f"  CHANPERF_API_KEYS_FILE={tmp_path}/chanperf-demo.keys .venv/bin/chanperf "
        f"--database-url sqlite:///{tmp_path}/chanperf-demo.db serve --host 127.0.0.1 --port 8024",
        "  Abra http://127.0.0.1:8024/performance/?as_of=2026-06-30 e informe uma chave:",
        f"    leitura    {access.keys[0][3]}",
        f"    analista   {access.keys[1][3]}",
        f"    aprovador  {access.keys[2][3]}",
        "  As chaves valem até o próximo `chanperf demo`; o arquivo chanperf-demo.keys",
        "  guarda só os hashes.",
    ]


def test_a_configured_database_is_not_printed(tmp_path):
    access = write_demo_keys(tmp_path / "chanperf-demo.keys", org_id=1)
    lines: list[str] = []
    print_page_access(access, "mysql+pymysql://u:secret@db/chanperf", echo=lines.append)
    assert "secret" not in "\n".join(lines)
    assert lines[2].endswith(" chanperf serve --host 127.0.0.1 --port 8024")
    assert lines[3] == "  (com CHANPERF_DATABASE_URL apontando para este mesmo banco)"
    assert lines[4] == "  Abra http://127.0.0.1:8024/performance/ e informe uma chave:"


@pytest.mark.slow
def test_demo_prints_a_command_that_shows_the_page(tmp_path, monkeypatch):
    """What `make demo` prints works: the page, and the dashboard for each printed key."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CHANPERF_DATABASE_URL", raising=False)
    result = CliRunner().invoke(
        main, ["demo", "--accounts", "80", "--no-analysis", "--as-of", "2026-06-30"]
    )
    assert result.exit_code == 0, result.output
    tail = result.output.splitlines()[-8:]
    assert tail[0] == "Página de Performance (Seller Cockpit) neste banco:"
    command = shlex.split(tail[1])
    assert command[0] == f"CHANPERF_API_KEYS_FILE={tmp_path}/chanperf-demo.keys"
    assert command[1:] == [
        "chanperf",
        "--database-url",
        f"sqlite:///{tmp_path}/chanperf-demo.db",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "8024",
    ]
    assert (
        tail[2] == "  Abra http://127.0.0.1:8024/performance/?as_of=2026-06-30 e informe uma chave:"
    )
    keys = dict(re.fullmatch(r"\s+(\w+)\s+(cpk_\S+)", line).groups() for line in tail[3:6])  # type: ignore[union-attr]

    settings = Settings(database_url=command[3], api_keys_file=Path(command[0].split("=", 1)[1]))
    client = create_app({"TESTING": True, "CHANPERF_SETTINGS": settings}).test_client()
    assert client.get("/performance/?as_of=2026-06-30").status_code == 200
    for label, can_act, can_approve in (
        ("leitura", False, False),
        ("analista", True, False),
        ("aprovador", True, True),
    ):
        r = client.get(
            "/v1/performance/dashboard?as_of=2026-06-30",
            headers={"Authorization": f"Bearer {keys[label]}"},
        )
        assert r.status_code == 200, r.get_json()
        viewer = r.get_json()["viewer"]
        assert (viewer["can_act"], viewer["can_approve"]) == (can_act, can_approve)
        assert r.get_json()["week_label"] == "Semana 26/2026 (22/06–28/06)"
