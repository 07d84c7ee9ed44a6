"""`chanperf churn`: the model report and the accounts at risk, from the command line."""

from __future__ import annotations

from click.testing import CliRunner

from chanperf.cli.main import main


def test_churn_on_an_empty_channel_says_so(settings):
    result = CliRunner().invoke(
        main, ["--database-url", settings.database_url, "churn", "--as-of", "2026-06-30"]
    )
    assert result.exit_code == 0, result.output
    assert "held-back AUC n/a" in result.output
    assert "no account at risk" in result.output


def test_churn_rejects_bad_options(settings):
    runner = CliRunner()
    bad_limit = runner.invoke(
        main, ["--database-url", settings.database_url, "churn", "--limit", "0"]
    )
    assert bad_limit.exit_code == 2 and "--limit" in bad_limit.output
    bad_date = runner.invoke(
        main, ["--database-url", settings.database_url, "churn", "--as-of", "ontem"]
    )
    assert bad_date.exit_code == 2 and "not a date" in bad_date.output
