"""``jobtrail queues``: each queue's jobs by status, how long its oldest runnable job has
waited, and its recent throughput and wait; once, or refreshed in place with ``--watch``."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from jobtrail.app import App
from jobtrail.cli.database import describe_store_error
from jobtrail.cli.loading import app_from, opened, source_options
from jobtrail.cli.output import console, emit_json, iso, when, wide_option
from jobtrail.cli.tables import Column, shown, table
from jobtrail.cli.times import UNITS, Duration, span
from jobtrail.errors import StoreError, StoreLost
from jobtrail.records import Status
from jobtrail.store.queues import MAX_WINDOW, QueueReport, QueueStats

#: How often ``--watch`` refreshes when given no interval, and the least and most it waits.
WATCH_INTERVAL = 2.0
MIN_INTERVAL = 0.1
MAX_INTERVAL = 86400.0


# -- words -------------------------------------------------------------------------------------
def age(seconds: float | None) -> str:
    """A wait in the fewest words: ``0.042`` → ``42ms``, ``3.21`` → ``3.2s``, ``625`` →
    ``10m25s``, ``7384`` → ``2h03m``, ``200000`` → ``2d07h``; ``-`` for none."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    for unit, smaller in (("d", "h"), ("h", "m"), ("m", "s")):
        if whole >= UNITS[unit]:
            count, rest = divmod(whole, UNITS[unit])
            return f"{count}{unit}{rest // UNITS[smaller]:02d}{smaller}"
    return f"{seconds:.0f}s"  # pragma: no cover - below a minute returned above


# -- shapes ------------------------------------------------------------------------------------
def queue_json(report: QueueReport, stats: QueueStats) -> dict[str, Any]:
    """The JSON shape of one queue: counts, and times in seconds."""
    return {
        "queue": stats.queue,
        "total": stats.total,
        "counts": {status.value: stats.counts[status] for status in Status},
        "ready": stats.ready,
        "scheduled": stats.scheduled,
        "oldest_ready": stats.oldest_ready,
        "finished": stats.finished,
        "throughput_per_minute": report.per_minute(stats),
        "started": stats.started,
        "p95_wait": stats.p95_wait,
    }


def report_json(report: QueueReport) -> dict[str, Any]:
    """The JSON shape of the report: when, over what window (seconds), every queue."""
    return {"at": iso(report.at), "window": report.window,
            "queues": [queue_json(report, stats) for stats in report.queues]}


FLOW_COLUMNS = (
    Column("Queue", "elide"), Column("Ready", justify="right"),
    Column("Scheduled", justify="right"), Column("Running", justify="right"),
    Column("Oldest ready", justify="right"), Column("Done/min", justify="right"),
    Column("p95 wait", justify="right"),
)
#: The columns of the table of statuses, after the queue's.
STATUS_ORDER = (Status.QUEUED, Status.RUNNING, Status.RETRYING, Status.SUCCEEDED, Status.DEAD,
                Status.ORPHANED, Status.CANCELLED)
STATUS_COLUMNS = (
    Column("Queue", "elide"),
    *(Column(status.value.capitalize(), justify="right") for status in STATUS_ORDER),
)


def render(report: QueueReport, width: int) -> RenderableType:
    """The report as two tables in *width* columns: what flows through each queue, then
    its jobs by status."""
    heading = Text(f"Queues at {when(report.at)} UTC; over the last {span(report.window)}",
                   style="bold")
    if not report.queues:
        return Group(heading, Text("no jobs"))
    flow = [(s.queue, f"{s.ready:,}", f"{s.scheduled:,}", f"{s.counts[Status.RUNNING]:,}",
             age(s.oldest_ready), f"{report.per_minute(s):,.1f}", age(s.p95_wait))
            for s in report.queues]
    statuses = [(s.queue, *(f"{s.counts[status]:,}" for status in STATUS_ORDER))
                for s in report.queues]
    return Group(heading, table(FLOW_COLUMNS, flow, width), Text(),
                 table(STATUS_COLUMNS, statuses, width, title="Jobs by status"))


