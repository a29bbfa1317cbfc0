"""Pick-up latency: jobs sent on a fixed schedule to idle workers, timed until they start."""

from __future__ import annotations

import statistics
import time
from typing import Any

from corebench.backends import Backend
from corebench.queue import finished_records, fresh_app, wait_until, waiting_jobs
from corebench.settings import Settings
from corebench.stats import percentile
from corebench.workers import Workers
from jobtrail import Status


def bench_pickup(backend: Backend, settings: Settings) -> dict[str, Any]:
    app = fresh_app(backend)
    latency = app.job_named("bench_latency")
    try:
        with Workers(backend.url, processes=settings.processes,
                     concurrency=settings.concurrency, burst=False) as workers:
            def ready() -> bool:
                if workers.proc.poll() is not None:
                    raise RuntimeError(f"workers exited early:\n{workers.output()[-3000:]}")
                return len(app.store.workers()) >= settings.processes

            wait_until(ready, 60, "the workers to start")
            # Warm-up (not measured): every worker process claims a few jobs.
            warmup = []
            for _ in range(40):
                warmup.append(latency.enqueue(sent=time.time()))
                time.sleep(0.02)
            wait_until(lambda: waiting_jobs(app) == 0, 60, "the warm-up jobs")
            time.sleep(0.5)
            last_warmup = max(h.id for h in warmup)

            count = round(settings.latency_rate * settings.latency_seconds)
            interval = 1.0 / settings.latency_rate
            behind = 0
            returned: dict[int, float] = {}  # job id -> when enqueue() returned
            begin = time.perf_counter()
            for i in range(count):
                due = begin + i * interval
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                elif pause < -interval:
                    behind += 1
                handle = latency.enqueue(sent=time.time())
                returned[handle.id] = time.time()
            produced = time.perf_counter() - begin
            wait_until(lambda: waiting_jobs(app) == 0, 60, "the measured jobs")
        records = [r for r in finished_records(app, "bench_latency") if r.id > last_warmup]
    finally:
        app.close()
    bad = [r for r in records if r.status is not Status.SUCCEEDED]
    if bad or len(records) != count:
        raise RuntimeError(f"pick-up: {len(records) - len(bad)} of {count} jobs succeeded")
    ms = [(float(r.result) - r.args["sent"]) * 1000 for r in records]
    # The same, minus the enqueue call itself (its transaction and commit).
    after = [(float(r.result) - returned[r.id]) * 1000 for r in records]
    enqueue_ms = [(returned[r.id] - r.args["sent"]) * 1000 for r in records]
    return {
        "jobs": count, "rate": count / produced, "target_rate": settings.latency_rate,
        "late_sends": behind, "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95),
        "p99_ms": percentile(ms, 99), "max_ms": max(ms), "mean_ms": statistics.fmean(ms),
        "after_enqueue_p50_ms": percentile(after, 50),
        "after_enqueue_p99_ms": percentile(after, 99),
        "enqueue_p50_ms": percentile(enqueue_ms, 50), "enqueue_p99_ms": percentile(enqueue_ms, 99),
    }

