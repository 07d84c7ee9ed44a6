"""deploy.sh: shellcheck clean, the whole sequence in a dry run, and its decisions (wait,
succeed, roll back) against a stand-in `docker` that answers like a Swarm manager."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from chanperf.core.settings import REPO_ROOT

REGISTRY = "registry.example.com/canal"
ROLLBACKS = [
    f"service rollback --detach channel-performance_{service}"
    for service in ("api", "worker", "scheduler")
]

# Answers like `docker` on a Swarm manager, from FAKE_* variables; logs every call.
FAKE_DOCKER = r"""#!/usr/bin/env bash
set -euo pipefail
echo "$*" >> "$FAKE_LOG"
case "$1 ${2:-}" in
  "stack ls") printf '%s\n' $FAKE_STACKS ;;
  "service ls")
    name=${4#name=}
    if [[ $name == *_migrate ]]; then echo "$FAKE_MIGRATE"; else echo "$name $FAKE_REPLICAS"; fi ;;
  "service inspect")
    if [[ $* == *UpdateStatus* ]]; then echo "$FAKE_STATE"; else echo "$FAKE_IMAGE"; fi ;;
  *) ;;
esac
"""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (.ci/run installs it)")
    return path


@pytest.fixture
def checkout(tmp_path: Path) -> tuple[Path, str]:
    """deploy.sh and the stack in a git repository of their own, at one commit."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("deploy.sh", "docker-stack.yml"):
        shutil.copy2(REPO_ROOT / name, repo / name)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "stack"], check=True)
    commit = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    return repo, commit


