"""`chanperf insights act`: move an insight and say whether it was right, from a terminal."""

from __future__ import annotations

import getpass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import click

from chanperf.cli.options import handle_errors, org_option, transaction
from chanperf.core.enums import FeedbackLabel
from chanperf.core.settings import Settings
from chanperf.insights.workflow import ACTIONS, act_on_insight


def parse_moment(value: str, tz: ZoneInfo) -> datetime:
    """YYYY-MM-DD (that day's start) or an ISO datetime; without an offset, in `tz`."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        return datetime.combine(day, time(), tzinfo=tz)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"not a date or ISO datetime: {value!r}", param_hint="'--snooze-until'"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without the user in passwd)
        return ""


@click.group("insights")
def insights_group() -> None:
    """Insights: act on one and label it."""


@insights_group.command("act")
@click.argument("insight_id", type=click.IntRange(min=1))
@click.argument("action", metavar="ACTION", type=click.Choice(list(ACTIONS)))
@click.option(
    "--label",
    type=click.Choice([label.value for label in FeedbackLabel]),
    default=None,
    help="Whether the insight was right (EXPECTED: real but already known). Required by "
    "the `label` action, optional with every other.",
)
@click.option("--reason", default=None, help="Why (required to dismiss).")
@click.option("--notes", default=None, help="What was done (required to implement).")
@click.option(
    "--snooze-until",
    default=None,
    help="With `snooze`: YYYY-MM-DD (that day's start) or an ISO datetime; without an "
    "offset it is read in CHANPERF_TIMEZONE.",
)
@click.option(
    "--as",
    "actor",
    default=None,
    help="Who acts (recorded as reviewer and labeller). Default: the OS user.",
)
@org_option()
@click.pass_obj
@handle_errors
def insights_act(
    settings: Settings,
    insight_id: int,
    action: str,
    label: str | None,
    reason: str | None,
    notes: str | None,
    snooze_until: str | None,
    actor: str | None,
    org_id: int,
) -> None:
    """Apply ACTION to an insight: review, start, implement, dismiss, reopen, snooze or label."""
    until = parse_moment(snooze_until, settings.tz) if snooze_until is not None else None
    with transaction(settings) as session:
        row = act_on_insight(
            session,
            org_id,
            insight_id,
            action,
            actor if actor is not None else os_user(),
            reason=reason,
            implementation_notes=notes,
            label=label,
            snooze_until=until,
        )
        parts = [f"insight {row.id}: {row.status.value}"]
        if row.snooze_until is not None:
            parts.append(f"snoozed until {row.snooze_until.isoformat()}Z")
        if row.label is not None:
            parts.append(f"label {row.label.value} by {row.labelled_by}")
        click.echo(", ".join(parts))
