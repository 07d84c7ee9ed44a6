"""The demo generator: planted effects at their stated sizes, null scenarios flat and within
policy, determinism, the source contract, replace/conflict, and scenario errors.

Effect sizes are measured with plain SQL here, never with chanperf's own analysis code.
Large generations run on SQLite only; the MariaDB runs are small.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from statistics import NormalDist, median
from typing import Any

import pytest
from sqlalchemy import Engine, text

from chanperf.core.database import make_engine
from chanperf.core.errors import ConflictError, ValidationError
from chanperf.core.settings import Settings
from chanperf.demo.run import run_demo
from chanperf.demo.scenario_file import load_scenario
from chanperf.models.base import Base

AS_OF = date(2026, 11, 23)
# America/Sao_Paulo: the end of AS_OF is 03:00 UTC the next day.
END = datetime(2026, 11, 24, 3, 0)
SOURCE = (
    "channel_accounts", "channel_state_transitions", "channel_onboardings", "channel_reactivations",
    "channel_orders", "channel_policy_exceptions", "channel_feedback",
)  # fmt: skip


def _settings(engine: Engine) -> Settings:
    return Settings(database_url=engine.url.render_as_string(hide_password=False))


def _demo(engine: Engine, scenario: str, seed: int, accounts: int | None, **kw: Any) -> list[str]:
    lines: list[str] = []
    run_demo(_settings(engine), scenario=scenario, seed=seed, accounts=accounts, as_of=AS_OF,
             echo=lines.append, **kw)  # fmt: skip
    return lines


def _sqlite(tmp: Path, name: str) -> Engine:
    eng = make_engine(f"sqlite:///{tmp / name}.db")
    Base.metadata.create_all(eng)
    return eng


def q(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def one(engine: Engine, sql: str, **params: Any) -> Any:
    return q(engine, sql, **params)[0][0]


def dt(value: Any) -> datetime:
    """Raw SQL gives SQLite DATETIME values back as text."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def close(observed: float, expected: float, n: int, k: float = 4.0) -> bool:
    """Within k standard errors of a proportion measured on n units."""
    se = math.sqrt(max(expected * (1 - expected), 1e-4) / max(n, 1))
    return abs(observed - expected) <= k * se


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    eng = _sqlite(tmp_path_factory.mktemp("planted"), "planted")
    _demo(eng, "planted", 7, None)
    return eng


