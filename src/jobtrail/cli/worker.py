"""``jobtrail worker``: run the jobs of an app."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import click

from jobtrail.cli import exits
from jobtrail.cli.loading import code_app, load_app
from jobtrail.cli.metrics import worker_metrics
from jobtrail.metrics import multiprocess
from jobtrail.observe.logs import LOG_FORMATS, TEXT_FORMAT, configure_logging, formatter_for
from jobtrail.text import name_error
from jobtrail.worker import DEFAULT_CONCURRENCY

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMAT = TEXT_FORMAT


def parse_queues(text: str | None) -> list[str] | None:
    """``"a, b"`` → ``["a", "b"]``; nothing (or only commas) means every queue. A name
    no job could be stored under is a usage error (see `jobtrail.text.name_problem`)."""
    if text is None:
        return None
    queues = [name.strip() for name in text.split(",") if name.strip()]
    for queue in queues:
        problem = name_error("queue", queue)
        if problem:
            raise click.BadParameter(problem, param_hint="--queues")
    return queues or None


def exit_code(result: Any) -> int:
    """The exit code of a stopped worker: 0, unless a supervised process exited badly
    (`exits.STORE_UNAVAILABLE` when one stopped because its store could not be used)."""
    if isinstance(result, Mapping):
        codes = list(result.values())
    elif isinstance(result, list | tuple):
        codes = list(result)
    else:
        return exits.OK
    if exits.STORE_UNAVAILABLE in codes:
        return exits.STORE_UNAVAILABLE
    failed = any(isinstance(code, int) and code != 0 for code in codes)
    return exits.FAILURE if failed else exits.OK


@click.command("worker")
@code_app()
@click.option(
    "--queues", "-q", metavar="A,B",
    help="Take jobs only from these comma-separated queues (default: every queue).",
)
@click.option(
    "--concurrency", "-c", type=click.IntRange(min=1), default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="Jobs run at once by each process.",
)
@click.option(
    "--processes", "-p", type=click.IntRange(min=1), default=1, show_default=True,
    help="Worker processes to fork and supervise.",
)
@click.option(
    "--burst", is_flag=True,
    help="Stop once no job is runnable now (retries still in their backoff stay queued).",
)
@click.option(
    "--grace", type=click.FloatRange(min=0), metavar="SECONDS",
    help="On stop, wait this long for running jobs before releasing them "
    "(default: the app's grace).",
)
@click.option(
    "--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), default="info",
    show_default=True, help="Log messages from this level up, on standard error.",
)
@click.option(
    "--log-format", type=click.Choice(LOG_FORMATS, case_sensitive=False),
    help="Log lines as text or as one JSON object each (default: the app's log_format, "
    "text unless it says otherwise).",
)
@click.option(
    "--scheduler/--no-scheduler", default=True, show_default=True,
    help="Also enqueue the ticks of periodic jobs (cron=, every=); each tick fires once "
    "however many workers schedule.",
)
@click.option("--metrics-port", type=click.IntRange(1, 65535), metavar="PORT",
              help="Serve /metrics (Prometheus) and /healthz on this port, beside the worker "
              "processes (docs/metrics.md).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, metavar="HOST",
              help="The address of --metrics-port (0.0.0.0: every interface).")
@click.option("--metrics-dir", type=click.Path(file_okay=False), envvar=multiprocess.ENV,
              help=f"Count every attempt in Prometheus metrics written here, for a "
              f"'jobtrail metrics serve' to add up [env: {multiprocess.ENV}].")
@click.pass_context
def worker(
    ctx: click.Context,
    target: str,
    queues: str | None,
    concurrency: int,
    processes: int,
    burst: bool,
    grace: float | None,
    log_level: str,
    log_format: str | None,
    scheduler: bool,
    metrics_port: int | None,
    metrics_host: str,
    metrics_dir: str | None,
) -> None:
    """Run the jobs of MODULE:APP until stopped.

    MODULE:APP is e.g. tasks:app, with tasks.py in the current directory.

    Ctrl-C or SIGTERM stops it gracefully: no new job is claimed and running jobs get
    the grace period to finish; a second signal stops at once. Exits 0 on a clean stop,
    1 when a supervised worker process (--processes) exited with an error.

    Each finished attempt logs one line: the job, its attempt and status, how long it
    ran, its error (redacted) and when it runs again (see docs/logging.md).
    """
    # Set up before the app is imported, so that what the import logs is seen, and a
    # module that sets up logging of its own keeps it; `main` keeps library loggers quiet
    # for one-shot commands, a worker logs.
    chosen = log_format.lower() if log_format else None
    handler = configure_logging(log_level, chosen or "text", sys.stderr)
    with worker_metrics(metrics_dir, metrics_host, metrics_port) as metrics:
        app = load_app(target)  # (once the metrics know their directory: see cli.metrics)
        if chosen is None and app.log_format != "text":
            handler.setFormatter(formatter_for(app.log_format))
        try:
            metrics.start(app, target)
            result = app.work(
                queues=parse_queues(queues), concurrency=concurrency, processes=processes,
                burst=burst, grace=grace, scheduler=scheduler, supervise=True,
            )
        finally:
            app.close()
    ctx.exit(exit_code(result))
