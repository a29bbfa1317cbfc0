"""A job module that worker processes in the tests import (``tests.support.workload:app``).

Every execution appends ``start``/``end`` lines with its job id and process id to the
file named by ``WORKLOAD_LOG``, so tests can check from the outside how often, and by
whom, each job really ran.
"""

from __future__ import annotations

import os
import time

from jobtrail import App, Context, Retry

app = App(
    os.environ.get("JOBTRAIL_URL"),
    lease=float(os.environ.get("WORKLOAD_LEASE", "1.0")),
    grace=float(os.environ.get("WORKLOAD_GRACE", "5")),
)


def _log(line: str, file: str = "WORKLOAD_LOG") -> None:
    # One write of a short line with O_APPEND is atomic, so lines never interleave.
    fd = os.open(os.environ[file], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@app.job(retry=Retry(max_attempts=20, base=0.01, cap=0.05))
def work(ctx: Context, n: int, sleep: float = 0.0) -> int:
    """Log the start, sleep a little, log the end."""
    _log(f"start {ctx.job_id} {os.getpid()}")
    time.sleep(sleep)
    _log(f"end {ctx.job_id} {os.getpid()}")
    return n


@app.job(retry=Retry(max_attempts=20, base=0.01, cap=0.05))
def pay(ctx: Context, n: int, sleep: float = 0.0) -> str:
    """Two steps around one keyed effect that appends to the ledger file."""
    amount = ctx.step("quote", lambda: n * 100)
    time.sleep(sleep / 2)

    def charge() -> str:
        time.sleep(sleep / 2)
        _log(f"charge-{n} {amount}", "WORKLOAD_LEDGER")
        return f"ch_{n}"

    charge_id = ctx.effect("charge", charge, key=f"charge-{n}")
    return ctx.step("receipt", lambda: f"{charge_id}:{amount}")


@app.job(retry=Retry(max_attempts=5, base=0.01, cap=0.05))
def checkpointed(ctx: Context, n: int) -> int:
    """A first step, then (on the first attempt only) a long wait to be killed in."""
    first: int = ctx.step("first", lambda: _log(f"first {ctx.job_id} {os.getpid()}") or n)  # type: ignore[func-returns-value]
    ctx.event("first_done", n=n)
    if ctx.decide("first_attempt", ctx.attempt == 1):
        _log(f"waiting {ctx.job_id} {os.getpid()}")
        time.sleep(60)
    return ctx.step("second", lambda: first + 1)


@app.job(retry=Retry(max_attempts=1), expect="prepare effect:notify finish")
def announce(ctx: Context, n: int) -> int:
    """A step, a milestone and an effect, then a long wait to be killed in."""
    ctx.step("prepare", lambda: n)
    ctx.event("prepared", n=n)
    ctx.effect("notify", lambda: n, key=f"notify-{n}")
    _log(f"waiting {ctx.job_id} {os.getpid()}")
    time.sleep(60)
    return ctx.step("finish", lambda: n)


@app.job(retry=Retry(max_attempts=5, base=0.01, cap=0.05))
def gated_pay(ctx: Context, n: int) -> str:
    """Say it reached its effect (``gated`` in the log), wait for a ``go-<n>`` file beside
    the log, then perform one keyed effect that appends to the ledger."""
    folder = os.path.dirname(os.environ["WORKLOAD_LOG"])
    if ctx.attempt == 1:
        _log(f"gated {ctx.job_id} {os.getpid()}")
        while not os.path.exists(os.path.join(folder, f"go-{n}")):
            time.sleep(0.01)

    def charge() -> str:
        _log(f"charge-{n} {ctx.attempt}", "WORKLOAD_LEDGER")
        return f"ch_{n}"

    return ctx.effect("charge", charge, key=f"charge-{n}")
