"""`AttemptLog`: the worker's line per finished attempt, on the ``jobtrail.attempts`` logger.

Once a worker has written an attempt's outcome, it hands it here. The line is made of an
`AttemptEvent` (`jobtrail.observe.events`): the event's fields are the record's
``extra=`` fields, and its message (`describe`) says the same in words. The level follows
the status: ``succeeded`` at INFO, ``retrying`` and ``lost`` at WARNING, ``dead`` and
``orphaned`` at ERROR. When the logger is not enabled for a line's level, nothing is
built: a dict lookup and ``Logger.isEnabledFor`` are all a worker pays.

A line is written in the thread that wrote the outcome. (A thread of its own for the
lines was tried: the hand-over and the switches between threads cost more than the line.)

A line that cannot be written (a handler that fails) never fails the worker: the outcome
it reports is already stored. The first failure is reported on ``jobtrail.observe``.
"""

from __future__ import annotations

import logging
from contextlib import suppress

from jobtrail.observe.events import AttemptEvent
from jobtrail.records import Status
from jobtrail.store.base import ClaimedJob, Outcome

#: The logger of the worker's line per finished attempt.
ATTEMPTS_LOGGER = "jobtrail.attempts"
LEVELS: dict[str, int] = {
    Status.SUCCEEDED: logging.INFO,
    Status.RETRYING: logging.WARNING,
    Status.DEAD: logging.ERROR,
    Status.ORPHANED: logging.ERROR,
}
LOST_LEVEL = logging.WARNING

log = logging.getLogger("jobtrail.observe")


class AttemptLog:
    """Logs the end of each attempt a worker ran, once its outcome is written (see the
    module docstring)."""

    __slots__ = ("failures", "logger", "worker_id")

    def __init__(self, worker_id: str, logger: logging.Logger | None = None) -> None:
        self.worker_id = worker_id
        self.logger = logger if logger is not None else logging.getLogger(ATTEMPTS_LOGGER)
        #: Lines that could not be written (only the first is reported).
        self.failures = 0

    def written(self, claimed: ClaimedJob, outcome: Outcome, *, lost: bool = False) -> None:
        """Log *outcome*, the end of an attempt of *claimed*; *lost* when its lease moved
        on before it could be written. Never raises."""
        level = LOST_LEVEL if lost else LEVELS.get(outcome.status, logging.INFO)
        logger = self.logger
        if not logger.isEnabledFor(level):
            return
        try:
            event = AttemptEvent.of(claimed, outcome, self.worker_id, lost=lost)
            # Logger.log less the search for its caller, which is always this line.
            logger.handle(logger.makeRecord(logger.name, level, __file__, 0, describe(event),
                                            (), None, "AttemptLog", event.fields()))
        except Exception:  # a failing handler: the outcome is stored, the worker goes on
            self.failures += 1
            if self.failures == 1:
                with suppress(Exception):
                    log.exception("could not log the end of attempt %d of job %s (later "
                                  "failures are not reported)", outcome.attempt, outcome.job_id)


def describe(event: AttemptEvent) -> str:
    """The event in words: ``job 7 charge attempt 1/3 failed after 2.1ms, retrying in
    500.0ms at 2025-01-31T12:00:00.750Z [queue default, worker w1]: NameError: ...``."""
    status = event.status
    how = event.outcome
    took = "" if event.duration is None else f" after {seconds(event.duration)}"
    failed = "timed out" if how == "timed_out" else "failed"
    if status == "succeeded":
        verdict = f"succeeded{took}" + (f", {how}" if how else "")
    elif status == "retrying":
        delay = seconds(event.retry_delay or 0.0)
        if how == "deferred":  # a breaker it needs is open: not attempted, not counted
            verdict = f"deferred, not counted; tried again in {delay} at {event.next_attempt_at}"
        else:
            verdict = f"{failed}{took}, retrying in {delay} at {event.next_attempt_at}"
    elif status == "dead":
        verdict = f"{failed}{took}, dead" + (f" ({how})" if how and how != "timed_out" else "")
    elif status == "orphaned":
        verdict = "orphaned (it cannot run)"
    else:
        verdict = (f"lost{took} (its lease moved on before the outcome was written; another "
                   "attempt owns the job)")
    where = f"queue {event.queue}, worker {event.worker_id}"
    if event.trace_id is not None:
        where += f", trace {event.trace_id}"
    text = f"job {event.job_id} {event.job_name} attempt {event.attempt}/{event.max_attempts} "
    text += f"{verdict} [{where}]"
    if event.error_type is not None:
        text += f": {event.error_type}: {event.error_message}"
    return text


def seconds(value: float) -> str:
    """A duration for people: ``2.1ms``, ``3.25s``, ``1,200s``."""
    if value < 1:
        return f"{value * 1000:.1f}ms"
    if value < 100:
        return f"{value:.2f}s"
    return f"{value:,.0f}s"
