"""Building and running the project's image with podman, as root, without a registry.

Two settings make Debian's podman work here: no default ulimits (containers.conf, which
.ci/run writes) and the runc runtime (crun refuses hybrid cgroups), passed on every call.
No base image can be pulled, so the stand-in for python:3.11-slim is built once from
Debian packages with debootstrap and kept in podman's store under STAND_IN_BASE; set
CHANPERF_TEST_IMAGE_BASE to build on another base (python:3.11-slim where a registry
answers). `podman image rm STAND_IN_BASE` forgets it; `podman image prune` drops the
build cache the image builds leave behind.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

# Bump the suffix when the recipe below changes: the cached base is found by this name.
STAND_IN_BASE = "localhost/chanperf-test-base:bookworm-python3.11-1"
SUITE = "bookworm"  # Debian 12: Python 3.11, as in python:3.11-slim
PACKAGES = "python3,python3-venv,python3-pip,python3-dev,ca-certificates"
DEFAULT_MIRROR = "http://deb.debian.org/debian"


def require(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.fail(f"not installed: {', '.join(missing)} (.ci/run installs them)", pytrace=False)


def podman(
    *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["podman", "--runtime", "runc", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and done.returncode != 0:
        pytest.fail(
            f"podman {' '.join(args[:3])} ... exited {done.returncode}:\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}",
            pytrace=False,
        )
    return done


def debian_mirror(sources: Path = Path("/etc/apt/sources.list.d/debian.sources")) -> str:
    """The mirror this machine's apt uses (the first URIs: of its deb822 sources)."""
    if sources.is_file():
        match = re.search(r"^URIs:\s*(\S+)", sources.read_text(), re.MULTILINE)
        if match:
            return match.group(1)
    return DEFAULT_MIRROR


def build_stand_in_base(workdir: Path) -> None:
    """Debian with Python 3.11 and pip installing system-wide, as in python:3.11-slim,
    trusting this machine's CA bundle and using its apt mirror and pip index."""
    require("debootstrap")
    rootfs = workdir / "rootfs"
    command = ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", SUITE, str(rootfs)]
    done = subprocess.run(
        [*command, debian_mirror()],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        pytest.fail(f"debootstrap failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()  # pip installs system-wide, as in the official image
    for name, target in (("python", "python3"), ("pip", "pip3")):  # as `ln -sf`
        (rootfs / "usr/bin" / name).unlink(missing_ok=True)
        (rootfs / "usr/bin" / name).symlink_to(target)
    for host_file, target in (
        ("/etc/ssl/certs/ca-certificates.crt", "etc/ssl/certs/ca-certificates.crt"),
        ("/etc/pip.conf", "etc/pip.conf"),
        ("/etc/apt/sources.list.d/debian.sources", "etc/apt/sources.list.d/debian.sources"),
    ):
        if Path(host_file).is_file():
            shutil.copyfile(host_file, rootfs / target)
    if (rootfs / "etc/apt/sources.list.d/debian.sources").is_file():
        (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)  # the same mirror twice
    archive = workdir / "rootfs.tar"
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(archive), "."], check=True, timeout=600)
    shutil.rmtree(rootfs)
    podman("import", str(archive), STAND_IN_BASE, timeout=600)
    archive.unlink()


def base_image(workdir: Path) -> str:
    """The base to build on: CHANPERF_TEST_IMAGE_BASE, else the cached stand-in."""
    if base := os.environ.get("CHANPERF_TEST_IMAGE_BASE"):
        return base
    if podman("image", "exists", STAND_IN_BASE, check=False).returncode != 0:
        build_stand_in_base(workdir)
    return STAND_IN_BASE


def run_args(
    name: str, image: str, env: dict[str, str], secrets: Path, command: Sequence[str]
) -> list[str]:
    """`podman run` of one service: host network, the secrets folder at /run/secrets."""
    args = ["run", "--name", name, "--network", "host", "-v", f"{secrets}:/run/secrets:ro"]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    return [*args, image, *command]
