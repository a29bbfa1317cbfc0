"""Enqueue measurements: one job per call from one thread, and ``enqueue_many`` in batches."""

from __future__ import annotations

import time
from typing import Any

from corebench.backends import Backend
from corebench.queue import fresh_app
from corebench.settings import BULK_BATCH
from corebench.stats import percentile


def bench_single_enqueue(backend: Backend, n: int) -> dict[str, Any]:
    app = fresh_app(backend)
    try:
        noop = app.job_named("bench_noop")
        for i in range(50):  # open the connection, warm caches
            noop.enqueue(i=-i)
        times = []
        start = time.perf_counter()
        for i in range(n):
            t0 = time.perf_counter()
            noop.enqueue(i=i)
            times.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start
    finally:
        app.close()
    return {
        "jobs": n, "seconds": elapsed, "jobs_per_s": n / elapsed,
        "p50_us": percentile(times, 50) * 1e6, "p99_us": percentile(times, 99) * 1e6,
    }


def bench_bulk_enqueue(backend: Backend, n: int, batch: int = BULK_BATCH) -> dict[str, Any]:
    app = fresh_app(backend)
    try:
        noop = app.job_named("bench_noop")
        noop.enqueue_many([{"i": -1}])  # open the connection
        batches = [[{"i": i} for i in range(s, min(n, s + batch))] for s in range(0, n, batch)]
        start = time.perf_counter()
        for items in batches:
            noop.enqueue_many(items)
        elapsed = time.perf_counter() - start
    finally:
        app.close()
    return {"jobs": n, "batch": batch, "seconds": elapsed, "jobs_per_s": n / elapsed}

