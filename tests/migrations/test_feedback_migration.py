"""Revision 0005 (labels, snoozes, rule firings, finding fields seen) upgrades and downgrades
on both backends: down to 0004 gives back exactly 0004's schema with every insight kept."""

from __future__ import annotations

from sqlalchemy import Engine, text

from chanperf.migrations.upgrade import current, downgrade, upgrade
from tests.migrations.conftest import with_engine
from tests.migrations.test_migrations import snapshot

RUN = (
    "INSERT INTO channel_analysis_runs (id, org_id, kind, as_of, started_at, status) "
    "VALUES (1, 1, 'ANALYZE', '2026-11-29', '2026-11-30 06:00:00', 'SUCCEEDED')"
)
INSIGHT = (
    "INSERT INTO channel_performance_insights (id, org_id, insight_type, severity, title, "
    "observation, status, rule_id, analysis_run_id) VALUES "
    "(7, 1, 'POLICY_GAP', 'HIGH', 'Kit K2 ativa mais', 'obs', 'REVIEWED', 'kit-better', 1)"
)


def _insights(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text("SELECT id, status, rule_id FROM channel_performance_insights ORDER BY id")
            )
        ]


def test_0005_upgrades_and_downgrades_to_0004_exactly(empty_db_url: str) -> None:
    upgrade(empty_db_url, "0004")
    at_0004 = with_engine(empty_db_url, snapshot)
    with_engine(empty_db_url, lambda e: _exec(e, RUN, INSIGHT))

    upgrade(empty_db_url, "0005")
    assert current(empty_db_url) == "0005"
    after = with_engine(empty_db_url, snapshot)
    assert {"channel_rule_firings", "channel_finding_fields_seen"} <= set(after)
    columns = [c[0] for c in after["channel_performance_insights"]["columns"]]
    assert columns[-4:] == ["label", "labelled_by", "labelled_at", "snooze_until"]

    def label_and_fire(engine: Engine) -> None:
        _exec(
            engine,
            "UPDATE channel_performance_insights SET label = 'TRUE_POSITIVE', "
            "labelled_by = 'ana', labelled_at = '2026-11-30 10:00:00', "
            "snooze_until = '2026-12-15 00:00:00' WHERE id = 7",
            "INSERT INTO channel_rule_firings (org_id, analysis_run_id, rule_id, finding_kind, "
            "as_of, fired_at, matches) VALUES "
            "(1, 1, 'kit-better', 'kit_effectiveness', '2026-11-29', '2026-11-30 06:00:00', 2)",
            "INSERT INTO channel_finding_fields_seen (org_id, analysis_run_id, finding_kind, "
            "as_of, findings, fields_set) VALUES "
            """(1, 1, 'kit_effectiveness', '2026-11-29', 3, '{"ratio": 3, "median_days_a": 0}')""",
        )
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT label, labelled_by, labelled_at, snooze_until "
                    "FROM channel_performance_insights WHERE id = 7"
                )
            ).one()
            # raw SQL: SQLite hands back text, MariaDB datetimes; both print the same
            assert tuple(map(str, row)) == (
                "TRUE_POSITIVE",
                "ana",
                "2026-11-30 10:00:00",
                "2026-12-15 00:00:00",
            )
            fired = conn.execute(text("SELECT as_of, matches FROM channel_rule_firings")).one()
            assert tuple(map(str, fired)) == ("2026-11-29", "2")

    with_engine(empty_db_url, label_and_fire)

    downgrade(empty_db_url, "0004")
    assert current(empty_db_url) == "0004"
    assert with_engine(empty_db_url, snapshot) == at_0004
    assert with_engine(empty_db_url, _insights) == [(7, "REVIEWED", "kit-better")]

    upgrade(empty_db_url, "head")
    assert with_engine(empty_db_url, snapshot) == after


def _exec(engine: Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