def deploy(repo: Path, *args: str, path: str | None = None, **env: str):
    base = {k: v for k, v in os.environ.items() if k not in ("REGISTRY", "STACK_NAME")}
    return subprocess.run(
        [str(repo / "deploy.sh"), *args],
        env={**base, **({"PATH": path} if path else {}), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
    )


def test_shellcheck_passes() -> None:
    done = subprocess.run(
        [_tool("shellcheck"), str(REPO_ROOT / "deploy.sh"), str(REPO_ROOT / ".ci/run")],
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stdout) == (0, "")


def test_dry_run_prints_the_whole_sequence(checkout) -> None:
    repo, commit = checkout
    tag = commit[:12]
    image = f"{REGISTRY}/channel-performance:{tag}"
    done = deploy(repo, "--dry-run", REGISTRY=REGISTRY, STACK_NAME="cp")
    assert done.returncode == 0, done.stdout
    checks = []
    for service, replicas in (("api", "2/2"), ("worker", "2/2"), ("scheduler", "1/1")):
        checks += [
            f"+ docker service ls --filter name=cp_{service} --format '{{{{.Name}}}} {{{{.Replicas}}}}'",
            f"+ docker service inspect cp_{service} --format "
            "'{{if .UpdateStatus}}{{.UpdateStatus.State}}{{else}}none{{end}}'",
            f"+ docker service inspect cp_{service} --format "
            "'{{.Spec.TaskTemplate.ContainerSpec.Image}}'",
            f"{service} {replicas} completed {image}",
        ]
    assert done.stdout.splitlines() == [
        f"deploy.sh: {image} as stack cp",
        f"+ docker build --pull --build-arg REVISION={commit} -t {image} .",
        f"+ docker push {image}",
        "+ docker stack ls --format '{{.Name}}'",
        f"+ env CHANPERF_IMAGE={image} docker stack deploy --with-registry-auth"
        " -c docker-stack.yml cp",
        "+ docker service ls --filter name=cp_migrate --format '{{.Replicas}}'",
        "migrate 0/1 (1/1 completed)",
        *checks,
        "(dry run) the checks above repeat every 5 s for up to 600 s; if they never pass:",
        "+ docker service rollback --detach cp_api",
        "+ docker service rollback --detach cp_worker",
        "+ docker service rollback --detach cp_scheduler",
    ]


def test_usage_and_bad_arguments(checkout) -> None:
    repo, _ = checkout
    shown = deploy(repo, "--help")
    assert shown.returncode == 0
    assert shown.stdout.startswith(
        "Usage: deploy.sh [--dry-run] [--tag TAG] [--allow-dirty] [--timeout SECONDS]\n"
    )
    no_registry = deploy(repo, "--dry-run")
    assert no_registry.returncode == 1
    assert no_registry.stdout.startswith("Usage: deploy.sh")
    assert no_registry.stdout.endswith("\ndeploy.sh: REGISTRY is not set\n")
    unknown = deploy(repo, "--fast", REGISTRY=REGISTRY)
    assert (unknown.returncode, unknown.stdout.splitlines()[-1]) == (
        1,
        "deploy.sh: unknown argument: --fast",
    )
    bad_tag = deploy(repo, "--dry-run", "--tag", "a b", REGISTRY=REGISTRY)
    assert (bad_tag.returncode, bad_tag.stdout) == (1, "deploy.sh: --tag: not an image tag: a b\n")


def test_uncommitted_changes_are_refused_unless_allowed(checkout) -> None:
    repo, commit = checkout
    (repo / "docker-stack.yml").write_text("# edited\n")
    refused = deploy(repo, "--dry-run", REGISTRY=REGISTRY)
    assert (refused.returncode, refused.stdout) == (
        1,
        "deploy.sh: uncommitted changes: commit them, or pass --allow-dirty\n",
    )
    allowed = deploy(repo, "--dry-run", "--allow-dirty", REGISTRY=REGISTRY)
    assert allowed.returncode == 0
    assert allowed.stdout.splitlines()[0] == (
        f"deploy.sh: {REGISTRY}/channel-performance:{commit[:12]}-dirty as stack channel-performance"
    )


@pytest.fixture
def fake_docker(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(docker.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "docker.log"

    def run(repo: Path, *args: str, **answers: str):
        env = {
            "FAKE_LOG": str(log),
            "FAKE_STACKS": "other channel-performance",
            "FAKE_MIGRATE": "0/1 (1/1 completed)",
            "FAKE_REPLICAS": "2/2",
            "FAKE_STATE": "completed",
            "FAKE_IMAGE": f"{REGISTRY}/channel-performance:v7@sha256:abc",
            **answers,
        }
        done = deploy(
            repo,
            "--tag",
            "v7",
            *args,
            path=f"{bin_dir}:{os.environ['PATH']}",
            REGISTRY=REGISTRY,
            **env,
        )
        calls = log.read_text().splitlines() if log.exists() else []
        return done, calls

    return run


def test_a_deploy_that_comes_up_is_not_rolled_back(checkout, fake_docker) -> None:
    repo, _ = checkout
    done, calls = fake_docker(repo)
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[-1] == (
        f"deploy.sh: channel-performance runs {REGISTRY}/channel-performance:v7"
    )
    # --tag: nothing built or pushed; deployed once; checked; nothing rolled back.
    assert [c for c in calls if not c.startswith(("service ls", "service inspect"))] == [
        "stack ls --format {{.Name}}",
        "stack deploy --with-registry-auth -c docker-stack.yml channel-performance",
    ]


def test_tasks_that_never_come_up_are_rolled_back(checkout, fake_docker) -> None:
    repo, _ = checkout
    done, calls = fake_docker(repo, "--timeout", "0", FAKE_REPLICAS="1/2")
    assert done.returncode == 1
    assert "api 1/2 completed registry.example.com/canal/channel-performance:v7" in done.stdout
    assert "deploy.sh: the new tasks did not all come up in 0 s" in done.stdout
    assert [c for c in calls if c.startswith("service rollback")] == ROLLBACKS


def test_an_update_swarm_rolled_back_fails_at_once(checkout, fake_docker) -> None:
    repo, _ = checkout
    done, calls = fake_docker(repo, "--timeout", "600", FAKE_STATE="rollback_completed")
    assert done.returncode == 1
    assert "deploy.sh: Swarm stopped the update" in done.stdout
    assert [c for c in calls if c.startswith("service rollback")] == ROLLBACKS


def test_a_failed_first_deploy_has_nothing_to_roll_back(checkout, fake_docker) -> None:
    repo, _ = checkout
    done, calls = fake_docker(
        repo, "--timeout", "0", FAKE_STACKS="other", FAKE_MIGRATE="0/1 (0/1 completed)"
    )
    assert done.returncode == 1
    assert "migrate 0/1 (0/1 completed)" in done.stdout
    assert done.stdout.splitlines()[-1] == (
        "deploy.sh: first deploy of channel-performance, nothing to roll back to; "
        "see docker service ps channel-performance_api"
    )
    assert not [c for c in calls if c.startswith("service rollback")]