# -- the command ---------------------------------------------------------------------------------
@click.command("queues")
@click.option("--window", type=Duration(MAX_WINDOW), default="5m", show_default=True,
              help="How far back throughput and p95 wait look: 90s, 5m, 1h, 2d.")
@click.option("--watch", "interval",
              type=Duration(MAX_INTERVAL, least=MIN_INTERVAL, unit_optional=True),
              is_flag=False, flag_value=str(WATCH_INTERVAL), default=None, metavar="[SECONDS]",
              help=f"Refresh every SECONDS (default {WATCH_INTERVAL:g}) until Ctrl-C: in "
              "place on a terminal, else one snapshot after another.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON (with --watch, one object per line).")
@wide_option
@source_options
def queues(target: str | None, url: str | None, window: float, interval: float | None,
           as_json: bool, wide: bool) -> None:
    """Each queue: its jobs by status (of those waiting, how many may run now and how many
    wait for their time), how long its oldest runnable job has waited, and over the
    window the jobs finished per minute and the 95th percentile of their wait from
    enqueue (or run_at, or retry) to claim. Times are the database's.
    """
    with opened(app_from(target, url)) as app:
        report = app.store.queue_stats(window)
        if interval is None:
            if as_json:
                emit_json(report_json(report))
            elif not report.queues:
                click.echo("no jobs")
            else:
                out = console(wide)
                out.print(render(report, out.width))
            return
        reader = _Reader(app, window)
        try:
            _watch(reader, report, interval, as_json, console(wide))
        except KeyboardInterrupt:
            return
        finally:
            reader.close()


class _Reader:
    """Reads the report for a watch from *app*; once its SQLite file is lost (deleted or
    replaced, as a demo run recreates it), from the file found at its path next time."""

    def __init__(self, app: App, window: float) -> None:
        self.app, self.window, self.lost = app, window, False
        self._opened: list[App] = []

    def read(self) -> QueueReport:
        if self.lost:
            self.app = app_from(None, self.app.url)
            self._opened.append(self.app)
            self.lost = False
        try:
            return self.app.store.queue_stats(self.window)
        except StoreLost:
            self.lost = True
            raise

    def failure(self, exc: StoreError) -> Text:
        """Why a refresh shows no report, in one line."""
        return shown(f"{when(datetime.now(UTC))} UTC: cannot read the queues "
                     f"({describe_store_error(exc, self.app.url)}); trying again",
                     style="bold red")

    def close(self) -> None:
        """Close the apps opened since the watch began (the command closes its own)."""
        for app in self._opened:
            app.close()


def _watch(reader: _Reader, report: QueueReport, interval: float, as_json: bool,
           out: Console) -> None:
    """Show *report*, then a new one every *interval* seconds until interrupted: in place
    on a terminal, else one after another. A refresh that fails says why (on standard
    error for JSON, whose lines stay one object each), and the next one tries again."""
    if not as_json and out.is_terminal:
        last = render(report, out.width)
        with Live(last, console=out, auto_refresh=False) as live:
            while True:
                time.sleep(interval)
                try:
                    last = render(reader.read(), out.width)
                    live.update(last, refresh=True)
                except StoreError as exc:  # the last report stays, under why it is not new
                    live.update(Group(last, reader.failure(exc)), refresh=True)
    while True:
        if as_json:
            click.echo(json.dumps(report_json(report), ensure_ascii=False))
        else:
            out.print(render(report, out.width))
            out.print()
        sys.stdout.flush()
        while True:
            time.sleep(interval)
            try:
                report = reader.read()
                break
            except StoreError as exc:
                if as_json:
                    click.echo(f"error: {reader.failure(exc).plain}", err=True)
                else:
                    out.print(reader.failure(exc))
