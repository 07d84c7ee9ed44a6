"""The layering `make lint` keeps: import contracts (lint-imports), no function-local
imports, and a package that never reads the test suite."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chanperf.core.settings import REPO_ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("chanperf", "api")


def _modules(*packages: str) -> list[Path]:
    return sorted(
        p
        for package in packages
        for p in (REPO_ROOT / package).rglob("*.py")
        if "versions" not in p.parts  # Alembic revisions follow Alembic's layout
    )


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True
    )


def test_the_import_contracts_hold() -> None:
    result = _lint_imports(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "contract", "edge"),
    [
        (
            "chanperf/core/periods.py",
            "import flask",
            "chanperf never imports api, Flask, flask-smorest, Werkzeug or marshmallow BROKEN",
            "chanperf.core.periods -> flask",
        ),
        (
            "chanperf/metrics/collect.py",
            "import redis",
            "Only chanperf.jobs.queue imports rq or redis BROKEN",
            "chanperf.metrics.collect -> redis",
        ),
        (
            "api/health.py",
            "from rq import Queue",
            "Only chanperf.jobs.queue imports rq or redis BROKEN",
            "api.health -> rq",
        ),
    ],
)
def test_a_planted_violation_breaks_its_contract(
    tmp_path: Path, module: str, planted: str, contract: str, edge: str
) -> None:
    for package in PACKAGES:
        shutil.copytree(
            REPO_ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "static"),
        )
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{planted}\n", encoding="utf-8")

    result = _lint_imports(tmp_path)

    assert result.returncode == 1
    assert contract in result.stdout
    assert edge in result.stdout


def _local_imports(path: Path) -> list[str]:
    """`file:line` of every import inside a function body."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.name}:{inner.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for inner in ast.walk(node)
        if isinstance(inner, ast.Import | ast.ImportFrom)
    ]


def _test_suite_paths(path: Path) -> list[str]:
    """`file:line` of code that builds a path into the repository's tests/ folder (the rule
    packs' own `tests` folders are read relative to a rules folder, never from here)."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        code = line.split("#", 1)[0]
        anchored = "REPO_ROOT" in code or "__file__" in code
        if (anchored and "tests" in code) or '"tests/' in code:
            found.append(f"{path.name}:{number}")
    return found


def test_no_function_local_imports() -> None:
    """Imports at module level only: a cycle between stages shows at import time instead of
    hiding in a function body."""
    assert [where for path in _modules(*PACKAGES) for where in _local_imports(path)] == []


def test_the_package_never_reads_the_test_suite() -> None:
    assert [where for path in _modules(*PACKAGES) for where in _test_suite_paths(path)] == []


def test_the_source_checks_see_a_planted_violation(tmp_path: Path) -> None:
    module = tmp_path / "planted.py"
    module.write_text(
        "from pathlib import Path\n"
        'GOLDEN = Path(__file__).parent.parent / "tests" / "golden"\n'
        "def f():\n"
        "    import json\n"
        "    return json\n",
        encoding="utf-8",
    )
    assert _local_imports(module) == ["planted.py:4"]
    assert _test_suite_paths(module) == ["planted.py:2"]
