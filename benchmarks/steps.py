"""What recording costs: step checkpoints and effects, per call and in whole-job throughput.

    python benchmarks/steps.py [--backend sqlite|postgres|all] [--jobs N] [--repeat K] [--quick]

Per call (in one process, inside a running job):

- ``ctx.step``, batched: the checkpoint is buffered and written with the attempt's outcome
  (how jobtrail records steps);
- a step checkpoint written unbatched: one ``checkpoint`` transaction per step (what a
  write-per-step design would cost);
- ``ctx.effect``: two durable writes (intent before the call, result after) — effects are
  never batched, because the intent must be on disk before the side effect happens.

- ``ctx.event`` and ``ctx.decide``: a milestone and a decision, buffered like steps;
- the run summary made as a run ends: its path variant and the conformance check of a
  5-step, 1-decision path against an expectation (what every finished run pays).

Throughput: the drain of N jobs by 2 worker processes (as in ``core.py``) for a no-op job
(which still records its lifecycle), the same job with 5 recorded steps, with 5 steps and
a decision checked against ``expect=``, and with one keyed effect, alternating them K times
so machine noise hits all alike; medians, and the loss against the no-op as the median of
each round's loss (the jobs of one round ran back to back, on much the same machine).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_app import STEP_NAMES
from corebench.backends import Backend, chosen
from corebench.drain import bench_drain_once
from corebench.queue import fresh_app
from corebench.rounds import drain_parser, drain_settings, footer, over_backends
from corebench.settings import Settings
from corebench.terminal import console
from rich.table import Table

from jobtrail import App, Context
from jobtrail.expect import parse
from jobtrail.paths.runs import Summarizer
from jobtrail.paths.timings import StepTimings
from jobtrail.store.base import PathEvent, PathSegment
from jobtrail.testing import run_until_idle

CALLS = 5_000
JOBS = ("bench_noop", "bench_steps", "bench_expected", "bench_effect")


def per_call(backend: Backend, calls: int) -> dict[str, float]:
    """µs per batched step, unbatched step checkpoint, and effect, inside a real job."""
    app = fresh_app(backend)
    timings: dict[str, float] = {}
    try:
        @app.job(name="bench_calls")
        def bench_calls(ctx: Context) -> None:
            start = time.perf_counter()
            for n in range(calls):
                ctx.step(f"s{n}", int, n)
            timings["step_batched_us"] = (time.perf_counter() - start) / calls * 1e6
            store = app.store
            worker = store.get(ctx.job_id).worker_id or ""
            start = time.perf_counter()
            for n in range(calls // 10):
                entry = PathEvent("step", f"u{n}", time.time(), 0.0, None, str(n))
                store.checkpoint(worker, [PathSegment(ctx.job_id, ctx.attempt, [entry], ctx.claim)])
            timings["step_unbatched_us"] = (time.perf_counter() - start) / (calls // 10) * 1e6
            start = time.perf_counter()
            for n in range(calls // 10):
                ctx.effect(f"e{n}", int, n, key=f"bench-{ctx.job_id}-{n}")
            timings["effect_us"] = (time.perf_counter() - start) / (calls // 10) * 1e6
            start = time.perf_counter()
            for n in range(calls):
                ctx.event("milestone", n=n)
            timings["event_us"] = (time.perf_counter() - start) / calls * 1e6
            start = time.perf_counter()
            for n in range(calls):
                ctx.decide(f"d{n}", n % 2 == 0)
            timings["decide_us"] = (time.perf_counter() - start) / calls * 1e6
            timings["summary_us"] = summary_cost(app, calls)

        bench_calls.enqueue()
        run_until_idle(app)
    finally:
        app.close()
    return timings


def summary_cost(app: App, calls: int) -> float:
    """µs to summarise a finished run of 5 steps and a decision: its variant and the
    conformance check against an expected path."""
    expectation = parse(" ".join(STEP_NAMES) + " decide:even")
    ctx = Context(app.store, job_id=1, job_name="bench_summary", queue="default", attempt=1,
                  max_attempts=1)
    for name in STEP_NAMES:
        ctx.step(name, int, 1)
    ctx.decide("even", True)
    summarizer = Summarizer(StepTimings(), None)
    start = time.perf_counter()
    for _ in range(calls):
        summary = summarizer.summarize(ctx, completed=True, expectation=expectation)
    assert not summary.findings
    return (time.perf_counter() - start) / calls * 1e6


def throughput(backend: Backend, settings: Settings) -> dict[str, Any]:
    """Alternate the three job kinds *repeat* times; medians and every run."""
    runs: dict[str, list[float]] = {job: [] for job in JOBS}
    cpu: dict[str, list[float]] = {job: [] for job in JOBS}
    for k in range(settings.repeat):
        for job in JOBS:
            drained = bench_drain_once(backend, settings, job)
            runs[job].append(drained["jobs_per_s"])
            cpu[job].append(drained["cpu_us_per_job"])
            console.print(f"  {backend.name} round {k + 1}: {job} {drained['jobs_per_s']:,.0f} "
                          f"jobs/s, {drained['cpu_us_per_job']:.0f} µs of worker CPU per job")
    medians = {job: statistics.median(rates) for job, rates in runs.items()}
    return {"medians": medians, "runs": runs,
            "cpu_us": {job: statistics.median(times) for job, times in cpu.items()}}


def render(results: dict[str, dict[str, Any]], settings: Settings) -> None:
    table = Table(title="jobtrail recording cost")
    table.add_column("measurement")
    for name in results:
        table.add_column(name, justify="right")

    def row(label: str, pick: Any) -> None:
        table.add_row(label, *(pick(data) for data in results.values()))

    row("ctx.step, batched (µs/call)", lambda d: f"{d['calls']['step_batched_us']:.1f}")
    row("step checkpoint, unbatched (µs/call)", lambda d: f"{d['calls']['step_unbatched_us']:.0f}")
    row("ctx.effect, 2 durable writes (µs/call)", lambda d: f"{d['calls']['effect_us']:.0f}")
    row("ctx.event, batched (µs/call)", lambda d: f"{d['calls']['event_us']:.1f}")
    row("ctx.decide, batched (µs/call)", lambda d: f"{d['calls']['decide_us']:.1f}")
    row("run summary + conformance (µs/run)", lambda d: f"{d['calls']['summary_us']:.1f}")
    for job in JOBS:
        row(f"drain {job} (jobs/s, median)", lambda d, j=job: f"{d['drain']['medians'][j]:,.0f}")
    for job in JOBS:
        row(f"worker CPU per {job} (µs, median)",
            lambda d, j=job: f"{d['drain']['cpu_us'][j]:.0f}")
    base = "bench_noop"
    row("5 steps vs no-op (throughput loss)", lambda d: _loss(d, "bench_steps", base))
    row("5 steps + decision, checked (loss)", lambda d: _loss(d, "bench_expected", base))
    row("1 effect vs no-op (throughput loss)", lambda d: _loss(d, "bench_effect", base))
    row("5 steps vs no-op (worker CPU per job)", lambda d: _extra_cpu(d, "bench_steps", base))
    console.print(table)
    footer(settings)


def _extra_cpu(data: dict[str, Any], job: str, base: str) -> str:
    cpu = data["drain"]["cpu_us"]
    return f"+{cpu[job] - cpu[base]:.0f} µs ({(cpu[job] / cpu[base] - 1) * 100:.1f}%)"


def _loss(data: dict[str, Any], job: str, base: str) -> str:
    """The median over rounds of each round's loss: a round's jobs ran back to back, so
    they met much the same machine, while the machine drifts between rounds."""
    runs = data["drain"]["runs"]
    losses = [1 - rate / base_rate for rate, base_rate in zip(runs[job], runs[base], strict=True)]
    return f"{statistics.median(losses) * 100:.1f}%"


def main(argv: list[str] | None = None) -> int:
    parser = drain_parser(__doc__)
    args = parser.parse_args(argv)
    settings = drain_settings(args)
    backends = chosen(args.backend, args.pg_url)
    if backends is None:
        return 1
    results = over_backends(backends, lambda backend: {
        "calls": per_call(backend, 1_000 if args.quick else CALLS),
        "drain": throughput(backend, settings)})
    render(results, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
