"""`chanperf demo`: make sure the schema exists, generate a channel, report what is there.

After the data and the planted truth, `chanperf.demo.report` collects, analyses and
prints metrics, insights and proposals.
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, Engine, func, inspect, select

from chanperf.core.database import make_engine
from chanperf.core.errors import ConflictError
from chanperf.core.settings import Settings
from chanperf.demo.generator import (
    SOURCE_ORDER,
    Generated,
    Period,
    delete_org,
    generate,
    period_for,
    write,
)
from chanperf.demo.report import report_analysis
from chanperf.demo.scenario import Scenario
from chanperf.demo.scenario_file import load_scenario
from chanperf.migrations.upgrade import upgrade
from chanperf.models.base import Base

Echo = Callable[[str], None]


@dataclass(frozen=True)
class DemoResult:
    scenario: Scenario
    period: Period
    counts: dict[str, int]
    seconds: float


def run_demo(
    settings: Settings,
    *,
    scenario: str = "planted",
    seed: int = 7,
    accounts: int | None = None,
    as_of: date | None = None,
    org_id: int = 1,
    replace: bool = False,
    analyse: bool = True,
    echo: Echo = print,
) -> DemoResult:
    scn = load_scenario(scenario)
    day = as_of or datetime.now(settings.tz).date()
    period = period_for(day, scn.history_months, settings.tz)
    ensure_schema(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        started = clock.perf_counter()
        data = generate(scn, seed=seed, accounts=accounts, period=period, org_id=org_id)
        with engine.begin() as conn:
            if _has_rows(conn, org_id):
                if not replace:
                    raise ConflictError(
                        f"the database already holds channel data for org {org_id}: pass --replace to "
                        "overwrite it, or point CHANPERF_DATABASE_URL at an empty database"
                    )
                delete_org(conn, org_id)
            write(conn, data)
        result = DemoResult(scn, period, data.counts(), clock.perf_counter() - started)
        print_report(engine, result, org_id, seed, echo)
        if analyse:
            report_analysis(settings, org_id, day, echo)
        return result
    finally:
        engine.dispose()


def ensure_schema(database_url: str) -> None:
    """Migrate to head; a database made by `create_all` (tests) already has every table."""
    engine = make_engine(database_url)
    try:
        names = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    if "alembic_version" not in names and set(Base.metadata.tables) <= names:
        return
    upgrade(database_url)


def _has_rows(conn: Connection, org_id: int) -> bool:
    for table in SOURCE_ORDER:
        if conn.execute(select(table.c.org_id).where(table.c.org_id == org_id).limit(1)).first():
            return True
    return False


TABLE_LABELS = {
    "channel_accounts": "contas",
    "channel_state_transitions": "transições de estado",
    "channel_onboardings": "onboardings",
    "channel_reactivations": "reativações",
    "channel_orders": "linhas de pedido",
    "channel_policy_exceptions": "exceções de política",
    "channel_feedback": "feedback (NPS e reclamações)",
}


def print_report(engine: Engine, result: DemoResult, org_id: int, seed: int, echo: Echo) -> None:
    scn, period = result.scenario, result.period
    accounts = next(t for t in SOURCE_ORDER if t.name == "channel_accounts")
    with engine.connect() as conn:
        counts = {
            t.name: conn.execute(
                select(func.count()).select_from(t).where(t.c.org_id == org_id)
            ).scalar_one()
            for t in SOURCE_ORDER
        }
        states = [
            (str(s), int(c))  # type: ignore[call-overload]
            for s, c in conn.execute(
                select(accounts.c.state, func.count())
                .where(accounts.c.org_id == org_id)
                .group_by(accounts.c.state)
                .order_by(func.count().desc(), accounts.c.state)
            ).all()
        ]
    echo(f"Cenário: {scn.name} — {scn.description}")
    echo(f"Arquivo: {scn.path} | semente {seed} | org {org_id}")
    echo(
        f"Período: {period.start:%Y-%m-%d %H:%M} a {period.end:%Y-%m-%d %H:%M} UTC "
        f"({scn.history_months} meses) | gerado e gravado em {result.seconds:.1f} s"
    )
    echo("")
    echo("Linhas por tabela:")
    for name, n in counts.items():
        echo(f"  {TABLE_LABELS[name]:<32} {n:>9,}".replace(",", "."))
    echo("")
    echo("Contas por estado:")
    total = sum(n for _, n in states) or 1
    for state, n in states:
        echo(f"  {state:<12} {n:>7,} ({100 * n / total:.1f} %)".replace(",", "."))
    echo("")
    echo("Padrões plantados:")
    if not scn.planted:
        echo("  nenhum — cenário nulo: todos os grupos se comportam igual e respeitam as políticas")
    for p in scn.planted:
        where = ", ".join(f"{k}={v}" for k, v in p.affected) or "canal inteiro"
        sizes = ", ".join(f"{k}={v:g}" for k, v in p.effect)
        echo(f"  • {p.id}: {p.detector} → {p.insight_type}/{p.category} [{where}]")
        echo(f"      efeito: {sizes}")
        if p.power is not None:
            echo(f"      amostra mínima por grupo (α=0,001, poder 0,9): {p.power.n_per_group}")
        for side in p.side_effects:
            echo(f"      efeito colateral esperado: {side}")
    if scn.planted and result.counts["channel_accounts"] != scn.accounts:
        echo("")
        echo(
            f"Atenção: {result.counts['channel_accounts']} contas em vez de {scn.accounts}; "
            "as amostras acima valem para o tamanho padrão do cenário."
        )


__all__ = ["DemoResult", "Generated", "ensure_schema", "print_report", "run_demo"]