@pytest.fixture(scope="module", params=[11, 12])
def null(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    eng = _sqlite(tmp_path_factory.mktemp("null"), "null")
    _demo(eng, "null", request.param, None)
    return eng


# ---- plain-SQL measurements (SQLite date arithmetic: julianday) -----------------------------

ACTIVATION = """
SELECT {group}, COUNT(*),
       SUM(CASE WHEN o.status = 'COMPLETED'
                 AND julianday(o.completed_at) - julianday(o.started_at) <= 30 THEN 1 ELSE 0 END),
       SUM(CASE WHEN o.status = 'FAILED' THEN 1 ELSE 0 END)
FROM channel_onboardings o JOIN channel_accounts a ON a.account_id = o.account_id
WHERE o.started_at < :cut {where} GROUP BY {group}
"""

REINCIDENCE = """
SELECT {group}, COUNT(*), SUM(CASE WHEN EXISTS (
         SELECT 1 FROM channel_state_transitions t WHERE t.account_id = r.account_id
           AND t.to_state IN ('STALLED', 'CHURNED') AND t.transitioned_at > r.resolved_at
           AND julianday(t.transitioned_at) <= julianday(r.resolved_at) + 90) THEN 1 ELSE 0 END)
FROM channel_reactivations r JOIN channel_accounts a ON a.account_id = r.account_id
WHERE r.status = 'WON' AND r.resolved_at < :cut GROUP BY {group}
"""

WINS = """
SELECT {group}, COUNT(*), SUM(CASE WHEN r.status = 'WON' THEN 1 ELSE 0 END)
FROM channel_reactivations r JOIN channel_accounts a ON a.account_id = r.account_id
WHERE r.status IN ('WON', 'LOST') GROUP BY {group}
"""


def rates(
    engine: Engine, sql: str, group: str, cut: datetime, where: str = ""
) -> dict[Any, tuple[int, float]]:
    rows = q(engine, sql.format(group=group, where=where), cut=cut)
    return {r[0]: (r[1], r[2] / r[1]) for r in rows}


def planted_entry(pid: str) -> Any:
    return next(p for p in load_scenario("planted").planted if p.id == pid)


# ---- planted scenario -----------------------------------------------------------------------


def test_kit_effect_in_norte(planted: Engine) -> None:
    got = rates(planted, ACTIVATION, "o.kit", END - timedelta(days=30), "AND a.region = 'NORTE'")
    p = planted_entry("kit_norte")
    (na, ra), (nb, rb) = got["KIT_A"], got["KIT_B"]
    assert close(ra, 0.45, na) and close(rb, 0.78, nb), got
    assert min(na, nb) >= p.power.n_per_group


def test_failures_in_sul(planted: Engine) -> None:
    rows = q(
        planted, ACTIVATION.format(group="a.region = 'SUL'", where=""), cut=END - timedelta(days=45)
    )
    by = {bool(r[0]): (r[1], r[3] / r[1]) for r in rows}
    assert close(by[True][1], 0.35, by[True][0]) and by[False][1] < 0.15, by
    assert by[True][0] >= planted_entry("failures_sul").power.n_per_group


def test_slow_onboarding_in_centro_oeste(planted: Engine) -> None:
    got = rates(planted, ACTIVATION, "a.region", END - timedelta(days=30))
    n, rate = got["CENTRO_OESTE"]
    assert close(rate, 0.35, n) and n >= planted_entry("slow_centro_oeste").power.n_per_group
    assert all(r > 0.5 for region, (_, r) in got.items() if region != "CENTRO_OESTE"), got
    days = q(planted, """SELECT a.region, julianday(o.completed_at) - julianday(o.started_at)
        FROM channel_onboardings o JOIN channel_accounts a ON a.account_id = o.account_id
        WHERE o.status = 'COMPLETED'""")  # fmt: skip
    med: dict[str, list[float]] = defaultdict(list)
    for region, d in days:
        med[region].append(d)
    assert median(med.pop("CENTRO_OESTE")) > 25
    assert all(median(v) < 20 for v in med.values())


def test_discount_relapse(planted: Engine) -> None:
    bucket = "CASE WHEN r.discount_pct > 8 THEN 'high' WHEN r.discount_pct <= 5 THEN 'low' ELSE 'mid' END"
    got = rates(planted, REINCIDENCE, bucket, END - timedelta(days=90))
    (nh, rh), (nl, rl) = got["high"], got["low"]
    assert close(rh, 0.45, nh) and close(rl, 0.12, nl), got
    assert nh >= planted_entry("discount_relapse").power.n_per_group


def test_visit_wins_in_prata(planted: Engine) -> None:
    got = rates(planted, WINS.replace("WHERE", "WHERE a.segment = 'PRATA' AND"), "r.strategy", END)
    assert max(got, key=lambda s: got[s][0]) == "DISCOUNT"
    (nv, rv), (nd, rd) = got["VISIT"], got["DISCOUNT"]
    assert close(rv, 0.68, nv) and close(rd, 0.44, nd), got
    assert nv >= planted_entry("visit_prata").power.n_per_group * 0.8


def test_reincidence_in_bronze(planted: Engine) -> None:
    got = rates(planted, REINCIDENCE, "a.segment", END - timedelta(days=90))
    n, rate = got["BRONZE"]
    assert close(rate, 0.41, n) and rate > 0.25, got
    assert n >= planted_entry("reincidence_bronze").power.n_per_group
    # The rest sit near 0.17: below the 0.25 limit, never significantly above it.
    for segment, (m, r) in got.items():
        if segment != "BRONZE":
            assert close(r, 0.17, m) and r < 0.25 + 2 * math.sqrt(0.25 * 0.75 / m), got


def test_stuck_in_sudeste(planted: Engine) -> None:
    rows = q(planted, """SELECT a.region, COUNT(*) FROM channel_accounts a
        WHERE a.state = 'STALLED' AND (SELECT MAX(t.transitioned_at) FROM channel_state_transitions t
              WHERE t.account_id = a.account_id) < :cut GROUP BY a.region""", cut=END - timedelta(days=90))  # fmt: skip
    assert dict(rows).keys() == {"SUDESTE"} and dict(rows)["SUDESTE"] >= 30, rows


def test_churn_risk_in_ouro(planted: Engine) -> None:
    cut = END - timedelta(days=90)
    rows = q(planted, """SELECT a.segment = 'OURO', COUNT(*), SUM(CASE WHEN EXISTS (
          SELECT 1 FROM channel_state_transitions w WHERE w.account_id = a.account_id
            AND w.to_state IN ('AT_RISK', 'STALLED') AND w.transitioned_at >= :cut) THEN 1 ELSE 0 END)
        FROM channel_accounts a WHERE (SELECT t.to_state FROM channel_state_transitions t
          WHERE t.account_id = a.account_id AND t.transitioned_at < :cut
          ORDER BY t.transitioned_at DESC LIMIT 1) = 'ACTIVE' GROUP BY a.segment = 'OURO'""", cut=cut)  # fmt: skip
    by = {bool(r[0]): (r[1], r[2] / r[1]) for r in rows}
    assert by[True][1] > 0.55 and by[False][1] < 0.42, by
    health = dict(
        q(planted, "SELECT segment = 'OURO', AVG(health_score) FROM channel_accounts GROUP BY 1")
    )
    assert health[1] < health[0] - 10


def test_price_exceptions_on_one_sku(planted: Engine) -> None:
    rows = q(planted, """SELECT o.sku, o.n, COALESCE(e.n, 0), COALESCE(e.granted, 0), COALESCE(e.decided, 0)
        FROM (SELECT sku, COUNT(*) n FROM channel_orders GROUP BY sku) o
        LEFT JOIN (SELECT sku, COUNT(*) n, SUM(decision = 'GRANTED') granted,
                   SUM(decision <> 'PENDING') decided FROM channel_policy_exceptions GROUP BY sku) e
          ON e.sku = o.sku""")  # fmt: skip
    by = {r[0]: (r[1], r[2] / r[1], r[3] / max(r[4], 1)) for r in rows}
    n, rate, granted = by.pop("PERF-001")
    assert close(rate, 0.25, n) and granted > 0.8
    assert all(r < 0.05 for _, r, _ in by.values()), by


def test_uncovered_strategy_and_cap_compliance(planted: Engine) -> None:
    got = rates(planted, WINS, "r.strategy = 'WHATSAPP'", END)
    assert close(got[1][1], 0.15, got[1][0]) and got[0][1] > 0.38, got
    assert got[1][0] >= planted_entry("whatsapp_gap").power.n_per_group
    n, over = q(planted, "SELECT COUNT(*), SUM(discount_pct > 10) FROM channel_reactivations")[0]
    assert close(over / n, 0.14, n) and n >= planted_entry("cap_compliance").power.n_per_group


def test_margin_and_priority_misalignment(planted: Engine) -> None:
    rows = q(planted, """SELECT a.segment, SUM(o.revenue), SUM(o.cost) FROM channel_orders o
        JOIN channel_accounts a ON a.account_id = o.account_id GROUP BY a.segment""")  # fmt: skip
    total = sum(r[1] for r in rows)
    margin = {r[0]: ((r[1] - r[2]) / r[1], r[1] / total) for r in rows}
    m, share = margin.pop("DIAMANTE")
    assert m < 0.22 and share > 0.1, m
    assert all(v > 0.28 for v, _ in margin.values()), margin
    recent = q(planted, """SELECT a.region = 'NORDESTE', COUNT(*) FROM channel_onboardings o
        JOIN channel_accounts a ON a.account_id = o.account_id
        WHERE o.status = 'COMPLETED' AND o.completed_at >= :cut GROUP BY 1""", cut=END - timedelta(days=150))  # fmt: skip
    by = dict(recent)
    assert by[1] / (by[0] + by[1]) < 0.12


def test_nps_drift(planted: Engine) -> None:
    rows = q(planted, """SELECT created_at >= :cut, COUNT(*), SUM(score >= 9) FROM channel_feedback
        WHERE kind = 'NPS' GROUP BY 1""", cut=END - timedelta(days=56))  # fmt: skip
    by = {bool(r[0]): (r[1], r[2] / r[1]) for r in rows}
    assert close(by[True][1], 0.30, by[True][0]) and close(by[False][1], 0.55, by[False][0]), by
    assert by[True][0] >= planted_entry("nps_drift").power.n_per_group


def test_stated_sample_sizes_follow_the_power_formula() -> None:
    za, zb = NormalDist().inv_cdf(1 - 0.001 / 2), NormalDist().inv_cdf(0.9)
    scn = load_scenario("planted")
    detectors = {p.detector for p in scn.planted}
    assert len(detectors) == 13
    for p in scn.planted:
        if p.power is None:
            continue
        p1, p2 = p.power.p1, p.power.p2
        if p.power.test == "two_sample":
            pb = (p1 + p2) / 2
            spread = za * math.sqrt(2 * pb * (1 - pb)) + zb * math.sqrt(
                p1 * (1 - p1) + p2 * (1 - p2)
            )
        else:
            spread = za * math.sqrt(p2 * (1 - p2)) + zb * math.sqrt(p1 * (1 - p1))
        assert p.power.n_per_group == math.ceil(spread**2 / (p1 - p2) ** 2), p.id


# ---- null scenarios ------------------------------------------------------------------------


def test_null_groups_alike_and_within_policy(null: Engine) -> None:
    act = rates(null, ACTIVATION, "a.region", END - timedelta(days=45))
    total = sum(n for n, _ in act.values())
    channel = sum(n * r for n, r in act.values()) / total
    assert channel > 0.6
    assert all(close(r, channel, n) for n, r in act.values()), act
    assert [k for (k,) in q(null, "SELECT DISTINCT kit FROM channel_onboardings")] == ["KIT_A"]
    days = [d for (d,) in q(null, """SELECT julianday(completed_at) - julianday(started_at)
        FROM channel_onboardings WHERE status = 'COMPLETED'""")]  # fmt: skip
    assert median(days) < 16
    for group in ("a.segment", "a.region", "r.discount_pct > 5"):
        reinc = rates(null, REINCIDENCE, group, END - timedelta(days=90))
        assert all(close(r, 0.12, n) for n, r in reinc.values()), (group, reinc)
    wins = rates(null, WINS, "r.strategy", END)
    assert set(wins) <= {"DISCOUNT", "CALL", "VISIT"}
    assert all(close(r, 0.42, n) for n, r in wins.values()), wins
    assert one(null, "SELECT MAX(discount_pct) FROM channel_reactivations") <= 10
    exc = q(null, """SELECT o.sku, COUNT(*), (SELECT COUNT(*) FROM channel_policy_exceptions e
        WHERE e.sku = o.sku) FROM channel_orders o GROUP BY o.sku""")  # fmt: skip
    assert all(e / n < 0.035 for _, n, e in exc), exc
    margins = q(
        null,
        """SELECT a.segment, (SUM(o.revenue) - SUM(o.cost)) / SUM(o.revenue)
        FROM channel_orders o JOIN channel_accounts a ON a.account_id = o.account_id GROUP BY 1""",
    )
    assert all(0.3 < m < 0.36 for _, m in margins), margins
    share = dict(
        q(
            null,
            """SELECT a.region = 'NORDESTE', COUNT(*) FROM channel_onboardings o
        JOIN channel_accounts a ON a.account_id = o.account_id WHERE o.status = 'COMPLETED' GROUP BY 1""",
        )
    )
    assert share[1] / (share[0] + share[1]) > 0.22
    nps = {
        bool(r[0]): (r[1], r[2] / r[1])
        for r in q(
            null,
            """SELECT created_at >= :cut, COUNT(*),
        SUM(score >= 9) FROM channel_feedback WHERE kind = 'NPS' GROUP BY 1""",
            cut=END - timedelta(days=56),
        )
    }
    assert close(nps[True][1], nps[False][1], nps[True][0])


def test_null_no_stay_longer_than_the_states_policy(null: Engine) -> None:
    limits = {"NEW": 7, "ACTIVATING": 45, "STALLED": 90, "AT_RISK": 60}
    rows = q(null, """SELECT account_id, to_state, transitioned_at FROM channel_state_transitions
        ORDER BY account_id, transitioned_at""")  # fmt: skip
    worst: dict[str, float] = defaultdict(float)
    for (acc, state, at), nxt in zip(rows, [*rows[1:], None], strict=True):
        until = nxt[2] if nxt is not None and nxt[0] == acc else END
        worst[state] = max(worst[state], (dt(until) - dt(at)).total_seconds() / 86400)
    assert all(worst[s] <= limit for s, limit in limits.items()), dict(worst)


# ---- contract, determinism, replace --------------------------------------------------------


def _contract(engine: Engine) -> None:
    state = dict(q(engine, "SELECT account_id, state FROM channel_accounts"))
    rows = q(engine, """SELECT account_id, from_state, to_state, transitioned_at
        FROM channel_state_transitions ORDER BY account_id, transitioned_at, id""")  # fmt: skip
    chains: dict[int, list[tuple[Any, str, datetime]]] = defaultdict(list)
    for acc, frm, to, at in rows:
        chains[acc].append((frm, to, dt(at)))
    assert chains.keys() == state.keys()
    for acc, chain in chains.items():
        assert chain[-1][1] == state[acc]
        assert chain[0][0] is None and all(b[0] == a[1] for a, b in itertools.pairwise(chain))
    assert one(engine, """SELECT COUNT(*) FROM channel_onboardings WHERE
        (status = 'COMPLETED') <> (completed_at IS NOT NULL) OR (status = 'FAILED') <> (failed_at IS NOT NULL)
        OR status NOT IN ('IN_PROGRESS', 'COMPLETED', 'FAILED')""") == 0  # fmt: skip
    assert (
        one(
            engine,
            """SELECT COUNT(*) FROM channel_reactivations WHERE
        (status IN ('WON', 'LOST')) <> (resolved_at IS NOT NULL) OR status NOT IN ('PENDING', 'WON', 'LOST')""",
        )
        == 0
    )
    for table, col in [("channel_accounts", "created_at"), ("channel_state_transitions", "transitioned_at"),
                       ("channel_onboardings", "completed_at"), ("channel_reactivations", "resolved_at"),
                       ("channel_orders", "ordered_at"), ("channel_policy_exceptions", "requested_at"),
                       ("channel_feedback", "created_at")]:  # fmt: skip
        latest = one(engine, f"SELECT MAX({col}) FROM {table}")
        assert latest is None or (dt(latest).tzinfo is None and dt(latest) < END), (table, latest)
    # Orders only while ACTIVE: the state in force at ordered_at.
    for acc, at in q(engine, "SELECT account_id, ordered_at FROM channel_orders"):
        before = [c for c in chains[acc] if c[2] <= dt(at)]
        assert before and before[-1][1] == "ACTIVE", (acc, at)
    assert one(engine, "SELECT COUNT(*) FROM channel_orders WHERE revenue <= 0 OR cost <= 0") == 0


def _digest(engine: Engine) -> str:
    h = hashlib.sha256()
    for table in SOURCE:
        pk = "account_id" if table == "channel_accounts" else "id"
        for row in q(engine, f"SELECT * FROM {table} ORDER BY {pk}"):
            h.update(repr(tuple(str(v) for v in row)).encode())
    return h.hexdigest()


def test_contract_determinism_and_replace(engine: Engine) -> None:
    lines = _demo(engine, "planted", 3, 300)
    assert "Padrões plantados:" in lines and any("kit_norte" in line for line in lines)
    _contract(engine)
    first = _digest(engine)
    with pytest.raises(ConflictError, match="--replace"):
        _demo(engine, "planted", 3, 300)
    _demo(engine, "planted", 3, 300, replace=True)
    assert _digest(engine) == first
    _demo(engine, "planted", 4, 300, replace=True)
    assert _digest(engine) != first
    assert one(engine, "SELECT COUNT(*) FROM channel_accounts") == 300


def test_null_contract(engine: Engine) -> None:
    lines = _demo(engine, "null", 5, 200)
    assert any("nenhum" in line for line in lines)
    _contract(engine)


# ---- scenario validation -------------------------------------------------------------------


def test_scenario_errors_name_file_line_and_field(tmp_path: Path) -> None:
    text_ = (Path(load_scenario("null").path)).read_text(encoding="utf-8")
    bad = text_.replace("activation_rate: 0.72", "activation_rate: 1.7").replace(
        "effects: []", 'effects:\n  - where: {region: "ATLANTIDA"}\n    set: {win_rat: 0.5}'
    )
    path = tmp_path / "bad.yaml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        load_scenario(str(path))
    message = str(err.value)
    line = bad.splitlines().index("  activation_rate: 1.7") + 1
    assert f"bad.yaml:{line}:" in message and "rates.activation_rate" in message
    assert "unknown region 'ATLANTIDA'" in message and "effects.0.where.region" in message
    assert "unknown parameter 'win_rat'" in message
    with pytest.raises(ValidationError, match="no such scenario"):
        load_scenario("nao-existe")


def test_an_also_reports_entry_needs_a_rule_id_and_known_keys(tmp_path: Path) -> None:
    text_ = (Path(load_scenario("planted").path)).read_text(encoding="utf-8")
    old = '      - {rule_id: churn_risk_rising, region: "SUL"}'
    assert old in text_
    path = tmp_path / "bad.yaml"
    path.write_text(text_.replace(old, '      - {region: "SUL", kit: "X"}'), encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        load_scenario(str(path))
    message = str(err.value)
    assert "planted.1.also_reports.0" in message
    assert "rule_id" in message and "kit" in message
