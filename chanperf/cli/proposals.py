"""`chanperf proposals`: review, approve or reject, apply, replay and measure proposals."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from chanperf.cli.options import (
    as_of_option,
    handle_errors,
    org_option,
    policies_dir_option,
    transaction,
)
from chanperf.core.clock import yesterday
from chanperf.core.errors import ConfigError
from chanperf.core.settings import PACKAGED_PACKS, Settings
from chanperf.experiments.results import check_experiment_results
from chanperf.proposals.apply import apply_proposal
from chanperf.proposals.queries import get_proposal, list_proposals, proposal_diff
from chanperf.proposals.replay import replay_proposal
from chanperf.proposals.texts import plan_lines
from chanperf.proposals.workflow import approve_proposal, reject_proposal


@click.group("proposals")
def proposals_group() -> None:
    """Policy proposals: review, approve or reject, apply, replay, measure."""


@proposals_group.command("list")
@click.option(
    "--status", default=None, help="DRAFT, PENDING_REVIEW, APPROVED, REJECTED or IMPLEMENTED."
)
@org_option()
@click.pass_obj
@handle_errors
def proposals_list(settings: Settings, status: str | None, org_id: int) -> None:
    """One line per proposal: id, status, policy parameter, values, title."""
    with transaction(settings) as session:
        for p in list_proposals(session, org_id, status):
            click.echo(
                f"{p.id}\t{p.status.value}\t{p.policy_name}.{p.parameter_path}\t"
                f"{p.current_value!r} -> {p.proposed_value!r}\t{p.title}"
            )


@proposals_group.command("show")
@click.argument("proposal_id", type=int)
@org_option()
@click.pass_obj
@handle_errors
def proposals_show(settings: Settings, proposal_id: int, org_id: int) -> None:
    """Everything about a proposal, as JSON."""
    with transaction(settings) as session:
        p = get_proposal(session, org_id, proposal_id)
        fields = [c.name for c in p.__table__.columns]
        click.echo(
            json.dumps(
                {f: getattr(p, f) for f in fields}, default=str, indent=2, ensure_ascii=False
            )
        )


@proposals_group.command("plan")
@click.argument("proposal_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="The stored plan as JSON.")
@org_option()
@click.pass_obj
@handle_errors
def proposals_plan(settings: Settings, proposal_id: int, as_json: bool, org_id: int) -> None:
    """The experiment plan: verdict, design, detectable effect over time, looks, alternative."""
    with transaction(settings) as session:
        p = get_proposal(session, org_id, proposal_id)
        plan = p.experiment_plan or {}
        if as_json:
            click.echo(json.dumps(plan, default=str, indent=2, ensure_ascii=False))
            return
        for line in plan_lines(plan, p.experiment_duration_days):
            click.echo(line)


@proposals_group.command("diff")
@click.argument("proposal_id", type=int)
@org_option()
@click.pass_obj
@handle_errors
def proposals_diff(settings: Settings, proposal_id: int, org_id: int) -> None:
    """Print the unified diff of the policy file (`git apply` it from the repository root)."""
    with transaction(settings) as session:
        click.echo(proposal_diff(session, org_id, proposal_id), nl=False)


@proposals_group.command("approve")
@click.argument("proposal_id", type=int)
@click.option("--as", "actor", required=True, help="Who approves (not the requester).")
@click.option("--comment", default=None, help="Why (kept with the proposal).")
@org_option()
@click.pass_obj
@handle_errors
def proposals_approve(
    settings: Settings, proposal_id: int, actor: str, comment: str | None, org_id: int
) -> None:
    """Approve a proposal waiting for review."""
    with transaction(settings) as session:
        p = approve_proposal(session, org_id, proposal_id, actor, comment=comment)
        click.echo(f"proposal {p.id} approved by {p.approved_by} at {p.approved_at}")


@proposals_group.command("reject")
@click.argument("proposal_id", type=int)
@click.option("--as", "actor", required=True, help="Who rejects.")
@click.option("--reason", required=True, help="Why (kept with the proposal).")
@org_option()
@click.pass_obj
@handle_errors
def proposals_reject(
    settings: Settings, proposal_id: int, actor: str, reason: str, org_id: int
) -> None:
    """Reject a proposal waiting for review, with a reason."""
    with transaction(settings) as session:
        p = reject_proposal(session, org_id, proposal_id, actor, reason)
        click.echo(f"proposal {p.id} rejected by {p.rejected_by} at {p.rejected_at}")


@proposals_group.command("apply")
@click.argument("proposal_id", type=int)
@policies_dir_option
@click.option("--as", "actor", default=None, help="Who applies (recorded on the policy version).")
@org_option()
@click.pass_obj
@handle_errors
def proposals_apply(
    settings: Settings, proposal_id: int, policies_dir: Path | None, actor: str | None, org_id: int
) -> None:
    """Write an approved proposal into its policy file (version + 1); refused on conflict."""
    folder = policies_dir or settings.policies_dir
    if folder == PACKAGED_PACKS / "policies":
        # Those files belong to the installed package: an edit there is lost on upgrade.
        raise ConfigError(
            f"{folder}: the policies packaged with chanperf are not edited in place; "
            "start a policy repository with `chanperf init DIR` and point "
            "CHANPERF_POLICIES_DIR (or --policies-dir) at its policies/"
        )
    with transaction(settings) as session:
        v = apply_proposal(session, org_id, proposal_id, folder, actor)
        click.echo(f"{folder / (v.policy_name + '.yaml')}: {v.policy_name} version {v.version}")


@proposals_group.command("replay")
@click.argument("proposal_id", type=int)
@click.option("--weeks", type=click.IntRange(min=1), default=12, show_default=True)
@as_of_option(help="Default: yesterday.")
@org_option()
@click.pass_obj
@handle_errors
def proposals_replay(
    settings: Settings, proposal_id: int, weeks: int, as_of: date | None, org_id: int
) -> None:
    """Re-run the last weeks' analysis with the proposed policy; print insights that change."""
    for line in replay_proposal(settings, org_id, proposal_id, weeks, as_of).lines():
        click.echo(line)


@proposals_group.command("results")
@as_of_option(help="Default: yesterday.")
@org_option()
@click.pass_obj
@handle_errors
def proposals_results(settings: Settings, as_of: date | None, org_id: int) -> None:
    """Measure applied proposals whose experiment duration has passed."""
    day = as_of or yesterday(settings.tz)
    with transaction(settings) as session:
        for p in check_experiment_results(session, org_id, day, settings.timezone):
            r = p.implementation_results or {}
            click.echo(
                f"{p.id}\t{r.get('verdict')}\testimate={r.get('estimate')}\tci={r.get('ci')}"
            )
