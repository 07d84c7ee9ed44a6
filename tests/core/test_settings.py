from pathlib import Path

import pytest

from chanperf.core.errors import ConfigError
from chanperf.core.settings import Settings


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
