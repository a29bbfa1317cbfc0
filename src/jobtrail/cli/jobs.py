"""``jobtrail jobs``: list jobs with filters, a page at a time, or show one with its error
and timeline."""

from __future__ import annotations

import click

from jobtrail.cli.loading import app_from, opened, source_options
from jobtrail.cli.output import (
    console,
    effect_json,
    emit_json,
    event_json,
    job_json,
    job_view,
    wide_option,
)
from jobtrail.cli.pages import before_option, fetch_limit, page_json, page_of, print_page
from jobtrail.records import Status

STATUS_CHOICE = click.Choice([status.value for status in Status])


@click.group("jobs")
def jobs_group() -> None:
    """Inspect stored jobs."""


@jobs_group.command("list")
@click.option(
    "--status", "-s", "statuses", multiple=True, type=STATUS_CHOICE,
    help="Only jobs with this status (repeat for several).",
)
@click.option("--queue", "-q", metavar="QUEUE", help="Only jobs of this queue.")
@click.option("--job", "job_name", metavar="NAME", help="Only jobs of this job type.")
@click.option(
    "--limit", "-n", type=click.IntRange(min=1), default=50, show_default=True,
    help="Show at most this many jobs, newest first.",
)
@before_option
@click.option("--json", "as_json", is_flag=True,
              help='Print {"jobs": [...], "total": N, "next_before": ID or null}.')
@wide_option
@source_options
def list_jobs(
    target: str | None,
    url: str | None,
    statuses: tuple[str, ...],
    queue: str | None,
    job_name: str | None,
    limit: int,
    before: int | None,
    as_json: bool,
    wide: bool,
) -> None:
    """List jobs, newest first, narrowed by status, queue and job type, a page at a time:
    it says how many of how many match, and ends with the command for the next page."""
    with opened(app_from(target, url)) as app:
        found = app.jobs(status=statuses or None, queue=queue, job_name=job_name,
                         limit=fetch_limit(limit), before_id=before)
        total = app.count_jobs(status=statuses or None, queue=queue, job_name=job_name)
    page = page_of(found, limit, total)
    if as_json:
        emit_json(page_json(page))
    else:
        print_page(page, "jobs", "no jobs match", wide)


@jobs_group.command("show")
@click.argument("job_id", metavar="ID", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the job and its events as JSON.")
@wide_option
@source_options
def show_job(target: str | None, url: str | None, job_id: int, as_json: bool,
             wide: bool) -> None:
    """Show one job: every field, its error and traceback, and the timeline of its path.

    An unknown ID exits with code 3.
    """
    with opened(app_from(target, url)) as app:
        job = app.get(job_id)
        effects = app.effects(job_id)
    if as_json:
        emit_json({"job": job_json(job), "events": [event_json(event) for event in job.path],
                   "effects": [effect_json(effect) for effect in effects]})
    else:
        out = console(wide)
        out.print(job_view(job, job.path, effects, out.width))
