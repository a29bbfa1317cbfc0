"""``jobtrail dlq``: the dead-letter queue (``dead`` and ``orphaned`` jobs) and what to do
with each of its jobs: look, run again, or let go."""

from __future__ import annotations

import json

import click

from jobtrail.cli.loading import app_from, opened, source_options
from jobtrail.cli.output import (
    console,
    effect_json,
    emit_json,
    event_json,
    job_json,
    job_view,
    jobs_table,
    wide_option,
)
from jobtrail.errors import JobNotFound
from jobtrail.records import JobRecord
from jobtrail.views import DEAD_LETTER_STATUSES

JSON_HELP = "Print JSON instead of a table."


@click.group("dlq")
def dlq_group() -> None:
    """Inspect and resolve dead letters (jobs that ended dead or orphaned)."""


@dlq_group.command("list")
@click.option(
    "--limit", "-n", type=click.IntRange(min=1), default=50, show_default=True,
    help="Show at most this many dead letters, newest first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of jobs.")
@wide_option
@source_options
def list_dead(target: str | None, url: str | None, limit: int, as_json: bool,
              wide: bool) -> None:
    """List dead letters, newest first, with the error that ended each."""
    with opened(app_from(target, url)) as app:
        found = app.dead_letters(limit=limit)
    if as_json:
        emit_json([job_json(job) for job in found])
    elif not found:
        click.echo("the dead-letter queue is empty")
    else:
        out = console(wide)
        out.print(jobs_table(found, out.width))


@dlq_group.command("show")
@click.argument("job_id", metavar="ID", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the job and its events as JSON.")
@wide_option
@source_options
def show_dead(target: str | None, url: str | None, job_id: int, as_json: bool,
              wide: bool) -> None:
    """Show one dead letter with its error, traceback and timeline.

    An ID that is not in the dead-letter queue exits with code 3.
    """
    with opened(app_from(target, url)) as app:
        job = app.get(job_id)
        if job.status not in DEAD_LETTER_STATUSES:
            raise JobNotFound(
                f"job {job_id} is {job.status.value}, not in the dead-letter queue"
            )
        effects = app.effects(job_id)
    if as_json:
        emit_json({"job": job_json(job), "events": [event_json(event) for event in job.path],
                   "effects": [effect_json(effect) for effect in effects]})
    else:
        out = console(wide)
        out.print(job_view(job, job.path, effects, out.width))


@dlq_group.command("replay")
@click.argument("job_id", metavar="ID", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the replayed job as JSON.")
@source_options
def replay(target: str | None, url: str | None, job_id: int, as_json: bool) -> None:
    """Queue a dead, orphaned or cancelled job again: same id, attempts reset.

    A job in any other status exits with code 1.
    """
    with opened(app_from(target, url)) as app:
        job = app.replay(job_id)
    _report(job, "queued again", as_json)


@dlq_group.command("discard")
@click.argument("job_id", metavar="ID", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the discarded job as JSON.")
@source_options
def discard(target: str | None, url: str | None, job_id: int, as_json: bool) -> None:
    """Take a dead or orphaned job out of the dead-letter queue for good (it ends cancelled).

    A job in any other status exits with code 1.
    """
    with opened(app_from(target, url)) as app:
        job = app.discard(job_id)
    _report(job, "discarded", as_json)


@dlq_group.command("resolve")
@click.argument("job_id", metavar="ID", type=int)
@click.argument("effect", metavar="EFFECT")
@click.argument("verdict", metavar="done|not_done", type=click.Choice(["done", "not_done"]))
@click.option(
    "--result", "result_json", metavar="JSON",
    help="With done: what the effect returned, as JSON (default null); a later attempt "
    "gets it instead of calling the effect.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the resolved effect as JSON.")
@source_options
def resolve(target: str | None, url: str | None, job_id: int, effect: str, verdict: str,
            result_json: str | None, as_json: bool) -> None:
    """Record what happened to an uncertain EFFECT of job ID (begun, its end never
    recorded): done (it happened) or not_done (it did not). Then replay the job: a done
    effect returns its result, a not_done one is performed.

    An unknown job or effect exits with code 3; an effect already done with code 1.
    """
    if result_json is not None and verdict != "done":
        raise click.UsageError("--result goes with done: a not_done effect has no result")
    try:
        result = json.loads(result_json) if result_json is not None else None
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON ({exc})", param_hint="--result") from None
    with opened(app_from(target, url)) as app:
        record = app.resolve_effect(job_id, effect, verdict, result)
    if as_json:
        emit_json({"key": record.key, "job_id": record.job_id, "name": record.name,
                   "status": record.status, "result": record.result})
    else:
        click.echo(f"effect {record.name} (key {record.key}) of job {job_id} resolved: "
                   f"{verdict}; replay the job with `jobtrail dlq replay {job_id}`")


def _report(job: JobRecord, done: str, as_json: bool) -> None:
    if as_json:
        emit_json(job_json(job))
    else:
        click.echo(f"job {job.id} ({job.job_name}) {done}: now {job.status.value}")
