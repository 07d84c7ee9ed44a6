"""`chanperf serve` hands its settings to the server process through the environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from chanperf.cli import service
from chanperf.cli.main import main


@pytest.fixture
def exec_calls(monkeypatch) -> list[tuple[str, list[str], dict[str, str]]]:
    calls: list[tuple[str, list[str], dict[str, str]]] = []
    monkeypatch.setattr(service.os, "execvpe", lambda f, a, e: calls.append((f, a, dict(e))))
    return calls


def test_a_secret_file_reaches_the_server_as_a_file_name(tmp_path: Path, exec_calls) -> None:
    (tmp_path / "db").write_text("mysql+pymysql://app:s3cret@db/csuite_context\n")
    env = {"CHANPERF_DATABASE_URL_FILE": str(tmp_path / "db"), "CHANPERF_DATABASE_URL": None}
    result = CliRunner(env=env).invoke(main, ["serve", "--port", "8099", "--workers", "3"])
    assert result.exit_code == 0, result.output
    [(program, args, child_env)] = exec_calls
    assert program == sys.executable
    # Loopback unless told otherwise; without a queue, a note that job status is per process.
    assert args == [
        sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:8099", "--workers", "3",
        "--worker-class", "gthread", "--threads", "4", "api:create_app()",
    ]  # fmt: skip
    assert "--workers 3 without CHANPERF_REDIS_URL" in result.output
    assert child_env["CHANPERF_DATABASE_URL_FILE"] == str(tmp_path / "db")
    assert "CHANPERF_DATABASE_URL" not in child_env
    assert "s3cret" not in "".join(child_env.values())


def test_database_url_option_replaces_an_inherited_secret_file(tmp_path: Path, exec_calls) -> None:
    (tmp_path / "db").write_text("mysql+pymysql://app:pw@db/x\n")
    env = {"CHANPERF_DATABASE_URL_FILE": str(tmp_path / "db"), "CHANPERF_DATABASE_URL": None}
    url = f"sqlite:///{tmp_path / 'other.db'}"
    result = CliRunner(env=env).invoke(main, ["--database-url", url, "serve"])
    assert result.exit_code == 0, result.output
    [(_, _, child_env)] = exec_calls
    assert child_env["CHANPERF_DATABASE_URL"] == url
    assert "CHANPERF_DATABASE_URL_FILE" not in child_env


@pytest.mark.parametrize(
    ("options", "redis", "workers"),
    [([], None, "1"), ([], "redis://127.0.0.1:6379/0", "2"), (["--workers", "5"], None, "5")],
)
def test_workers_default_to_one_process_without_a_queue(
    options: list[str], redis: str | None, workers: str, exec_calls
) -> None:
    env = {"CHANPERF_REDIS_URL": redis, "CHANPERF_DATABASE_URL_FILE": None}
    result = CliRunner(env=env).invoke(main, ["serve", "--host", "0.0.0.0", *options])
    assert result.exit_code == 0, result.output
    [(_, args, _)] = exec_calls
    assert args[args.index("--bind") + 1] == "0.0.0.0:8024"
    assert args[args.index("--workers") + 1] == workers
