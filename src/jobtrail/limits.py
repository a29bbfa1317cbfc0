"""The bounds jobtrail puts on what it is given, so that whatever it stores it can read back.

Each bound is checked where the value is given — at ``@app.job``, ``Retry(...)``,
``enqueue`` — with an error naming the job, the value and the bound, and is the same on
every backend. Without them, a value one backend stores and another refuses (a priority
of ``2**31``), or that a backend stores but cannot turn back into a time (a delay of
``1e20`` seconds), would break every worker and every listing that meets it.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from jobtrail.errors import ArgumentError, ConfigurationError, JobDefinitionError
from jobtrail.text import name_error, shown

#: The furthest ahead a job can be scheduled (``delay``, ``run_at``), and the longest
#: ``timeout`` and retry delay: ten years, in seconds.
HORIZON = 10 * 365.25 * 24 * 3600
HORIZON_TEXT = f"{HORIZON:,.0f} seconds (10 years)"

#: Priorities and attempt counts are stored as 32-bit signed integers.
MIN_PRIORITY = -(2**31)
MAX_PRIORITY = 2**31 - 1
MAX_ATTEMPTS = 2**31 - 1

#: Idempotency keys are at most this many characters.
MAX_KEY_LENGTH = 255

#: Job ids are 64-bit signed integers counted from 1.
MAX_JOB_ID = 2**63 - 1

#: How deeply lists and dicts may nest in a job's arguments: far more than any real
#: payload needs, and far less than would exhaust the stack encoding or decoding it.
MAX_DEPTH = 100


def priority_problem(priority: object) -> str | None:
    """Why *priority* cannot be a job's priority, or ``None`` when it can."""
    if isinstance(priority, bool) or not isinstance(priority, int):
        return f"must be an int, got {shown(priority)}"
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        return (f"must be an int from {MIN_PRIORITY:,} to {MAX_PRIORITY:,} (a 32-bit integer), "
                f"got {shown(priority)}")
    return None


def row_limit(limit: int) -> int:
    """A listing's *limit* as every backend can take it: no store holds more than
    ``MAX_JOB_ID`` rows, so a larger limit means the same."""
    return min(limit, MAX_JOB_ID)


def before_bound(before_id: int | None) -> int | None:
    """``before_id=`` as every backend can compare with: past the last possible id it
    bounds nothing, and below the first it leaves nothing (ids run from 1)."""
    if before_id is None or before_id > MAX_JOB_ID:
        return None
    return max(before_id, 0)


def id_filter(job_id: int | None) -> int | None:
    """``job_id=`` as every backend can compare with: an id no job can have matches none."""
    if job_id is None:
        return None
    return job_id if 1 <= job_id <= MAX_JOB_ID else 0


def check_queues(queues: object) -> None:
    """Raise `ConfigurationError` unless *queues* is ``None`` (every queue) or a list, tuple
    or set of queue names a job could be stored under (see `jobtrail.text.name_problem`)."""
    if queues is None:
        return
    if isinstance(queues, str | bytes) or not isinstance(queues, Collection):
        raise ConfigurationError(
            f"queues={shown(queues)}: give a list of queue names, e.g. queues=[\"mail\"]"
        )
    for queue in queues:
        problem = name_error("queue", queue)
        if problem:
            raise ConfigurationError(f"queues=...: {problem}")


def check_options(
    name: str, delay: float | None, run_at: datetime | None, priority: int | None
) -> None:
    if delay is not None:
        _check_delay(name, delay)
        if run_at is not None:
            raise ArgumentError(f"job {name!r}: give delay or run_at, not both")
    if run_at is not None:
        _check_run_at(name, run_at)
    if priority is not None:
        problem = priority_problem(priority)
        if problem:
            raise ArgumentError(f"job {name!r}: priority {problem}")


def _check_delay(name: str, delay: object) -> None:
    # An int too large for a float is not "non-finite": it is refused by the bound below.
    if (
        isinstance(delay, bool)
        or not isinstance(delay, int | float)
        or (isinstance(delay, float) and not math.isfinite(delay))
        or delay < 0
    ):
        raise ArgumentError(
            f"job {name!r}: delay must be a finite, non-negative number of seconds, "
            f"got {shown(delay)}"
        )
    if delay > HORIZON:
        raise ArgumentError(
            f"job {name!r}: delay of {shown(delay)} seconds is beyond the limit of "
            f"{HORIZON_TEXT}; schedule far-off work from a job that runs sooner"
        )


def _check_run_at(name: str, run_at: object) -> None:
    if not isinstance(run_at, datetime) or run_at.tzinfo is None:
        raise ArgumentError(
            f"job {name!r}: run_at must be a timezone-aware datetime, got {shown(run_at)}"
        )
    latest = datetime.now(UTC) + timedelta(seconds=HORIZON)
    if run_at > latest:
        raise ArgumentError(
            f"job {name!r}: run_at {run_at.isoformat()} is beyond the limit of "
            f"{HORIZON_TEXT} from now ({latest:%Y-%m-%d} UTC)"
        )
    try:
        run_at.astimezone(UTC)
    except (OverflowError, ValueError):  # datetime.min at +14:00 is before year 1 in UTC
        raise ArgumentError(
            f"job {name!r}: run_at {run_at.isoformat()} is before the first date a "
            "datetime holds in UTC (year 1)"
        ) from None


def check_timeout(name: str, timeout: object) -> None:
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not timeout > 0  # also NaN, which compares false with everything
        or (isinstance(timeout, float) and math.isinf(timeout))
    ):
        raise JobDefinitionError(
            f"job {name!r}: timeout must be a positive number of seconds, got {shown(timeout)}"
        )
    if timeout > HORIZON:
        raise JobDefinitionError(
            f"job {name!r}: timeout of {shown(timeout)} seconds is beyond the limit of "
            f"{HORIZON_TEXT}; leave it out for no timeout"
        )


def check_key(name: str, key: object) -> None:
    problem = name_error("idempotency_key", key, MAX_KEY_LENGTH)
    if problem:
        hint = "; hash long identifiers into the key" if isinstance(key, str) else ""
        raise ArgumentError(f"job {name!r}: {problem}{hint}")
