"""The drain: N queued no-op jobs run by burst workers, throughput from their start times,
and the workers' CPU time per job (user and system, their start included): steadier than
throughput on a shared machine, since another process's load does not add to it."""

from __future__ import annotations

import contextlib
import resource
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from bench_app import make_app

from corebench.backends import Backend
from corebench.queue import fill, finished_records, fresh_app
from corebench.settings import BULK_BATCH, Settings
from corebench.terminal import console
from corebench.workers import Workers
from jobtrail import Status


def bench_drain_once(
    backend: Backend, settings: Settings, job: str = "bench_noop",
    beside: Callable[[], AbstractContextManager[object]] | None = None,
) -> dict[str, Any]:
    """Drain *settings.jobs* queued *job* jobs; *beside* is a context entered once they are
    queued, around the workers' run (something that runs beside them: a sealer, say)."""
    n = settings.jobs
    app = fresh_app(backend)
    try:
        fill(app, n, BULK_BATCH, job)
    finally:
        app.close()
    backend.analyze()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    around = beside() if beside is not None else contextlib.nullcontext()
    with around, Workers(backend.url, processes=settings.processes,
                         concurrency=settings.concurrency, burst=True) as workers:
        code = workers.wait(timeout=max(120.0, n / 100))
        wall = time.perf_counter() - workers.started
        if code != 0:
            raise RuntimeError(f"burst workers exited with {code}:\n{workers.output()[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers, reaped with their forks
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    app = make_app(backend.url)
    try:
        records = finished_records(app, job)
    finally:
        app.close()
    succeeded = [r for r in records if r.status is Status.SUCCEEDED]
    if len(succeeded) != n:
        statuses = sorted({r.status.value for r in records})
        raise RuntimeError(f"drain: {len(succeeded)} of {n} jobs succeeded (statuses {statuses})")
    attempts = sum(r.attempts for r in succeeded)
    if attempts != n:
        raise RuntimeError(f"drain: {n} jobs took {attempts} attempts (some ran twice)")
    starts = sorted(float(r.result) for r in succeeded)
    span = starts[-1] - starts[0]
    return {
        "jobs": n, "span_s": span, "jobs_per_s": (n - 1) / span if span > 0 else float("inf"),
        "wall_s": wall, "attempts": attempts, "cpu_us_per_job": cpu / n * 1e6,
    }


def bench_drain(backend: Backend, settings: Settings) -> dict[str, Any]:
    runs = []
    for k in range(settings.repeat):
        run = bench_drain_once(backend, settings)
        runs.append(run)
        console.print(
            f"  drain run {k + 1}/{settings.repeat}: {run['jobs_per_s']:,.0f} jobs/s "
            f"({run['jobs']:,} jobs in {run['span_s']:.2f}s; {run['wall_s']:.2f}s "
            "including worker start and exit)"
        )
    rates = [r["jobs_per_s"] for r in runs]
    return {
        "jobs": settings.jobs, "processes": settings.processes,
        "concurrency": settings.concurrency, "jobs_per_s": statistics.median(rates),
        "runs_jobs_per_s": rates, "runs": runs,
    }

