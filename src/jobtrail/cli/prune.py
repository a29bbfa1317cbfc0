"""``jobtrail prune``: remove the history of jobs finished longer ago than the app keeps it
(`jobtrail.retention`), recording each batch in the audit trail."""

from __future__ import annotations

import json
import sys

import click

from jobtrail.cli.loading import app_from, opened, source_options
from jobtrail.cli.times import Duration, span
from jobtrail.errors import ConfigurationError
from jobtrail.retention import Pruned, prune

#: The longest --older-than: a hundred years.
MOST = 100 * 365 * 86_400.0


@click.command("prune")
@source_options
@click.option("--older-than", "older_than", type=Duration(MOST), metavar="DURATION",
              help="Remove jobs finished longer ago than this (90d, 12w...); default: the "
                   "app's history_retention.")
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
def prune_command(target: str | None, url: str | None, older_than: float | None,
                  as_json: bool) -> None:
    """Remove jobs that succeeded or were cancelled longer ago than the retention, with
    their events, paths, effects and divergences, in batches; each batch is recorded in
    the audit trail. Dead letters stay until they are replayed or discarded."""
    with opened(app_from(target, url)) as app:
        seconds = older_than if older_than is not None else app.history_retention
        if seconds is None:
            raise ConfigurationError("prune: give --older-than DURATION, or set "
                                     "App(history_retention=...)")
        done = prune(app.store, seconds, progress=None if as_json else _progress)
    if as_json:
        click.echo(json.dumps({"jobs": done.jobs, "events": done.events,
                               "batches": done.batches, "older_than": seconds}))
        return
    if sys.stderr.isatty() and done.batches:
        click.echo("", err=True)
    click.echo(f"removed {done.jobs:,} jobs and {done.events:,} events finished more than "
               f"{span(seconds)} ago ({done.batches:,} batches, each recorded in the audit "
               "trail)")


def _progress(done: Pruned) -> None:
    if sys.stderr.isatty():
        click.echo(f"\rremoved {done.jobs:,} jobs, {done.events:,} events…", err=True,
                   nl=False)
