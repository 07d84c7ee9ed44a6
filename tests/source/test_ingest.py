"""`chanperf ingest`: good files load; a file with any bad row is refused whole."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from chanperf.cli.main import main
from chanperf.core.errors import ValidationError
from chanperf.models.source import ChannelAccount, ChannelOnboarding, ChannelOrder
from chanperf.source.ingest import ingest_file

ACCOUNTS = """account_id,region,segment,created_at,state,health_score
1,R1,S1,2026-01-05 10:00:00,ACTIVE,80.5
2,R2,S1,2026-01-06T23:30:00-03:00,NEW,
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def count(sessions, model) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_good_file_loads_with_values_converted(tmp_path, settings, sessions):
    n = ingest_file(settings, "channel_accounts", write(tmp_path, "a.csv", ACCOUNTS))
    assert n == 2
    with sessions() as s:
        rows = {a.account_id: a for a in s.scalars(select(ChannelAccount))}
    assert rows[1].org_id == 1 and rows[1].health_score == Decimal("80.5")
    assert rows[1].created_at == datetime(2026, 1, 5, 10, 0)
    # -03:00 offset converted to naive UTC: 23:30 local = 02:30 next day UTC
    assert rows[2].created_at == datetime(2026, 1, 7, 2, 30)
    assert rows[2].health_score is None


def test_org_option_applies_to_files_without_org(tmp_path, settings, sessions):
    ingest_file(settings, "channel_accounts", write(tmp_path, "a.csv", ACCOUNTS), default_org_id=7)
    with sessions() as s:
        assert set(s.scalars(select(ChannelAccount.org_id))) == {7}


def test_bad_rows_are_refused_with_lines_and_nothing_is_written(tmp_path, settings, sessions):
    ingest_file(settings, "channel_accounts", write(tmp_path, "a.csv", ACCOUNTS))
    orders = write(
        tmp_path,
        "o.csv",
        "account_id,ordered_at,sku,quantity,revenue,cost\n"
        "1,2026-02-01 12:00:00,SKU1,2,100.00,60.00\n"  # good
        "1,2026-02-01 12:00:00,SKU1,two,100.00,60.00\n"  # line 3: wrong type
        "1,yesterday,SKU1,1,100.00,60.00\n"  # line 4: bad date
        "1,2026-02-02 12:00:00,SKU1,1,100.005,60.00\n",  # line 5: too many decimals
    )
    with pytest.raises(ValidationError) as err:
        ingest_file(settings, "channel_orders", orders)
    text = str(err.value)
    assert f"{orders}:3: quantity: not an integer: 'two'" in text
    assert f"{orders}:4: ordered_at: not a date-time" in text
    assert f"{orders}:5: revenue: more than 2 decimal places: '100.005'" in text
    assert f"{orders}:2:" not in text
    assert count(sessions, ChannelOrder) == 0


def test_missing_column_unknown_state_and_dangling_account(tmp_path, settings, sessions):
    missing = write(
        tmp_path, "m.csv", "account_id,region,created_at,state\n3,R1,2026-01-01 00:00:00,NEW\n"
    )
    with pytest.raises(ValidationError) as err:
        ingest_file(settings, "channel_accounts", missing)
    assert f"{missing}:1: segment: missing column" in str(err.value)

    state = write(tmp_path, "s.csv", ACCOUNTS + "3,R1,S1,2026-01-01 00:00:00,SLEEPING,\n")
    with pytest.raises(ValidationError) as err:
        ingest_file(settings, "channel_accounts", state)
    assert f"{state}:4: state: unknown value 'SLEEPING'" in str(err.value)
    assert count(sessions, ChannelAccount) == 0  # the two good rows were not written either

    ingest_file(settings, "channel_accounts", write(tmp_path, "a.csv", ACCOUNTS))
    onb = write(
        tmp_path,
        "onb.csv",
        "account_id,kit,started_at,status,completed_at,failed_at\n"
        "1,K1,2026-01-05 10:00:00,COMPLETED,2026-01-20 10:00:00,\n"
        "99,K1,2026-01-05 10:00:00,IN_PROGRESS,,\n"  # line 3: no account 99
        "2,K1,2026-01-05 10:00:00,COMPLETED,,\n",  # line 4: completed without completed_at
    )
    with pytest.raises(ValidationError) as err:
        ingest_file(settings, "channel_onboardings", onb)
    assert f"{onb}:4: completed_at: required when status is COMPLETED" in str(err.value)
    assert count(sessions, ChannelOnboarding) == 0
    # the dangling reference is found once the rows themselves are well-formed
    onb.write_text(
        "account_id,kit,started_at,status,completed_at,failed_at\n"
        "1,K1,2026-01-05 10:00:00,COMPLETED,2026-01-20 10:00:00,\n"
        "99,K1,2026-01-05 10:00:00,IN_PROGRESS,,\n"
    )
    with pytest.raises(ValidationError) as err:
        ingest_file(settings, "channel_onboardings", onb)
    assert f"{onb}:3: account_id: account 99 does not exist in channel_accounts (org 1)" in str(
        err.value
    )
    assert count(sessions, ChannelOnboarding) == 0


def test_duplicate_and_existing_keys_are_refused(tmp_path, settings, sessions):
    path = write(tmp_path, "a.csv", ACCOUNTS)
    ingest_file(settings, "channel_accounts", path)
    with pytest.raises(ValidationError) as err:
        ingest_file(settings, "channel_accounts", path)
    assert f"{path}:2: account_id: key 1 already exists in channel_accounts" in str(err.value)
    assert count(sessions, ChannelAccount) == 2


def test_cli_exits_non_zero_naming_file_line_and_field(tmp_path, settings, sessions):
    bad = write(
        tmp_path, "a.csv", "account_id,region,segment,created_at,state\nx,R,S,2026-01-01,NEW\n"
    )
    result = CliRunner().invoke(
        main, ["--database-url", settings.database_url, "ingest", "channel_accounts", str(bad)]
    )
    assert result.exit_code == 1
    assert f"{bad}:2: account_id: not an integer: 'x'" in result.output
    result = CliRunner().invoke(
        main, ["--database-url", settings.database_url, "ingest", "nope", str(bad)]
    )
    assert result.exit_code == 1 and "unknown table 'nope'" in result.output
    good = write(tmp_path, "g.csv", ACCOUNTS)
    result = CliRunner().invoke(
        main, ["--database-url", settings.database_url, "ingest", "channel_accounts", str(good)]
    )
    assert result.exit_code == 0 and "2 rows loaded into channel_accounts" in result.output


def test_parquet_file_loads(tmp_path, settings, sessions):
    pa = pytest.importorskip("pyarrow")  # pyarrow is a dev dependency, so this runs in CI
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "account_id": [5, 6],
            "region": ["R1", "R1"],
            "segment": ["S", "S"],
            "created_at": [datetime(2026, 1, 1, 8), datetime(2026, 1, 2, 9)],
            "state": ["NEW", "ACTIVE"],
        }
    )
    path = tmp_path / "a.parquet"
    pq.write_table(table, path)
    assert ingest_file(settings, "channel_accounts", path) == 2
    with sessions() as s:
        assert s.get(ChannelAccount, 6).created_at == datetime(2026, 1, 2, 9)
