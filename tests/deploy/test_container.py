"""The image, built from the Dockerfile and run the way docker-stack.yml runs it.

Each service gets the command and environment of the rendered stack, with the secrets as
files under /run/secrets: the migrate job, then the API (behind `db wait`, like the
stack; only the bind address differs, the host network being shared), checked with curl
on /health, /ready and an authenticated read; an analysis enqueued through the API is
taken by a worker container started afterwards and run to completion. Every container's
log must show a clean start. The containers, the image and the database are removed at
the end; the stand-in base and podman's build cache stay for the next run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from chanperf.analysis.run import analyze
from chanperf.cli.main import main
from chanperf.core.database import make_engine, session_factory
from chanperf.core.enums import RunStatus
from chanperf.core.settings import REPO_ROOT, Settings
from chanperf.migrations.upgrade import head
from chanperf.models.runs import AnalysisRun
from tests.deploy.containers import base_image, podman, require, run_args
from tests.deploy.stack import render_stack

pytestmark = [pytest.mark.slow, pytest.mark.mariadb, pytest.mark.redis]

AS_OF = "2026-06-30"
PREFIX = "/v1/performance"
PACKAGED = "/usr/local/lib/python3.11/dist-packages/chanperf/packs"


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require("podman", "runc", "curl")
    base = base_image(tmp_path_factory.mktemp("base"))
    tag = f"localhost/chanperf-test:{os.getpid()}-{uuid.uuid4().hex[:6]}"
    podman(
        "build", "--format", "docker", "--network", "host", "--pull=missing",
        "--build-arg", f"BASE={base}", "--build-arg", "REVISION=test", "-t", tag, str(REPO_ROOT),
        timeout=1800,
    )  # fmt: skip
    try:
        yield tag
    finally:
        podman("image", "rm", "-f", tag, check=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def curl(url: str, *args: str) -> tuple[int, dict[str, str], Any]:
    """Status, headers and JSON body of one request made with curl."""
    done = subprocess.run(
        ["curl", "-sS", "-i", "--max-time", "20", *args, url],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    head_text, _, body = done.stdout.replace("\r\n", "\n").partition("\n\n")
    status_line, *header_lines = head_text.splitlines()
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, json.loads(body) if body.strip() else None


def _answers(url: str) -> bool | None:
    """True once the server accepts connections and answers 200."""
    done = subprocess.run(["curl", "-sf", "--max-time", "5", "-o", "/dev/null", url], timeout=10)
    return True if done.returncode == 0 else None


def _until(what: str, probe, timeout: float, container: str | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (value := probe()) is not None:
            return value
        if container and podman("container", "exists", container, check=False).returncode:
            break
        if container:
            state = podman("inspect", "--format", "{{.State.Status}}", container).stdout.strip()
            if state != "running":
                break
        time.sleep(1)
    logs = podman("logs", container, check=False).stderr[-4000:] if container else ""
    pytest.fail(f"{what} did not happen within {timeout} s\n{logs}", pytrace=False)


def test_image_has_nothing_of_a_deployment_baked_in(image: str) -> None:
    [config] = json.loads(podman("image", "inspect", image).stdout)
    env = dict(e.split("=", 1) for e in config["Config"]["Env"])
    assert {k: v for k, v in env.items() if k.startswith("CHANPERF_")} == {"CHANPERF_PORT": "8024"}
    assert config["Config"]["User"] == "chanperf"
    assert config["Config"]["Labels"]["org.opencontainers.image.revision"] == "test"
    assert config["Healthcheck"]["Test"][-1] == (
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8024/health', timeout=4)"
    )


def _analysed_in_process(tmp_path: Path) -> dict[str, int]:
    """What the package itself finds in the same demo channel, for comparison."""
    url = f"sqlite:///{tmp_path / 'same-channel.db'}"
    demo = CliRunner().invoke(
        main,
        ["--database-url", url, "demo", "--accounts", "300", "--no-analysis", "--as-of", AS_OF],
    )
    assert demo.exit_code == 0, demo.output
    summary = analyze(Settings(database_url=url), 1, date.fromisoformat(AS_OF))
    return {
        "findings": summary.findings,
        "insights_created": summary.insights_created,
        "proposals_created": summary.proposals_created,
    }


def test_migrated_serving_authenticated_reads_and_a_worker_finishing_an_analysis(
    image: str, fresh_mariadb_url: str, redis_url: str, tmp_path: Path
) -> None:
    database = fresh_mariadb_url  # the containers share the host's network: same address
    expected = _analysed_in_process(tmp_path)
    assert expected["insights_created"] > 0  # something for the API to list afterwards
    services = render_stack(CHANPERF_IMAGE=image)["services"]
    run_id = uuid.uuid4().hex[:8]
    names = {role: f"chanperf-test-{role}-{run_id}" for role in ("migrate", "api", "worker")}
    port = _free_port()
    api = f"http://127.0.0.1:{port}"

    # The secrets, as Swarm mounts them: one file each, readable by the image's user.
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o755)
    made = podman(
        "run", "--rm", image, "chanperf", "apikey", "new", "ci-analyst", "--role", "analyst"
    ).stdout.splitlines()  # fmt: skip
    key, line = made[0].removeprefix("key:  "), made[1].removeprefix("line: ")
    for name, value in (
        ("chanperf_database_url", f"{database}?charset=utf8mb4\n"),
        ("chanperf_redis_url", f"{redis_url}\n"),
        ("chanperf_api_keys", f"# made by chanperf apikey new\n{line}\n"),
    ):
        (secrets / name).write_text(value)
        (secrets / name).chmod(0o644)

    def service(role: str, command: list[str], detach: bool) -> subprocess.CompletedProcess[str]:
        args = run_args(names[role], image, services[role]["environment"], secrets, command)
        return podman(args[0], "-d" if detach else "--rm", *args[1:], timeout=600)

    try:
        migrated = service("migrate", services["migrate"]["command"], detach=False)
        assert migrated.stdout.splitlines()[0] == (
            f"database at revision head: {database.split('@')[-1]}?charset=utf8mb4"
        )
        names.pop("migrate")  # --rm: gone already

        # A small demo channel to analyse, generated into the same database by the image.
        demo = podman(
            "run", "--rm", "--network", "host", "-v", f"{secrets}:/run/secrets:ro",
            "-e", "CHANPERF_DATABASE_URL_FILE=/run/secrets/chanperf_database_url",
            image, "chanperf", "demo", "--accounts", "300", "--no-analysis", "--as-of", AS_OF,
            timeout=600,
        )  # fmt: skip
        assert "300 contas" in demo.stdout

        command = [
            f"--bind=127.0.0.1:{port}" if arg.startswith("--bind=") else arg
            for arg in services["api"]["command"]
        ]
        service("api", command, detach=True)
        _until("GET /health answering", lambda: _answers(f"{api}/health"), 120, names["api"])
        assert curl(f"{api}/health")[::2] == (200, {"status": "ok"})
        assert curl(f"{api}/ready")[::2] == (
            200,
            {"status": "ready", "database": "ok", "queue": "ok"},
        )
        auth = ("-H", f"Authorization: Bearer {key}")
        assert curl(f"{api}{PREFIX}/insights")[0] == 401
        status, headers, body = curl(f"{api}{PREFIX}/insights", *auth)
        assert (status, body, json.loads(headers["x-pagination"])["total"]) == (200, [], 0)

        # Enqueued while no worker runs: the worker started next must take it from the queue.
        status, headers, job = curl(
            f"{api}{PREFIX}/analyze", *auth, "-X", "POST",
            "-H", "Content-Type: application/json", "-d", json.dumps({"as_of": AS_OF}),
        )  # fmt: skip
        assert (status, job["status"], job["kind"], job["org_id"]) == (202, "queued", "analyze", 1)
        assert headers["location"] == f"{PREFIX}/jobs/{job['id']}"

        service("worker", services["worker"]["command"], detach=True)

        def finished() -> dict[str, Any] | None:
            state = curl(f"{api}{PREFIX}/jobs/{job['id']}", *auth)[2]
            assert state["status"] not in ("failed", "stopped", "canceled"), state
            return state if state["status"] == "finished" else None

        done = _until("the analysis job finishing", finished, 300, names["worker"])
        result = done["result"]
        assert (result["kind"], result["org_id"], result["as_of"], result["status"]) == (
            "analyze",
            1,
            AS_OF,
            "SUCCEEDED",
        )
        assert result["reused"] is False
        # The same channel analysed here, in-process on SQLite, finds exactly the same.
        assert {k: result[k] for k in expected} == expected

        # The run the worker recorded, and the insights the API now lists, are that job's.
        engine = make_engine(database)
        try:
            with session_factory(engine)() as session:
                run = session.scalars(select(AnalysisRun)).one()
        finally:
            engine.dispose()
        assert (run.id, run.status, run.job_id) == (
            result["run_id"],
            RunStatus.SUCCEEDED,
            job["id"],
        )
        assert run.findings_count == result["findings"]
        status, headers, insights = curl(f"{api}{PREFIX}/insights?page_size=100", *auth)
        assert status == 200
        assert len(insights) == json.loads(headers["x-pagination"])["total"]
        assert len(insights) == result["insights_created"]

        # A clean start: no traceback anywhere, and each says what it started with.
        api_log = podman("logs", names["api"]).stderr
        worker_log = podman("logs", names["worker"]).stderr
        for log in (api_log, worker_log):
            assert "Traceback" not in log
            assert f"database at revision {head()}" in log
        assert "Booting worker with pid" in api_log
        assert (
            f"INFO api: policies: {PACKAGED}/policies (the default policies packaged with "
            f"chanperf); rules: {PACKAGED}/rules (the default rules packaged with chanperf)"
        ) in api_log
        assert f'"GET {PREFIX}/insights HTTP/1.1" 200' in podman("logs", names["api"]).stdout
        assert f"Job OK ({job['id']})" in worker_log
    finally:
        for name in names.values():
            podman("rm", "-f", "-t", "10", name, check=False)
