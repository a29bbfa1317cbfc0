"""``jobtrail breakers``: each circuit breaker of an app and its state in the store;
``--force NAME=open|closed`` sets one by hand."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import click

from jobtrail.breakers import Breaker
from jobtrail.cli.loading import code_app, load_app, opened
from jobtrail.cli.output import console, emit_json, iso, when, wide_option
from jobtrail.cli.tables import Column, table
from jobtrail.store.breakers import BreakerRecord

COLUMNS = (
    Column("breaker", "elide"),
    Column("state"),
    Column("failures (window)", justify="right"),
    Column("policy", optional=True),
    Column("changed (UTC)", optional=True),
    Column("probe after", justify="right", optional=True),
)


def _moment(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def breaker_json(breaker: Breaker, record: BreakerRecord, now: float) -> dict[str, Any]:
    """The JSON shape of one breaker: its policy and its state."""
    recent = [t for t in record.failures if t > now - breaker.window]
    return {
        "name": breaker.name, "state": record.state, "failures": breaker.failures,
        "window": breaker.window, "reset_after": breaker.reset_after,
        "recent_failures": len(recent), "opened_at": iso(_moment(record.opened_at)),
        "reopens_at": iso(_moment(record.reopens_at(breaker.settings()))),
        "changed_at": iso(_moment(record.changed_at)),
    }


@click.command("breakers")
@code_app()
@click.option("--force", "forced", metavar="NAME=open|closed", multiple=True,
              help="Set a breaker's state by hand first (repeatable): open makes the jobs "
              "that need it wait; closed lets them run again.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object each.")
@wide_option
def breakers(target: str, forced: tuple[str, ...], as_json: bool, wide: bool) -> None:
    """Each circuit breaker MODULE:APP declares: its state in the store (closed, open,
    half-open), its failures within its window, and when an open one lets a probe through.
    With --force, set states first."""
    with opened(load_app(target)) as app:
        registry = app.breaker_registry
        for item in forced:
            name, _, state = item.partition("=")
            if state not in ("open", "closed"):
                raise click.BadParameter(f"{item!r}: write NAME=open or NAME=closed",
                                         param_hint="--force")
            registry.check("--force", name)
            registry.force(name, "open" if state == "open" else "closed")
        declared = registry.declared
        records = registry.records() if declared else {}
    now = time.time()
    if as_json:
        emit_json([breaker_json(declared[n], records[n], now) for n in sorted(declared)])
        return
    if not declared:
        click.echo(f"{target} declares no circuit breakers (app.breaker(name, ...))")
        return
    rows = []
    for name in sorted(declared):
        shape = breaker_json(declared[name], records[name], now)
        reopens = records[name].reopens_at(declared[name].settings())
        rows.append((
            name, shape["state"].replace("_", "-"),
            f"{shape['recent_failures']} of {shape['failures']} ({shape['window']:g}s)",
            f"opens after {shape['failures']} in {shape['window']:g}s, "
            f"probes after {shape['reset_after']:g}s",
            when(_moment(records[name].changed_at)),
            "-" if reopens is None else f"{max(0.0, reopens - now):.1f}s",
        ))
    out = console(wide)
    out.print(table(COLUMNS, rows, out.width))
