"""The collectors give exactly the rows they gave before their rewrite for speed.

A small planted channel (300 accounts, 18 months) is collected whole, and every stored
row of both metrics tables is compared with digests taken from the collectors as they
were before (tests/fixtures/collect_golden.json), month by month, so a difference names
the table, the period type and the month. Values are compared in the columns' own scale,
so SQLite's floats and MariaDB's decimals agree. Regenerate the digests (`python -m
tests.metrics.test_collect_golden`) only when a metric's definition changes on purpose.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Numeric, select

from chanperf.core.settings import REPO_ROOT, Settings
from chanperf.demo import generator
from chanperf.demo.scenario_file import load_scenario
from chanperf.metrics.collect import collect
from chanperf.models.performance import PerformanceMetric, SegmentMetric

GOLDEN = Path(__file__).parents[1] / "fixtures" / "collect_golden.json"
AS_OF = date(2026, 6, 30)
ACCOUNTS = 300
SEED = 3


def load_channel(engine: Engine) -> None:
    scn = load_scenario("planted")
    period = generator.period_for(AS_OF, scn.history_months, ZoneInfo("America/Sao_Paulo"))
    data = generator.generate(scn, seed=SEED, accounts=ACCOUNTS, period=period, org_id=1)
    with engine.begin() as conn:
        generator.write(conn, data)


def collect_all(engine: Engine) -> None:
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        policies_dir=REPO_ROOT / "policies",
        rules_dir=REPO_ROOT / "rules",
    )
    observed = datetime(2026, 7, 1, 3)  # the end of the as-of day in Sao Paulo, UTC
    collect(settings, 1, None, AS_OF, as_of=observed, backfill=True)


def _canonical(value: Any, column: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, Numeric):
        scale = column.type.scale or 0
        return str(Decimal(str(value)).quantize(Decimal(1).scaleb(-scale)))
    return getattr(value, "value", value) if not isinstance(value, date) else value.isoformat()


def digests(engine: Engine) -> dict[str, str]:
    """SHA-256 of the canonical rows of each (table, period type, month)."""
    groups: dict[str, list[str]] = defaultdict(list)
    with engine.connect() as conn:
        for model in (PerformanceMetric, SegmentMetric):
            table = model.__table__
            # when and how a row was observed is not a metric (test_freshness.py)
            skip = {"id", "created_at", "updated_at", "observed_at", "collected_windows"}
            columns = [c for c in table.columns if c.name not in skip]
            for row in conn.execute(select(*columns)):
                values = {c.name: _canonical(row._mapping[c.name], c) for c in columns}
                key = f"{table.name}|{values['period_type']}|{values['period_date'][:7]}"
                groups[key].append(json.dumps(values, sort_keys=True))
    return {
        k: hashlib.sha256("\n".join(sorted(v)).encode()).hexdigest()
        for k, v in sorted(groups.items())
    }


def test_collectors_give_the_rows_they_gave_before(engine: Engine) -> None:
    load_channel(engine)
    collect_all(engine)
    got = digests(engine)
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(got) == sorted(expected)
    differing = [key for key in expected if got[key] != expected[key]]
    assert differing == []


if __name__ == "__main__":  # regenerate the digests from the collectors as they are
    import tempfile

    from chanperf.core.database import make_engine
    from chanperf.models.base import Base

    with tempfile.TemporaryDirectory() as tmp:
        eng = make_engine(f"sqlite:///{tmp}/golden.db")
        Base.metadata.create_all(eng)
        load_channel(eng)
        collect_all(eng)
        GOLDEN.write_text(json.dumps(digests(eng), indent=1) + "\n", encoding="utf-8")
        eng.dispose()
        print(f"wrote {GOLDEN}")
