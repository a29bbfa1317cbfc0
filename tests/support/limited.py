"""Job types under flow limits, for worker processes in the tests
(``tests.support.limited:app``). Each run appends ``start``/``end`` lines (job id, key,
process id, time) to the file named by ``WORKLOAD_LOG``."""

from __future__ import annotations

import os
import time

from jobtrail import App, Context
from tests.support.processes import append_line

app = App(os.environ.get("JOBTRAIL_URL"), lease=float(os.environ.get("WORKLOAD_LEASE", "1.0")),
          grace=5)
app.queue("slow", concurrency_limit=3)


def _log(kind: str, ctx: Context, key: str) -> None:
    append_line(f"{kind} {ctx.job_id} {key} {os.getpid()} {time.time():.6f}")


@app.job(concurrency_limit=2)
def limited(ctx: Context, n: int, sleep: float = 0.2) -> int:
    """At most two running at once, across every worker."""
    _log("start", ctx, "-")
    time.sleep(sleep)
    _log("end", ctx, "-")
    return n


@app.job(concurrency_limit=1, concurrency_key=lambda tenant, n: tenant)
def per_tenant(ctx: Context, tenant: str, n: int) -> int:
    """One running at once per tenant."""
    _log("start", ctx, tenant)
    time.sleep(0.15)
    _log("end", ctx, tenant)
    return n


@app.job(queue="slow")
def queued(ctx: Context, n: int) -> int:
    """At most three running at once: their queue's limit."""
    _log("start", ctx, "-")
    time.sleep(0.15)
    _log("end", ctx, "-")
    return n
