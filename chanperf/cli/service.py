"""`chanperf serve`, `worker`, `scheduler` and `apikey`: running the service."""

from __future__ import annotations

import importlib.util
import os
import sys

import click

from chanperf.cli.options import handle_errors, org_option
from chanperf.core.api_keys import new_key
from chanperf.core.settings import Settings
from chanperf.jobs.queue import QUEUE_NAME, run_scheduler, run_worker
from chanperf.jobs.schedule import cron_table

# The API lives beside the domain package and is started by name, never imported here:
# the domain core does not depend on the web framework.
APP_FACTORY = "api:create_app()"


@click.group("apikey")
def apikey_group() -> None:
    """API keys for the REST API (stored as SHA-256 digests only)."""


@apikey_group.command("new")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "analyst", "approver"]), required=True)
@org_option()
@handle_errors
def apikey_new(name: str, role: str, org_id: int) -> None:
    """Print a fresh key (shown once) and the line to add to the keys file."""
    key, line = new_key(name, role, org_id)
    click.echo(f"key:  {key}")
    click.echo(f"line: {line}")
    click.echo(
        "Give the key to its owner; add the line to CHANPERF_API_KEYS_FILE "
        "(or CHANPERF_API_KEYS, entries separated by ';'). The key is not stored anywhere.",
        err=True,
    )


@click.command()
@click.option("--burst", is_flag=True, help="Work until the queue is empty, then exit.")
@click.option("--queue", "queues", multiple=True, help="Default: chanperf.")
@click.option(
    "--with-scheduler/--without-scheduler",
    default=True,
    show_default=True,
    help="Run RQ's scheduler too (delayed retries need it).",
)
@click.pass_obj
@handle_errors
def worker(settings: Settings, burst: bool, queues: tuple[str, ...], with_scheduler: bool) -> None:
    """Run an RQ worker on CHANPERF_REDIS_URL."""
    if not settings.redis_url:
        raise click.ClickException("CHANPERF_REDIS_URL is not set")
    run_worker(
        settings.redis_url, queues or (QUEUE_NAME,), burst=burst, with_scheduler=with_scheduler
    )


@click.command()
@org_option(multiple=True, default=(), show_default=False, help="Repeat; default 1.")
@click.option("--print", "print_only", is_flag=True, help="Print the cron table and exit.")
@click.pass_obj
@handle_errors
def scheduler(settings: Settings, org_ids: tuple[int, ...], print_only: bool) -> None:
    """Run RQ's cron scheduler (one per deployment: RQ's cron has no lock)."""
    table = cron_table(org_ids or (1,), settings.timezone)
    for entry in table:
        click.echo(f"{entry.cron:<12} {settings.timezone}  {entry.name}")
    if print_only:
        return
    if not settings.redis_url:
        raise click.ClickException("CHANPERF_REDIS_URL is not set")
    run_scheduler(settings.redis_url, settings.timezone, table)


def gunicorn_args(
    host: str, port: int, workers: int | None, threads: int, queued: bool
) -> tuple[list[str], str | None]:
    """gunicorn's command line, and a note for the operator when the queue decides it.

    Without a queue (CHANPERF_REDIS_URL unset) an analysis runs in a background thread
    of the server (chanperf.jobs.local) and its status lives in that process: one worker
    process with threads, so every request reaches it.
    """
    note = None
    if workers is None:
        workers = 2 if queued else 1
    elif workers > 1 and not queued:
        note = (
            f"--workers {workers} without CHANPERF_REDIS_URL: GET /jobs/{{id}} answers only in "
            "the worker that runs the analysis until its run is stored; set a queue, or use 1."
        )
    args = [
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        APP_FACTORY,
    ]
    return args, note


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="0.0.0.0 to listen on every interface (behind a proxy or in a container).",
)
@click.option("--port", type=int, default=None, help="Default: CHANPERF_PORT (8024).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes. Default: 2 with a queue, 1 without (see --threads).",
)
@click.option("--threads", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--dev", is_flag=True, help="Flask's development server even if gunicorn is there.")
@click.pass_obj
def serve(
    settings: Settings, host: str, port: int | None, workers: int | None, threads: int, dev: bool
) -> None:
    """Serve the REST API (gunicorn when installed, else Flask's server)."""
    port = port or settings.port
    # The server process builds its own Settings from the environment: what this command
    # was told (--database-url) reaches it there. Inherited CHANPERF_* variables are left
    # out, so an inherited CHANPERF_DATABASE_URL_FILE cannot contradict --database-url.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CHANPERF_")}
    env = {**inherited, **settings.to_env()}
    if not dev and importlib.util.find_spec("gunicorn") is not None:
        args, note = gunicorn_args(host, port, workers, threads, bool(settings.redis_url))
        if note:
            click.echo(f"chanperf serve: {note}", err=True)
    else:
        args = ["flask", "--app", APP_FACTORY, "run", "--host", host, "--port", str(port)]
    os.execvpe(sys.executable, [sys.executable, "-m", *args], env)
