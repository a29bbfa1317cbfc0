"""``jobtrail resources``: per job type, what its attempts used over a window — wall time,
CPU time and the highest peak memory — and what each live worker process uses."""

from __future__ import annotations

import time

import click

from jobtrail.cli.loading import app_from, opened, source_options
from jobtrail.cli.output import console, emit_json, mebibytes, wide_option
from jobtrail.cli.tables import Column, table
from jobtrail.cli.times import Duration, span
from jobtrail.resources import usage_by_job
from jobtrail.store.queues import MAX_WINDOW

#: Attempts read at most (the newest of the window).
MAX_ATTEMPTS = 200_000

COLUMNS = (
    Column("job", "elide"),
    Column("attempts", justify="right"),
    Column("wall p50", justify="right"),
    Column("wall p95", justify="right"),
    Column("wall max", justify="right", optional=True),
    Column("cpu mean", justify="right"),
    Column("cpu max", justify="right", optional=True),
    Column("peak memory", justify="right"),
)
WORKER_COLUMNS = (
    Column("worker", "elide"), Column("host", "elide", optional=True),
    Column("pid", justify="right", optional=True), Column("cpu", justify="right"),
    Column("peak memory", justify="right"), Column("last heartbeat", justify="right"),
)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:,.1f} ms"


@click.command("resources")
@source_options
@click.option("--window", type=Duration(MAX_WINDOW), default="1h", show_default=True,
              help="How far back to look: 90s, 5m, 1h, 2d.")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON object: {\"jobs\": [...], \"workers\": [...]}.")
@wide_option
def resources(target: str | None, url: str | None, window: float, as_json: bool,
              wide: bool) -> None:
    """What attempts used over the last --window, per job type: wall time (p50, p95,
    max), CPU time of sync jobs (mean, max; an async job shares its thread, so it has
    none) and the highest peak memory of the worker process as its attempts ended; then
    each worker's process CPU time and peak memory as of its last heartbeat."""
    with opened(app_from(target, url)) as app:
        found = usage_by_job(app.store.attempt_usage(time.time() - window, MAX_ATTEMPTS))
        workers = app.store.workers()
    if as_json:
        emit_json({"jobs": [usage.to_json() for usage in found], "workers": [
            {"id": w.id, "hostname": w.hostname, "pid": w.pid, "cpu_seconds": w.cpu_seconds,
             "max_rss": w.max_rss, "last_seen": w.last_seen.isoformat()} for w in workers]})
        return
    out = console(wide)
    if not found:
        click.echo(f"no attempt ended in the last {span(window)}")
    else:
        rows = []
        for usage in found:
            data = usage.to_json()
            rows.append((usage.job_name, f"{usage.attempts:,}", _ms(data["wall_p50"]),
                         _ms(data["wall_p95"]), _ms(data["wall_max"]), _ms(data["cpu_mean"]),
                         _ms(data["cpu_max"]),
                         "-" if usage.max_rss is None else mebibytes(usage.max_rss)))
        out.print(table(COLUMNS, rows, out.width))
    if workers:
        now = time.time()
        out.print(table(WORKER_COLUMNS, [
            (w.id, w.hostname, str(w.pid),
             "-" if w.cpu_seconds is None else f"{w.cpu_seconds:,.1f} s",
             "-" if w.max_rss is None else mebibytes(w.max_rss),
             f"{span(max(0.0, now - w.last_seen.timestamp()))} ago") for w in workers],
            out.width, title="\nWorkers"))
