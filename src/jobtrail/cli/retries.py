"""``jobtrail retries``: per job type, attempts per success, the errors that cause
retries, how often retried jobs succeed, and the time lost to backoff."""

from __future__ import annotations

import time

import click

from jobtrail.cli.loading import app_from, opened, source_options
from jobtrail.cli.output import console, emit_json, wide_option
from jobtrail.cli.tables import Column, table
from jobtrail.cli.times import Duration, span
from jobtrail.retries import analyse
from jobtrail.store.queues import MAX_WINDOW

COLUMNS = (
    Column("job", "elide"),
    Column("succeeded", justify="right"),
    Column("dead", justify="right"),
    Column("attempts/success", justify="right"),
    Column("retries", justify="right"),
    Column("retried → succeeded", justify="right"),
    Column("backoff", justify="right", optional=True),
    Column("errors causing retries", "elide", optional=True),
)


def _ratio(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:.0%}" if percent else f"{value:.2f}"


@click.command("retries")
@source_options
@click.option("--window", type=Duration(MAX_WINDOW), default="1h", show_default=True,
              help="How far back to look: 90s, 5m, 1h, 2d.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per job.")
@wide_option
def retries(target: str | None, url: str | None, window: float, as_json: bool,
            wide: bool) -> None:
    """Retries over the last --window, per job type: attempts per success, the error
    classes that caused retries, the share of retried jobs that ended in success rather
    than dead, and the seconds of backoff scheduled."""
    with opened(app_from(target, url)) as app:
        outcomes, scheduled = app.store.retry_stats(time.time() - window)
    found = analyse(outcomes, scheduled)
    if as_json:
        emit_json([stats.to_json() for stats in found])
        return
    if not found:
        click.echo(f"no job ended and no retry was scheduled in the last {span(window)}")
        return
    out = console(wide)
    rows = [(s.job_name, f"{s.succeeded:,}", f"{s.dead:,}", _ratio(s.attempts_per_success),
             f"{s.retries:,}", _ratio(s.retried_success_rate, percent=True),
             f"{s.backoff:.1f}s",
             ", ".join(f"{name} ({count})" for name, count in s.errors.most_common(3)) or "-")
            for s in found]
    out.print(table(COLUMNS, rows, out.width))
