"""A new user's first steps from a built wheel: installed in a fresh venv, away from the
checkout, `chanperf` must find its packaged packs, start a policy repository, check it,
and run the demo."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

import chanperf
from chanperf.core.database import make_engine
from chanperf.core.settings import REPO_ROOT

pytestmark = pytest.mark.slow


def run(*args: str | Path, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    # Nothing of the test's own environment leads the installed package back to the checkout.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHANPERF_", "PYTHON"))}
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the wheel built from this checkout, and nothing else of it."""
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, REPO_ROOT, cwd=root)
    [wheel] = dist.glob("chanperf-*.whl")
    venv = root / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=root)
    run(venv / "bin/pip", "install", "-q", wheel, cwd=root)
    return venv


def test_the_wheel_carries_the_packs(installed: Path, tmp_path: Path) -> None:
    python = installed / "bin/python"
    where = run(python, "-c", "import chanperf; print(chanperf.__file__)", cwd=tmp_path)
    package = Path(where.stdout.strip()).parent
    assert package.is_relative_to(installed)
    for pack in ("policies", "rules"):
        shipped = sorted(p.relative_to(REPO_ROOT / pack) for p in (REPO_ROOT / pack).rglob("*"))
        packaged = package / "packs" / pack
        assert sorted(p.relative_to(packaged) for p in packaged.rglob("*")) == shipped
        assert not packaged.is_symlink()  # files in the wheel, not links to a checkout


def test_init_lint_rules_test_and_demo_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    chanperf_bin = installed / "bin/chanperf"
    packs = next(installed.glob("lib/python3*/site-packages/chanperf/packs"))

    # Outside any policy repository the packaged packs are read, and said so.
    lint = run(chanperf_bin, "lint", cwd=tmp_path)
    assert lint.stdout == "ok: policies and rules are valid\n"
    assert lint.stderr == (
        f"policies: {packs / 'policies'} (the default policies packaged with chanperf); "
        f"rules: {packs / 'rules'} (the default rules packaged with chanperf)\n"
    )

    made = run(chanperf_bin, "init", "canal-policies", cwd=tmp_path)
    repo = tmp_path / "canal-policies"
    assert made.stdout.splitlines()[-1] == (
        "Next, in canal-policies: `chanperf lint` and `chanperf rules test --min-coverage 100`"
        " (both read ./policies and ./rules there); `git init` to keep it under review."
    )
    assert (
        f'pip install "chanperf=={chanperf.__version__}"'
        in (repo / ".github/workflows/policies.yml").read_text()
    )

    lint = run(chanperf_bin, "lint", cwd=repo)
    assert lint.stdout == "ok: policies and rules are valid\n"
    assert lint.stderr == (
        f"policies: {repo / 'policies'} (the working folder); "
        f"rules: {repo / 'rules'} (the working folder)\n"
    )
    tests = run(chanperf_bin, "rules", "test", "--min-coverage", "100", cwd=repo)
    assert tests.stdout.splitlines()[-1] == "25 passed, 0 failed; coverage 100.0%"

    demo = run(chanperf_bin, "demo", cwd=repo)
    assert "Traceback" not in demo.stderr
    assert (
        f"INFO chanperf.analysis.context: policies: {repo / 'policies'} (the working folder)"
        in demo.stderr
    )
    # The report says what the analysis stored in the demo's own database.
    summary = re.search(
        r"^Análise \(execução 1, até [0-9/]+\): (\d+) comparações testadas, (\d+) insights "
        r"novos, 0 atualizados, (\d+) propostas$",
        demo.stdout,
        re.MULTILINE,
    )
    assert summary, demo.stdout[-3000:]
    findings, insights, proposals = map(int, summary.groups())
    assert f"\nInsights abertos: {insights}\n" in demo.stdout
    assert f"\nPropostas de mudança de política: {proposals}\n" in demo.stdout
    engine = make_engine(f"sqlite:///{repo / 'chanperf-demo.db'}")
    try:
        with engine.connect() as conn:
            stored = conn.execute(
                text(
                    "SELECT (SELECT findings_count FROM channel_analysis_runs),"
                    " (SELECT COUNT(*) FROM channel_performance_insights),"
                    " (SELECT COUNT(*) FROM channel_policy_proposals)"
                )
            ).one()
    finally:
        engine.dispose()
    assert tuple(stored) == (findings, insights, proposals)
    assert insights > 0
