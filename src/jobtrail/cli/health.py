"""``jobtrail health``: the health checks of `jobtrail.health`, exit 0 when healthy and 1
when not, for a human or (``--json``) an orchestrator's probe; with ``--watch``, again and
again, their changes sent as alerts (`jobtrail.health_watch`)."""

from __future__ import annotations

import json
import signal
import threading
from typing import Any

import click

from jobtrail.alerting import AlertSink, HealthAlert, WebhookSink, alert_json
from jobtrail.cli import exits
from jobtrail.cli.loading import code_app, load_app, opened
from jobtrail.cli.output import emit_json, when
from jobtrail.cli.times import Duration, span
from jobtrail.errors import ConfigurationError
from jobtrail.health import CHECKS, HealthReport, check
from jobtrail.health_watch import HealthWatch
from jobtrail.store.queues import MAX_WINDOW


@click.command("health")
@code_app()
@click.option("--window", type=Duration(MAX_WINDOW), default="5m", show_default=True,
              help="How far back the dead-letter share looks (90s, 5m, 1h, 2d).")
@click.option("--max-dead-share", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="The share of jobs ended in the window that may go to the dead-letter "
              "queue.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the report as JSON (with --watch: each alert, one per line).")
@click.option("--watch", "every", type=Duration(MAX_WINDOW), default=None,
              help="Check again every so often (30s, 1m) until stopped, and send what "
              "changes as alerts to the app's alert sinks and --webhook.")
@click.option("--repeat", type=Duration(MAX_WINDOW), default="1h", show_default=True,
              help="With --watch: remind of a check still failing this often.")
@click.option("--webhook", "webhooks", multiple=True, metavar="URL",
              help="With --watch: also POST each alert as JSON to URL (retried, with a "
              "timeout). May be given more than once.")
def health(target: str, window: float, max_dead_share: float, as_json: bool,
           every: float | None, repeat: float, webhooks: tuple[str, ...]) -> int:
    """Check the health of MODULE:APP's queues and workers: queues past their
    max_latency or at their max_depth, stalled workers, jobs running past their timeout,
    too many retries or dead letters, failure clusters. Exits 0 when healthy, 1 when not.

    With --watch, runs the checks until stopped (SIGTERM or Ctrl-C) and turns what changes
    into alerts: when a check starts failing, a reminder every --repeat while it keeps
    failing, and when it passes again."""
    if webhooks and every is None:
        raise click.UsageError("--webhook needs --watch (alerts are sent as checks change)")
    with opened(load_app(target)) as app:
        timeouts = {name: job.timeout for name, job in app.registry.items()
                    if job.timeout is not None}

        def run_checks() -> HealthReport:
            return check(app, timeouts, window=window, max_dead_share=max_dead_share)

        if every is not None:
            return _watch(run_checks, every, repeat, app.alert_sinks, webhooks, as_json)
        report = run_checks()
    if as_json:
        emit_json(report.to_json())
    elif report.healthy:
        click.echo(f"healthy at {when(report.at)} UTC ({len(CHECKS)} checks; dead letters "
                   f"over the last {span(window)})")
    else:
        click.echo(f"unhealthy at {when(report.at)} UTC: {len(report.findings)} findings")
        for finding in report.findings:
            click.echo(f"  {finding.check}: {finding.message}")
    return exits.OK if report.healthy else exits.FAILURE


def _watch(run_checks: Any, every: float, repeat: float, sinks: list[AlertSink],
           webhooks: tuple[str, ...], as_json: bool) -> int:
    """Run the checks every *every* seconds in a thread of their own, until a signal:
    a store that does not answer never keeps the command from stopping."""
    try:
        posts = [WebhookSink(url) for url in webhooks]
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), param_hint="--webhook") from None
    watch = HealthWatch([*sinks, *posts], repeat=repeat)
    stop = threading.Event()

    def told(report: HealthReport | None, alerts: list[HealthAlert]) -> None:
        for alert in alerts:
            if as_json:
                click.echo(json.dumps(alert_json(alert)))
            else:
                click.echo(f"{when(alert.at)} UTC {alert}")

    def stopping(signum: int, frame: object) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stopping)
    if not as_json:
        click.echo(f"checking every {span(every)} ({len(CHECKS)} checks); stop with Ctrl-C")
    watcher = threading.Thread(target=watch.run, args=(run_checks, every, stop, told),
                               name="jobtrail-health", daemon=True)
    watcher.start()
    while watcher.is_alive() and not stop.wait(0.2):
        pass
    for sink in watch.sinks:  # the app's webhooks, and --webhook's
        if isinstance(sink, WebhookSink):
            sink.flush(timeout=5.0)
    return exits.OK if stop.is_set() else exits.FAILURE
