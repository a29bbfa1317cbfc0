"""``jobtrail health``: the health checks of `jobtrail.health`, exit 0 when healthy and 1
when not, for a human or (``--json``) an orchestrator's probe."""

from __future__ import annotations

import click

from jobtrail.cli import exits
from jobtrail.cli.loading import code_app, load_app, opened
from jobtrail.cli.output import emit_json, when
from jobtrail.cli.times import Duration, span
from jobtrail.health import CHECKS, check
from jobtrail.store.queues import MAX_WINDOW


@click.command("health")
@code_app()
@click.option("--window", type=Duration(MAX_WINDOW), default="5m", show_default=True,
              help="How far back the dead-letter share looks (90s, 5m, 1h, 2d).")
@click.option("--max-dead-share", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="The share of jobs ended in the window that may go to the dead-letter "
              "queue.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def health(target: str, window: float, max_dead_share: float, as_json: bool) -> int:
    """Check the health of MODULE:APP's queues and workers: queues past their
    max_latency or at their max_depth, stalled workers, jobs running past their timeout,
    too many dead letters. Exits 0 when healthy, 1 when not."""
    with opened(load_app(target)) as app:
        timeouts = {name: job.timeout for name, job in app.registry.items()
                    if job.timeout is not None}
        report = check(app, timeouts, window=window, max_dead_share=max_dead_share)
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
