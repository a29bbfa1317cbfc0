"""What observability costs: the drain with tracing and metrics on, against both off.

    python benchmarks/observability.py [--backend sqlite|postgres|all] [--jobs N] [--repeat K]
                                       [--quick]

The drain of ``core.py`` (2 burst worker processes x 32 threads) under four settings:

- ``off``: jobtrail's defaults — OpenTelemetry not configured (jobtrail does not import
  it), no metrics; each attempt still records its CPU time and peak memory;
- ``tracing``: an OpenTelemetry SDK tracer provider with a batch span processor whose
  exporter drops the spans (making them is measured, not sending them: that is the
  exporter's cost, the same for any library's spans), every trace kept. Each job makes a
  process span and one span per step;
- ``sampled``: the same keeping one trace in ten (``ParentBased(TraceIdRatioBased(0.1))``,
  as production tracing usually samples): a job whose trace is not kept makes no step
  span;
- ``metrics``: ``App(metrics=True)``: Prometheus counters and a histogram per attempt;
- ``both``.

Three jobs: ``bench_noop`` (one span per job when traced), ``bench_steps`` (5 recorded
steps: 6 spans) and ``bench_roundtrip`` (one network round trip, a Redis PING: a job that
waits). The
settings alternate in each of K rounds; medians, and each one's loss against ``off`` as
the median of the rounds' losses.

It also times, per call, what the disabled features cost an attempt — the checks that
find tracing off, and the CPU time and peak memory an attempt records — against the
workers' CPU time per job, the ``disabled`` figure.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_app import OBSERVE_ENV
from corebench.backends import Backend, chosen
from corebench.drain import bench_drain_once
from corebench.rounds import drain_parser, drain_settings, footer, over_backends
from corebench.settings import Settings
from corebench.terminal import console
from rich.table import Table

from jobtrail.observe.tracing import Tracing
from jobtrail.records import Status
from jobtrail.resources import peak_rss
from jobtrail.store.base import ClaimedJob, Enqueued, NewJob, Outcome
from jobtrail.store.rows import outcome_attrs

SETTINGS = ("off", "tracing", "sampled", "metrics", "both")
JOBS = ("bench_noop", "bench_steps", "bench_roundtrip")


def drain(backend: Backend, settings: Settings, setting: str, job: str) -> dict[str, Any]:
    os.environ[OBSERVE_ENV] = "" if setting == "off" else setting  # read by the workers' app
    try:
        return bench_drain_once(backend, settings, job)
    finally:
        os.environ.pop(OBSERVE_ENV, None)


def throughput(backend: Backend, settings: Settings) -> dict[str, Any]:
    runs: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    for k in range(settings.repeat):
        for job in JOBS:
            for setting in SETTINGS:
                drained = drain(backend, settings, setting, job)
                runs.setdefault(f"{job}/{setting}", []).append(drained["jobs_per_s"])
                cpu.setdefault(f"{job}/{setting}", []).append(drained["cpu_us_per_job"])
                console.print(f"  {backend.name} round {k + 1}: {job} {setting} "
                              f"{drained['jobs_per_s']:,.0f} jobs/s, "
                              f"{drained['cpu_us_per_job']:.0f} µs of worker CPU per job")
    return {"runs": runs, "medians": {c: statistics.median(r) for c, r in runs.items()},
            "cpu_us": {c: statistics.median(t) for c, t in cpu.items()}}


def disabled_cost() -> tuple[float, float]:
    """µs per attempt of what is paid with tracing and metrics off: the checks that find
    tracing off at enqueue and attempt (and the metrics' one ``is None``); and, apart,
    what each attempt records of its resources (two thread CPU reads, a getrusage, its
    attributes written)."""
    tracing = Tracing()
    claimed = ClaimedJob(1, "bench", "default", "{}", 1, 3, None, None, None, 1)
    outcome = Outcome(1, 1, Status.SUCCEEDED, claim=1, cpu=1e-4, max_rss=peak_rss())
    metrics = None

    def stored(jobs: list[NewJob]) -> list[Enqueued]:
        return []

    def checks() -> None:
        tracing.send("default", [], stored)
        tracing.start(claimed)
        if metrics is not None:
            raise AssertionError

    def resources() -> None:
        started = time.thread_time()
        time.thread_time() - started
        peak_rss()
        outcome_attrs(outcome)

    calls = 200_000
    check_us, resources_us = (min(timeit.repeat(fn, number=calls, repeat=5)) / calls * 1e6
                              for fn in (checks, resources))
    return check_us, resources_us


def loss(data: dict[str, Any], job: str, setting: str) -> str:
    runs = data["runs"]
    base = runs[f"{job}/off"]
    losses = [1 - rate / b for rate, b in zip(runs[f"{job}/{setting}"], base, strict=True)]
    return f"{statistics.median(losses) * 100:.1f}%"


def render(results: dict[str, dict[str, Any]], settings: Settings,
           disabled_us: tuple[float, float]) -> None:
    table = Table(title="jobtrail observability cost")
    table.add_column("measurement")
    for name in results:
        table.add_column(name, justify="right")

    def row(label: str, pick: Any) -> None:
        table.add_row(label, *(pick(data) for data in results.values()))

    for job in JOBS:
        for setting in SETTINGS:
            key = f"{job}/{setting}"
            row(f"drain {key} (jobs/s, median)", lambda d, k=key: f"{d['medians'][k]:,.0f}")
        for setting in SETTINGS[1:]:
            row(f"{job}: {setting} vs off (throughput loss)",
                lambda d, j=job, s=setting: loss(d, j, s))
        row(f"{job}: worker CPU per job, off / tracing / both (µs)",
            lambda d, j=job: " / ".join(f"{d['cpu_us'][f'{j}/{s}']:.0f}"
                                        for s in ("off", "tracing", "both")))
    for label, cost in zip(("tracing and metrics off: their checks", "resources recorded"),
                           disabled_us, strict=True):
        row(f"{label} (µs per attempt / share of worker CPU per no-op job)",
            lambda d, c=cost: f"{c:.2f} / {c / d['cpu_us']['bench_noop/off'] * 100:.1f}%")
    console.print(table)
    footer(settings)


def main(argv: list[str] | None = None) -> int:
    parser = drain_parser(__doc__)
    args = parser.parse_args(argv)
    settings = drain_settings(args)
    backends = chosen(args.backend, args.pg_url)
    if backends is None:
        return 1
    disabled_us = disabled_cost()
    results = over_backends(backends, lambda backend: throughput(backend, settings))
    render(results, settings, disabled_us)
    return 0


if __name__ == "__main__":
    sys.exit(main())
