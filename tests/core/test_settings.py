from pathlib import Path

import pytest

from chanperf.core.errors import ConfigError
from chanperf.core.settings import PACKAGED_PACKS, REPO_ROOT, Settings


def test_defaults_when_nothing_is_set(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Settings.from_env({}, dotenv=False)
    assert s.database_url == f"sqlite:///{tmp_path / 'chanperf.db'}"
    assert s.source_url == s.database_url
    assert s.redis_url is None
    assert s.timezone == "America/Sao_Paulo"
    assert s.port == 8024
    assert s.policies_dir.name == "policies"
    assert s.collect_readers == 2


def test_variables_override_defaults():
    s = Settings.from_env(
        {
            "CHANPERF_DATABASE_URL": "mysql+pymysql://u@h/db",
            "CHANPERF_SOURCE_DATABASE_URL": "mysql+pymysql://ro@h/src",
            "CHANPERF_REDIS_URL": "redis://h:6379/2",
            "CHANPERF_POLICIES_DIR": "/p",
            "CHANPERF_RULES_DIR": "/r",
            "CHANPERF_TIMEZONE": "UTC",
            "CHANPERF_PORT": "9000",
            "CHANPERF_COLLECT_READERS": "3",
        },
        dotenv=False,
    )
    assert s.source_url == "mysql+pymysql://ro@h/src"
    assert s.redis_url == "redis://h:6379/2"
    assert s.policies_dir == Path("/p") and s.rules_dir == Path("/r")
    assert (s.timezone, s.port) == ("UTC", 9000)
    assert s.collect_readers == 3


def test_dotenv_fills_unset_variables(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CHANPERF_PORT=8100\nCHANPERF_TIMEZONE=UTC\n")
    monkeypatch.setenv("CHANPERF_TIMEZONE", "America/Manaus")
    s = Settings.from_env()
    assert s.port == 8100
    assert s.timezone == "America/Manaus"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHANPERF_TIMEZONE", "Mars/Olympus"),
        ("CHANPERF_PORT", "http"),
        ("CHANPERF_COLLECT_READERS", "0"),
        ("CHANPERF_COLLECT_READERS", "two"),
    ],
)
def test_bad_values_name_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value}, dotenv=False)


def test_secrets_are_read_from_the_files_the_FILE_variables_name(tmp_path):
    (tmp_path / "db").write_text("mysql+pymysql://app:s3cret@db:3306/csuite_context\n")
    (tmp_path / "source").write_text("  mysql+pymysql://ro:pw@replica/csuite_context  \n")
    (tmp_path / "redis").write_text("redis://:pw@redis:6379/0")
    s = Settings.from_env(
        {
            "CHANPERF_DATABASE_URL_FILE": str(tmp_path / "db"),
            "CHANPERF_SOURCE_DATABASE_URL_FILE": str(tmp_path / "source"),
            "CHANPERF_REDIS_URL_FILE": str(tmp_path / "redis"),
        },
        dotenv=False,
    )
    assert s.database_url == "mysql+pymysql://app:s3cret@db:3306/csuite_context"
    assert s.database_url_chosen is True
    assert s.source_url == "mysql+pymysql://ro:pw@replica/csuite_context"
    assert s.redis_url == "redis://:pw@redis:6379/0"
    # A child process is told where the secrets are, never the secrets themselves.
    env = s.to_env()
    assert env["CHANPERF_DATABASE_URL_FILE"] == str(tmp_path / "db")
    assert env["CHANPERF_SOURCE_DATABASE_URL_FILE"] == str(tmp_path / "source")
    assert env["CHANPERF_REDIS_URL_FILE"] == str(tmp_path / "redis")
    assert not {
        "CHANPERF_DATABASE_URL",
        "CHANPERF_SOURCE_DATABASE_URL",
        "CHANPERF_REDIS_URL",
    } & set(env)
    assert Settings.from_env(env, dotenv=False).database_url == s.database_url


