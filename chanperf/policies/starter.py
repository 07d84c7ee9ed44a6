"""A new policy repository, started from the packs packaged with chanperf (`chanperf init`).

The skeleton is the default policy pack, the default rule pack with its analysis
settings and rule tests, and a CI workflow that runs what every pull request of a
policy repository must pass: `chanperf lint` and `chanperf rules test --min-coverage 100`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from string import Template

from chanperf.core.errors import ConfigError
from chanperf.core.settings import PACKAGED_PACKS

PACKS = ("policies", "rules")
WORKFLOW_PATH = Path(".github/workflows/policies.yml")

WORKFLOW = Template("""\
# Every change to the policies or rules must load, validate and pass the rule tests,
# with every rule and severity level exercised by at least one test.
name: policies
on: [push, pull_request]
jobs:
  lint-and-test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with: {python-version: "3.12"}   # durable-rules does not import on 3.13
      - run: pip install "$requirement"
      - run: chanperf lint --policies-dir policies --rules-dir rules
      - run: chanperf rules test --policies-dir policies --rules-dir rules --min-coverage 100
""")

README = """\
# Channel policies

How the channel is meant to run (`policies/`) and which findings of chanperf's analysis
become insights (`rules/`, with `rules/analysis/` for the analysis windows and experiment
choices, and `rules/tests/` for the rule tests). Started with `chanperf init` from the
packs packaged with chanperf.

Before every commit, from this folder:

```sh
chanperf lint                              # every problem as path:line:col: message
chanperf rules test --min-coverage 100     # the rule tests, and which rules they miss
```

`.github/workflows/policies.yml` runs both on every push and pull request. Point the
service at this repository with `CHANPERF_POLICIES_DIR` and `CHANPERF_RULES_DIR`.
"""


def starter_files() -> list[Path]:
    """The packaged pack files, relative to the packs folder (policies/..., rules/...)."""
    files: list[Path] = []
    for pack in PACKS:
        root = PACKAGED_PACKS / pack
        if not root.is_dir():
            raise ConfigError(f"{root}: the packaged {pack} pack is missing from this install")
        files += sorted(p.relative_to(PACKAGED_PACKS) for p in root.rglob("*.yaml"))
    return files


def write_starter(directory: Path, requirement: str, force: bool = False) -> list[Path]:
    """Write the skeleton into `directory`; returns the files written, relative to it.

    A folder that already holds anything is refused unless `force`, which writes the
    starter files over any of the same name and leaves the others alone.
    """
    if not requirement.strip() or any(c in requirement for c in '"\n\r'):
        raise ConfigError(f"--requirement: not a one-line pip requirement: {requirement!r}")
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory}: exists and is not a folder")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise ConfigError(
            f"{directory}: the folder is not empty; `chanperf init` starts a new policy "
            "repository (--force writes the starter files into it, replacing files of "
            "the same name)"
        )
    written: list[Path] = []
    try:
        for relative in starter_files():
            target = directory / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(PACKAGED_PACKS / relative, target)
            written.append(relative)
        for relative, text in (
            (WORKFLOW_PATH, WORKFLOW.substitute(requirement=requirement.strip())),
            (Path("README.md"), README),
        ):
            (directory / relative).parent.mkdir(parents=True, exist_ok=True)
            (directory / relative).write_text(text, encoding="utf-8")
            written.append(relative)
    except OSError as exc:
        raise ConfigError(f"{directory}: cannot write the starter files: {exc}") from exc
    return written
