"""`AttemptEvent`: one finished attempt, as the flat record every observer reads.

A worker makes one for each attempt whose outcome it wrote (or found it could no longer
write: ``lost``), and the ``jobtrail.attempts`` log line is made of it
(`jobtrail.observe.logs`); metrics and traces read the same fields. The fields are
listed in `AttemptEvent`'s docstring and in docs/logging.md.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jobtrail.records import Status
from jobtrail.store.base import ClaimedJob, Outcome
from jobtrail.text import storable

#: The most characters of an error message an event carries; the rest is counted.
MAX_MESSAGE = 1000
#: The values of `AttemptEvent.status`: the job's status after the attempt, or ``lost``.
ATTEMPT_STATUSES = ("succeeded", "retrying", "dead", "orphaned", "lost")
#: The error class of an attempt that ran past its timeout.
TIMEOUT_ERROR = "jobtrail.errors.JobTimeout"


@dataclass(frozen=True, slots=True)
class AttemptEvent:
    """One finished attempt. Every field is a str, an int, a float or ``None``:

    - ``job_id``, ``job_name``, ``queue``: the job;
    - ``attempt``: this attempt's number, from 1; ``max_attempts``: how many its retry
      policy allows;
    - ``status``: what the attempt led to: the job's next status (``succeeded``,
      ``retrying``, ``dead``, ``orphaned``: a job that cannot run, its name unknown or its
      payload no longer fitting), or ``lost``: the job's lease had moved on (it expired,
      or an operator took the job) before the outcome was written, so it was not applied
      and another attempt owns the job;
    - ``outcome``: how it ended, when there is more to say than the status:
      ``timed_out`` (it ran past its timeout), ``exit:REASON`` (it ended early with
      ``ctx.exit(REASON)``), ``effect_uncertain`` (an effect may or may not have
      happened: an operator decides); else ``None``;
    - ``duration``: seconds the attempt ran (``None`` for an orphaned job, which never
      ran);
    - ``error_type``: the qualified class of the error (``NameError``,
      ``jobtrail.errors.JobTimeout``), ``None`` for a success; ``error_message``: its
      message, with the job's ``redact=`` values masked, at most `MAX_MESSAGE`
      characters (the rest counted) — the traceback is with the job (``jobtrail jobs
      show``);
    - ``retry_delay``: for ``retrying``, seconds until the next attempt may run;
      ``next_attempt_at``: that time, ISO-8601 in UTC;
    - ``worker_id``: the worker that ran it (``host:pid:suffix``);
    - ``trace_id``: the trace the job belongs to (shared with the job that enqueued
      it), or ``None``.
    """

    job_id: int
    job_name: str
    queue: str
    attempt: int
    max_attempts: int
    status: str
    outcome: str | None
    duration: float | None
    error_type: str | None
    error_message: str | None
    retry_delay: float | None
    next_attempt_at: str | None
    worker_id: str
    trace_id: str | None

    @classmethod
    def of(cls, claimed: ClaimedJob, outcome: Outcome, worker_id: str, *,
           lost: bool = False, now: float | None = None) -> AttemptEvent:
        """The event of *outcome*, the end of an attempt of *claimed* that *worker_id*
        ran; *lost* when its lease moved on before it was written. *now* (epoch
        seconds) is when it was written, from which the next attempt is dated."""
        error = outcome.error
        how = outcome.outcome
        if how is None and error is not None and error.type == TIMEOUT_ERROR:
            how = "timed_out"
        if outcome.uncounted:
            how = "deferred"
        delay = outcome.retry_delay if outcome.status is Status.RETRYING and not lost else None
        next_at = None
        if delay is not None:
            moment = (time.time() if now is None else now) + delay
            next_at = iso_time(moment)
        return cls(
            job_id=claimed.id,
            job_name=claimed.job_name,
            queue=claimed.queue,
            attempt=outcome.attempt,
            max_attempts=claimed.max_attempts,
            status="lost" if lost else outcome.status.value,
            outcome=how,
            duration=outcome.duration,
            error_type=None if error is None else error.type,
            error_message=None if error is None else capped(error.message),
            retry_delay=delay,
            next_attempt_at=next_at,
            worker_id=worker_id,
            trace_id=claimed.trace_id,
        )

    def fields(self) -> dict[str, Any]:
        """The event as a flat dict, in the order of `FIELDS`."""
        return {
            "job_id": self.job_id, "job_name": self.job_name, "queue": self.queue,
            "attempt": self.attempt, "max_attempts": self.max_attempts,
            "status": self.status, "outcome": self.outcome, "duration": self.duration,
            "error_type": self.error_type, "error_message": self.error_message,
            "retry_delay": self.retry_delay, "next_attempt_at": self.next_attempt_at,
            "worker_id": self.worker_id, "trace_id": self.trace_id,
        }


#: The names of `AttemptEvent`'s fields, in order.
FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(AttemptEvent))


def capped(message: str, limit: int = MAX_MESSAGE) -> str:
    """*message* cut to *limit* characters, saying how many were left out, with what no
    backend or terminal can take escaped (`jobtrail.text.storable`)."""
    if len(message) > limit:
        message = f"{message[:limit]}… ({len(message) - limit:,} more characters)"
    return storable(message)


def iso_time(epoch: float) -> str:
    """*epoch* seconds as ISO-8601 in UTC, to the millisecond: ``2025-01-31T12:00:00.250Z``."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