def test_a_value_given_over_a_secret_file_replaces_it_in_the_child_environment(tmp_path):
    (tmp_path / "db").write_text("mysql+pymysql://app:pw@db/x")
    s = Settings.from_env({"CHANPERF_DATABASE_URL_FILE": str(tmp_path / "db")}, dotenv=False)
    env = s.with_(database_url="sqlite:///other.db").to_env()
    assert env["CHANPERF_DATABASE_URL"] == "sqlite:///other.db"
    assert "CHANPERF_DATABASE_URL_FILE" not in env


def test_the_environment_secret_file_wins_over_a_dotenv_value(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CHANPERF_DATABASE_URL=sqlite:///dev.db\nCHANPERF_PORT=8100\n")
    (tmp_path / "db").write_text("mysql+pymysql://app:pw@db/x\n")
    monkeypatch.delenv("CHANPERF_DATABASE_URL", raising=False)
    monkeypatch.setenv("CHANPERF_DATABASE_URL_FILE", str(tmp_path / "db"))
    s = Settings.from_env()
    assert s.database_url == "mysql+pymysql://app:pw@db/x"
    assert s.port == 8100


def test_a_secret_given_both_ways_is_refused(tmp_path):
    (tmp_path / "redis").write_text("redis://a:6379/0")
    env = {
        "CHANPERF_REDIS_URL": "redis://b:6379/0",
        "CHANPERF_REDIS_URL_FILE": str(tmp_path / "redis"),
    }
    with pytest.raises(ConfigError) as exc:
        Settings.from_env(env, dotenv=False)
    assert str(exc.value) == "set CHANPERF_REDIS_URL or CHANPERF_REDIS_URL_FILE, not both"


def test_a_missing_or_empty_secret_file_names_the_variable_and_the_file(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError) as exc:
        Settings.from_env({"CHANPERF_DATABASE_URL_FILE": str(missing)}, dotenv=False)
    assert str(exc.value).startswith(f"CHANPERF_DATABASE_URL_FILE: cannot read {missing}: ")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError) as exc:
        Settings.from_env({"CHANPERF_REDIS_URL_FILE": str(tmp_path / "empty")}, dotenv=False)
    assert str(exc.value) == f"CHANPERF_REDIS_URL_FILE: {tmp_path / 'empty'} is empty"


def test_packs_fall_back_to_the_packaged_ones_and_say_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Settings.from_env({}, dotenv=False)
    assert s.policies_dir == PACKAGED_PACKS / "policies"
    assert s.rules_dir == PACKAGED_PACKS / "rules"
    assert s.describe_packs() == (
        f"policies: {PACKAGED_PACKS / 'policies'} (the default policies packaged with chanperf); "
        f"rules: {PACKAGED_PACKS / 'rules'} (the default rules packaged with chanperf)"
    )
    # Settings built in code fall back the same way.
    assert Settings(database_url="sqlite://").policies_dir == PACKAGED_PACKS / "policies"


def test_a_policy_repository_in_the_working_folder_is_preferred(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policies").mkdir()
    s = Settings.from_env({"CHANPERF_RULES_DIR": "/srv/rules"}, dotenv=False)
    assert s.policies_dir == tmp_path / "policies"
    assert s.rules_dir == Path("/srv/rules")
    assert s.describe_packs() == (
        f"policies: {tmp_path / 'policies'} (the working folder); rules: /srv/rules (configured)"
    )


def test_the_packaged_packs_are_the_repository_packs():
    """In a checkout the package's packs are the repository's policies/ and rules/."""
    for pack in ("policies", "rules"):
        packaged = sorted(
            p.relative_to(PACKAGED_PACKS / pack) for p in (PACKAGED_PACKS / pack).rglob("*.yaml")
        )
        shipped = sorted(
            p.relative_to(REPO_ROOT / pack) for p in (REPO_ROOT / pack).rglob("*.yaml")
        )
        assert packaged == shipped
        assert (PACKAGED_PACKS / pack).resolve() == (REPO_ROOT / pack).resolve()
