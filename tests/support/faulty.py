"""Jobs that misbehave, for the fault tests' worker processes (``tests.support.faulty:app``).

Each job leaves marks in the file named by ``WORKLOAD_LOG`` (``<mark> <job id> <pid>``
lines, one atomic append each), so tests can tell from the outside what ran where.
"""

from __future__ import annotations

import os
import re
import time

from jobtrail import App, Context, Retry

app = App(
    os.environ.get("JOBTRAIL_URL"),
    lease=float(os.environ.get("WORKLOAD_LEASE", "2.0")),
    grace=float(os.environ.get("WORKLOAD_GRACE", "5")),
)
ONCE = Retry(max_attempts=1)
TWICE = Retry(max_attempts=2, base=0, jitter="none")


def mark(what: str, job_id: int) -> None:
    """Append ``<what> <job id> <pid>`` to the log (one atomic write)."""
    fd = os.open(os.environ["WORKLOAD_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{what} {job_id} {os.getpid()}\n".encode())
    finally:
        os.close(fd)


@app.job(retry=TWICE)
def slow_charge(ctx: Context, n: int, seconds: float) -> str:
    """A keyed effect whose call takes *seconds*: long enough to be cut off inside it."""

    def charge() -> str:
        mark("charge-begun", ctx.job_id)
        time.sleep(seconds)
        mark("charge-done", ctx.job_id)
        return f"ch_{n}"

    return ctx.effect("charge", charge, key=f"charge-{n}")


@app.job(retry=ONCE)
def exits(ctx: Context, code: int) -> None:
    """Leave the worker process at once, as a crashing extension or ``os._exit`` would."""
    mark("exiting", ctx.job_id)
    time.sleep(0.2)  # let the job beside it start
    os._exit(code)


@app.job(retry=TWICE)
def sleeper(ctx: Context, seconds: float) -> str:
    """Sleep; an innocent bystander for jobs that take their process down."""
    mark("sleeping", ctx.job_id)
    time.sleep(seconds)
    mark("slept", ctx.job_id)
    return "rested"


@app.job(retry=ONCE)
def backtracks(ctx: Context, length: int) -> bool:
    """A catastrophic regular expression: C code that holds the interpreter for minutes."""
    mark("matching", ctx.job_id)
    return re.match(r"(a+)+$", "a" * length + "b") is not None


def _out_of_memory(*args: object, **kwargs: object) -> None:
    raise MemoryError()


if os.environ.get("WORKLOAD_FAULT") == "claim-out-of-memory":
    # Fault injection: every claim of this process fails as a process out of memory would.
    from jobtrail.store.sqlite import SQLiteStore

    SQLiteStore.claim = _out_of_memory  # type: ignore[assignment,method-assign]
    try:
        from jobtrail.store.postgres import PostgresStore
    except ImportError:
        pass
    else:
        PostgresStore.claim = _out_of_memory  # type: ignore[assignment,method-assign]
