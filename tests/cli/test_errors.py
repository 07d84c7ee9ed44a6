"""A command on a database it cannot read ends with a message and exit code 1."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from chanperf.cli.main import main


def test_a_database_never_migrated_is_named_with_the_command_that_fixes_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = CliRunner().invoke(main, ["--database-url", url, "proposals", "show", "1"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: the database cannot be read (no such table: channel_policy_proposals); "
        "if it is new, run `chanperf db upgrade` first"
    )
