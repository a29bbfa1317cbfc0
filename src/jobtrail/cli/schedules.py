"""``jobtrail schedules``: the periodic jobs of an app, when each fires next, and the last
tick the store recorded as fired."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import click

from jobtrail.cli.loading import code_app, load_app, opened
from jobtrail.cli.output import console, emit_json, iso, when, wide_option
from jobtrail.cli.queues import age
from jobtrail.cli.tables import Column, table
from jobtrail.scheduler import Periodic, periodic_jobs
from jobtrail.store.base import FiredTick

COLUMNS = (
    Column("job", "elide"),
    Column("schedule", "elide"),
    Column("catch-up", justify="right", optional=True),
    Column("next fire (UTC)"),
    Column("in", justify="right"),
    Column("last tick fired (UTC)", optional=True),
    Column("job id", justify="right", optional=True),
)


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def schedule_json(periodic: Periodic, upcoming: float, fired: FiredTick | None
                  ) -> dict[str, Any]:
    """The JSON shape of one periodic job."""
    job, schedule = periodic
    return {
        "job": job.name,
        "queue": job.queue,
        "cron": schedule.cron,
        "every": schedule.every,
        "tz": str(schedule.tz),
        "catch_up": schedule.catch_up,
        "schedule": schedule.text,
        "next_fire": iso(_moment(upcoming)),
        "last_tick": None if fired is None else iso(_moment(fired.last_tick)),
        "last_job_id": None if fired is None else fired.job_id,
        "last_fired_at": None if fired is None else iso(fired.fired_at),
    }


@click.command("schedules")
@code_app()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per job.")
@wide_option
def schedules(target: str, as_json: bool, wide: bool) -> None:
    """List the periodic jobs of MODULE:APP (cron=, every=): their schedule, when each
    fires next, and the last tick fired with the job it enqueued.

    Workers fire the ticks (each once, however many run; see `jobtrail worker
    --no-scheduler`); this command only reads.
    """
    with opened(load_app(target)) as app:
        jobs = periodic_jobs(app)
        fired = app.store.schedules() if jobs else {}
    now = time.time()
    upcoming = {job.name: schedule.next_after(now) for job, schedule in jobs}
    if as_json:
        emit_json([schedule_json(periodic, upcoming[periodic.job.name],
                                 fired.get(periodic.job.name)) for periodic in jobs])
        return
    if not jobs:
        click.echo(f"{target} declares no periodic jobs (give @app.job cron= or every=)")
        return
    out = console(wide)
    rows = []
    for job, schedule in jobs:
        last = fired.get(job.name)
        rows.append((
            job.name, schedule.text, str(schedule.catch_up) if schedule.catch_up else "-",
            when(_moment(upcoming[job.name])), age(upcoming[job.name] - now),
            "-" if last is None else when(_moment(last.last_tick)),
            "-" if last is None or last.job_id is None else str(last.job_id),
        ))
    out.print(table(COLUMNS, rows, out.width))
