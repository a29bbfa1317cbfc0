"""``jobtrail dlq``: the dead-letter queue (``dead`` and ``orphaned`` jobs) and what to do
with each of its jobs: look, run again, or let go."""

from __future__ import annotations

import click

from jobtrail.app import DEAD_LETTER_STATUSES
from jobtrail.cli.loading import app_from, opened, source_options
from jobtrail.cli.output import console, emit_json, event_json, job_json, job_view, jobs_table
from jobtrail.errors import JobNotFound
from jobtrail.job import JobRecord

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
@source_options
def list_dead(target: str | None, url: str | None, limit: int, as_json: bool) -> None:
    """List dead letters, newest first, with the error that ended each."""
    with opened(app_from(target, url)) as app:
        found = app.dead_letters(limit=limit)
    if as_json:
        emit_json([job_json(job) for job in found])
    elif not found:
        click.echo("the dead-letter queue is empty")
    else:
        out = console()
        out.print(jobs_table(found, out.width))


@dlq_group.command("show")
@click.argument("job_id", metavar="ID", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the job and its events as JSON.")
@source_options
def show_dead(target: str | None, url: str | None, job_id: int, as_json: bool) -> None:
    """Show one dead letter with its error, traceback and timeline.

    An ID that is not in the dead-letter queue exits with code 3.
    """
    with opened(app_from(target, url)) as app:
        job = app.get(job_id)
        if job.status not in DEAD_LETTER_STATUSES:
            raise JobNotFound(
                f"job {job_id} is {job.status.value}, not in the dead-letter queue"
            )
        events = app.events(job_id)
    if as_json:
        emit_json({"job": job_json(job), "events": [event_json(event) for event in events]})
    else:
        console().print(job_view(job, events))


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


def _report(job: JobRecord, done: str, as_json: bool) -> None:
    if as_json:
        emit_json(job_json(job))
    else:
        click.echo(f"job {job.id} ({job.job_name}) {done}: now {job.status.value}")
