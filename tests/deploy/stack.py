"""docker-stack.yml as `docker stack config` renders it (the Docker CLI validates a stack
offline: no engine needed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from chanperf.core.settings import REPO_ROOT


def docker_stack_config(**variables: str) -> subprocess.CompletedProcess[str]:
    """Render the stack with only `variables` set (none inherited from this process)."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.fail("the Docker CLI is not installed (`docker stack config` checks the stack)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHANPERF_", "TRAEFIK_"))}
    return subprocess.run(
        [docker, "stack", "config", "-c", str(REPO_ROOT / "docker-stack.yml")],
        env={**env, **variables},
        capture_output=True,
        text=True,
        timeout=60,
    )


def render_stack(**variables: str) -> dict[str, Any]:
    done = docker_stack_config(**variables)
    assert done.returncode == 0, done.stderr
    rendered: dict[str, Any] = yaml.safe_load(done.stdout)
    return rendered
