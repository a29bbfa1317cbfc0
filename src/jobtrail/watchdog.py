"""The worker's watch over its running attempts: timeouts, and an event loop a job blocks.

- A sync attempt (or any attempt running in a worker thread) past its deadline gets
  `JobTimeout` raised in its thread and is reported failed at once; its thread is replaced,
  in case the job is stuck in a C call the exception cannot interrupt.
- An async attempt on the event loop was cancelled by its own timeout; if it has not ended
  `ASYNC_GRACE` seconds later (it ignores ``CancelledError``, or blocks the loop), it is
  abandoned and reported failed.
- The event loop answers a probe at every look; one that has not answered for
  `LOOP_STALL` seconds is blocked by a job, and new async attempts move to a fresh loop.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from jobtrail.execution import Attempt
from jobtrail.runners import LoopRunner, ThreadRunner
from jobtrail.store.base import Outcome

log = logging.getLogger("jobtrail.worker")

#: Seconds an async attempt may run past its timeout before the worker gives up on it
#: (asyncio.wait_for has cancelled it; a job that ignores that is abandoned).
ASYNC_GRACE = 1.0
#: Seconds the event loop may leave a probe unanswered before it counts as blocked.
LOOP_STALL = 2.0


def deadline_of(attempt: Attempt) -> float | None:
    """When the watchdog gives up on *attempt* (monotonic), or None without a timeout."""
    if attempt.deadline is None:
        return None
    return attempt.deadline if attempt.in_thread else attempt.deadline + ASYNC_GRACE


def expire(attempts: Iterable[Attempt], now: float, threads: ThreadRunner,
           loop: LoopRunner) -> list[tuple[Attempt, Outcome]]:
    """The attempts among *attempts* given up on now, with their `JobTimeout` outcomes;
    also checks that the event loop still answers (see the module docstring)."""
    expired: list[tuple[Attempt, Outcome]] = []
    any_running = False
    for attempt in attempts:
        any_running = True
        deadline = deadline_of(attempt)
        if deadline is None or now < deadline:
            continue
        if attempt.in_thread:
            outcome = attempt.expire()
            if outcome is not None:
                threads.replace_stuck()
        else:
            outcome = attempt.expire(" and did not stop when cancelled (it ignores "
                                     "CancelledError, or blocks the event loop)")
        if outcome is not None:
            log.warning("job %s: attempt %d timed out", attempt.job_id, attempt.claimed.attempt)
            expired.append((attempt, outcome))
    if any_running:
        where = loop.check(LOOP_STALL)
        if where is not None:
            log.warning("an async job has blocked the event loop for over %gs, at %s: new "
                        "async jobs run on a fresh loop (await instead of blocking, or use "
                        "asyncio.to_thread)", LOOP_STALL, where)
    return expired
