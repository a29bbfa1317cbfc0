"""Claim cost: ``store.claim`` + ``store.finish`` of a few jobs with the queue held at a depth."""

from __future__ import annotations

import statistics
import time
from typing import Any

from corebench.backends import Backend
from corebench.queue import fill, fresh_app
from corebench.settings import CLAIM_LEASE, CLAIM_LIMIT
from corebench.stats import percentile
from jobtrail import Status
from jobtrail.store.base import Outcome


def bench_claim(backend: Backend, depth: int, claims: int) -> dict[str, Any]:
    app = fresh_app(backend)
    try:
        fill(app, depth)
        backend.analyze()
        store = app.store
        noop = app.job_named("bench_noop")
        worker = "bench-claim"
        totals, claim_us, finish_us = [], [], []
        for k in range(claims + 20):  # the first 20 warm up
            t0 = time.perf_counter()
            claimed = store.claim(worker, None, CLAIM_LIMIT, CLAIM_LEASE)
            t1 = time.perf_counter()
            store.finish(worker, [
                Outcome(job.id, job.attempt, Status.SUCCEEDED, result="null", claim=job.claim)
                for job in claimed
            ])
            t2 = time.perf_counter()
            if len(claimed) != CLAIM_LIMIT:
                raise RuntimeError(f"claim returned {len(claimed)} jobs, expected {CLAIM_LIMIT}")
            # Keep the queue at its depth (not timed).
            noop.enqueue_many([{"i": -k}] * len(claimed))
            if k >= 20:
                totals.append((t2 - t0) * 1e6)
                claim_us.append((t1 - t0) * 1e6)
                finish_us.append((t2 - t1) * 1e6)
    finally:
        app.close()
    return {
        "queued": depth, "claims": claims, "limit": CLAIM_LIMIT,
        "median_us": statistics.median(totals), "p95_us": percentile(totals, 95),
        "claim_median_us": statistics.median(claim_us),
        "finish_median_us": statistics.median(finish_us),
    }

