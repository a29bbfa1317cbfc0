"""The chaos run's job module: what its worker processes import (``chaos_jobs:app``).

``benchmarks/chaos.py`` starts workers with::

    JOBTRAIL_URL=<url> CHAOS_LEDGER=<file> python -m jobtrail worker chaos_jobs:app ...

``chaos_pay`` records a step, then performs one keyed effect (``charge-<n>``) and, for
some jobs, a second one (``notify-<n>``). Each effect appends one line to the ledger file
named by ``CHAOS_LEDGER`` — ``<key> <job id> <attempt> <pid> <epoch seconds>`` in a single
``write`` with ``O_APPEND``, so concurrent lines never interleave — and then waits, like a
call whose outside effect has happened but whose answer has not come back yet: a worker
killed in that wait leaves an effect that happened and was never recorded as done. The
ledger is what the outside world saw; the run checks it against what the store says.

With ``CHAOS_LIFELINE=1`` a worker watches its standard input, a pipe from the run, and
kills itself when the pipe closes: a run that dies without stopping its workers leaves
none behind.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from jobtrail import App, Context, Retry, Transient

#: Attempts per job: kills and lease expiries spend attempts, so leave room for many.
MAX_ATTEMPTS = 30
#: Where ``fail`` makes the first attempt raise `Transient`.
FAIL_NONE, FAIL_BEFORE_CHARGE, FAIL_AFTER_CHARGE, FAIL_AT_END = 0, 1, 2, 3

LEDGER_ENV = "CHAOS_LEDGER"
LEASE_ENV = "CHAOS_LEASE"
GRACE_ENV = "CHAOS_GRACE"
LIFELINE_ENV = "CHAOS_LIFELINE"


def ledger_write(key: str, job_id: int, attempt: int) -> None:
    """Append ``<key> <job id> <attempt> <pid> <epoch seconds>`` to the ledger in one
    atomic write."""
    line = f"{key} {job_id} {attempt} {os.getpid()} {time.time():.3f}\n".encode()
    fd = os.open(os.environ[LEDGER_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def make_app(url: str | None, *, lease: float = 2.0, grace: float = 0.5) -> App:
    """An `App` on *url* with the chaos job declared."""
    app = App(url, lease=lease, grace=grace)

    @app.job(name="chaos_pay", retry=Retry(max_attempts=MAX_ATTEMPTS, base=0.05, cap=0.5,
                                            jitter="full"))
    def chaos_pay(ctx: Context, n: int, pause: float, before: float, after: float,
                  notify: bool, fail: int) -> str:
        """A step, a keyed charge, maybe a keyed notification; *pause* seconds of work
        outside the effects; the charge waits *before* and *after* its ledger line; on its
        first attempt the job fails transiently where *fail* says."""
        quote = ctx.step("quote", lambda: n * 3)
        time.sleep(pause)
        first = ctx.attempt == 1
        if first and fail == FAIL_BEFORE_CHARGE:
            raise Transient(f"chaos: transient failure before charge-{n}")

        def charge() -> str:
            time.sleep(before)
            ledger_write(f"charge-{n}", ctx.job_id, ctx.attempt)
            time.sleep(after)
            return f"ch-{n}"

        charged = ctx.effect("charge", charge, key=f"charge-{n}")
        if first and fail == FAIL_AFTER_CHARGE:
            raise Transient(f"chaos: transient failure after charge-{n}")
        if notify:
            def send() -> None:
                ledger_write(f"notify-{n}", ctx.job_id, ctx.attempt)
                time.sleep(after / 4)

            ctx.effect("notify", send, key=f"notify-{n}")
        if first and fail == FAIL_AT_END:
            raise Transient(f"chaos: transient failure at the end of job {n}")
        return f"{charged}:{quote}"

    return app


def expected_result(n: int) -> str:
    """What ``chaos_pay(n=n, ...)`` returns when it succeeds."""
    return f"ch-{n}:{n * 3}"


def _watch_lifeline() -> None:
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    # The run that started this worker is gone: end like a crash, as the run would have.
    os.kill(os.getpid(), signal.SIGKILL)


#: What ``jobtrail worker chaos_jobs:app`` loads.
app = make_app(
    os.environ.get("JOBTRAIL_URL"),
    lease=float(os.environ.get(LEASE_ENV, "2")),
    grace=float(os.environ.get(GRACE_ENV, "0.5")),
)

if os.environ.get(LIFELINE_ENV) == "1":
    threading.Thread(target=_watch_lifeline, name="chaos-lifeline", daemon=True).start()
