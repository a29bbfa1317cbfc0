"""A job module with periodic jobs that worker processes in the tests import
(``tests.support.periodic:app``). Each run appends its job id, the tick it was fired for
and its process id to the file named by ``WORKLOAD_LOG``."""

from __future__ import annotations

import os

from jobtrail import App, Context
from tests.support.processes import append_line

app = App(os.environ.get("JOBTRAIL_URL"), lease=1.0, grace=5)
EVERY = float(os.environ.get("PERIODIC_EVERY", "0.25"))


@app.job(every=EVERY)
def tick(ctx: Context) -> int:
    """Log this run (one line, written at once: lines never interleave)."""
    append_line(f"{ctx.job_id} {os.getpid()}")
    return ctx.job_id
