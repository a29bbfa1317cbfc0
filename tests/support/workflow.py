"""Job types of a workflow for worker processes in the tests (``tests.support.workflow:app``):
members that log their runs to ``WORKLOAD_LOG`` (one sleeps long when asked), and a
callback that logs the results it was given."""

from __future__ import annotations

import json
import os
import time

from jobtrail import App, Context, Retry
from tests.support.processes import append_line

app = App(os.environ.get("JOBTRAIL_URL"), lease=float(os.environ.get("WORKLOAD_LEASE", "1.0")),
          grace=5)


@app.job(retry=Retry(max_attempts=5, base=0.01, cap=0.05))
def part(ctx: Context, n: int, sleep: float = 0.0) -> int:
    """Log the run; sleep on the first attempt only (a worker killed then leaves it)."""
    append_line(f"part {n} {ctx.attempt} {os.getpid()}")
    if ctx.attempt == 1:
        time.sleep(sleep)
    return n * n


@app.job
def combine(ctx: Context, results: list[int], tag: str) -> int:
    """Log the results it was given."""
    append_line(f"combine {tag} {json.dumps(results)} {ctx.job_id}")
    return sum(results)
