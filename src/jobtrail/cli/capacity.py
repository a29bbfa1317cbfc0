"""``jobtrail capacity``: per queue, the worker slots a latency target needs, today and with
its traffic doubled, from the arrival rate and service time measured over a window (see
`jobtrail.capacity` for the M/M/c model and its assumptions)."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import click

from jobtrail.app import App
from jobtrail.capacity import GROWTH, Forecast, QueueLoad, slots_serving
from jobtrail.cli.loading import app_from, opened, source_options
from jobtrail.cli.output import console, emit_json, wide_option
from jobtrail.cli.tables import Column, table
from jobtrail.cli.times import Duration, span
from jobtrail.store.queues import MAX_WINDOW

#: The target wait of a queue declared without ``max_latency``, when --target is not given.
DEFAULT_TARGET = 1.0
#: A worker silent for longer than this many leases is not counted (health's stall rule).
STALLED_LEASES = 3
UNSTABLE = "unstable"
#: Under the table when a wait is unstable.
UNSTABLE_NOTE = (
    "unstable (\N{GREEK SMALL LETTER RHO} ≥ 1): more work arrives than the slots can "
    "serve, the wait grows without bound"
)
ASSUMPTIONS = (
    "Model: M/M/c (Erlang C): Poisson arrivals, exponential service times (cv 1), c identical "
    "slots (worker concurrency, shared slots counted for each queue they serve), FIFO; "
    "retries, priorities and rate limits are not modelled."
)


def _columns(percentile: float) -> tuple[Column, ...]:
    """The table's columns: those an 80-column terminal cannot hold are optional."""
    wait = f"p{percentile:g}"
    return (
        Column("queue", "elide"),
        Column("jobs/s", justify="right"),
        Column("service", justify="right"),
        Column("cv", justify="right", optional=True),
        Column("slots", justify="right"),
        Column("util", justify="right"),
        Column(f"{wait} wait", justify="right"),
        Column("mean wait seen", justify="right", optional=True),
        Column("target", justify="right", optional=True),
        Column("needed", justify="right"),
        Column(f"needed x{GROWTH:g}", justify="right"),
        Column(f"{wait} x{GROWTH:g}", justify="right"),
    )


def seconds(value: float | None) -> str:
    """A wait or a service time, in the unit that reads best ("-" for none)."""
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.3g}ms"
    for unit, size in (("h", 3600), ("m", 60)):
        if value >= size * 2:
            return f"{value / size:.1f}{unit}"
    return f"{value:.2f}s"


def _rate(value: float) -> str:
    """Arrivals a second: two decimals from 1 up, three significant digits below."""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if value >= 1 else f"{value:.3g}"


def _share(value: float | None) -> str:
    if value is None:
        return "-"
    return "∞" if math.isinf(value) else f"{value:.0%}"


def _count(value: int | None, forecast: Forecast) -> str:
    if value is None:
        return "-" if not forecast.estimable else "too many"
    return f"{value:,}"


def _wait(forecast: Forecast, growth: float) -> str:
    if not forecast.estimable:
        return "-"
    wait = forecast.wait(growth)
    if wait is None:
        return "no slot" if forecast.slots == 0 else UNSTABLE
    return seconds(wait)


def _row(forecast: Forecast) -> tuple[str, ...]:
    load = forecast.load
    cv = load.service_cv
    return (
        load.queue, _rate(load.arrival_rate), seconds(load.service_time),
        "-" if cv is None else f"{cv:.2f}", f"{forecast.slots:,}",
        _share(forecast.utilisation()), _wait(forecast, 1.0), seconds(load.observed_wait),
        seconds(forecast.target), _count(forecast.needed(), forecast),
        _count(forecast.needed(GROWTH), forecast), _wait(forecast, GROWTH),
    )


def _slots(app: App) -> list[tuple[tuple[str, ...] | None, int]]:
    """(queues served, concurrency) of every worker heard from within a few leases."""
    now = datetime.now(UTC)
    return [(worker.queues, worker.concurrency) for worker in app.store.workers()
            if (now - worker.last_seen).total_seconds() <= STALLED_LEASES * app.lease]


@click.command("capacity")
@source_options
@click.option("--window", type=Duration(MAX_WINDOW), default="1h", show_default=True,
              help="The history to measure: 90s, 5m, 1h, 2d.")
@click.option("--target", "goal", type=Duration(MAX_WINDOW, unit_optional=True), default=None,
              help="The wait to keep within: 0.5s, 2s, 1m [default: each queue's "
              "max_latency when --app declares one, else 1s].")
@click.option("--percentile", type=click.FloatRange(0, 100, min_open=True, max_open=True),
              default=95.0, show_default=True,
              help="Which jobs' wait the target is for: 95 keeps 95% of the waits within it.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per queue.")
@wide_option
def capacity(target: str | None, url: str | None, window: float, goal: float | None,
             percentile: float, as_json: bool, wide: bool) -> None:
    """Per queue, the worker slots a latency target needs, from the arrival rate (jobs
    created) and service time (attempts' durations) over the last --window: today's slots
    and utilisation, the wait they give, the slots the target needs, and what happens if
    the traffic doubles.

    The model is M/M/c (Erlang C): Poisson arrivals, exponential service times, c
    identical slots (worker concurrency, not processes), FIFO; retries, priorities and
    rate limits are not modelled. The service times' coefficient of variation (cv) is
    shown: far from 1, the predicted waits are rough.
    """
    with opened(app_from(target, url)) as app:
        measured = app.store.capacity_stats(time.time() - window)
        workers = _slots(app)
        policies = dict(app.queues)
    loads = [QueueLoad.from_row(row, window) for row in measured]
    loads = [load for load in loads if load.arrivals or load.attempts or load.claims]
    found = []
    for load in loads:
        policy = policies.get(load.queue)
        declared = policy.max_latency if policy is not None else None
        limit = policy.concurrency_limit if policy is not None else None
        found.append(Forecast(load, slots_serving(load.queue, workers, limit),
                              goal or declared or DEFAULT_TARGET, percentile))
    if as_json:
        emit_json([forecast.to_json() for forecast in found])
        return
    if not found:
        click.echo(f"no job arrived and no attempt ended in the last {span(window)}")
        return
    out = console(wide)
    title = (f"over the last {span(window)}: slots for a p{percentile:g} wait within the "
             f"target, today and with traffic x{GROWTH:g}")
    rows = [_row(forecast) for forecast in found]
    out.print(table(_columns(percentile), rows, out.width, title=title))
    notes = [UNSTABLE_NOTE] if any(UNSTABLE in row for row in rows) else []
    for forecast in found:
        if not forecast.estimable:
            arrived = forecast.load.arrivals
            jobs = f"{arrived:,} job{'' if arrived == 1 else 's'}"
            notes.append(f"queue {forecast.load.queue!r}: {jobs} arrived but no attempt ended "
                         f"in the last {span(window)}, so its service time cannot be estimated "
                         "(try a longer --window)")
    if not workers:
        notes.append("no live worker: no slot serves any queue today ('needed' says how many "
                     "it takes)")
    for note in [*notes, ASSUMPTIONS]:
        out.print(note, markup=False, highlight=False)
