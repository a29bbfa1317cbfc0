"""The bounds jobtrail puts on what it is given, so that whatever it stores it can read back.

Each bound is checked where the value is given — at ``@app.job``, ``Retry(...)``,
``enqueue`` — with an error naming the job, the value and the bound, and is the same on
every backend. Without them, a value one backend stores and another refuses (a priority
of ``2**31``), or that a backend stores but cannot turn back into a time (a delay of
``1e20`` seconds), would break every worker and every listing that meets it.
"""

from __future__ import annotations

from collections.abc import Collection

from jobtrail.errors import ConfigurationError
from jobtrail.text import name_error, shown

#: The furthest ahead a job can be scheduled (``delay``, ``run_at``), and the longest
#: ``timeout`` and retry delay: ten years, in seconds.
HORIZON = 10 * 365.25 * 24 * 3600
HORIZON_TEXT = f"{HORIZON:,.0f} seconds (10 years)"

#: Priorities and attempt counts are stored as 32-bit signed integers.
MIN_PRIORITY = -(2**31)
MAX_PRIORITY = 2**31 - 1
MAX_ATTEMPTS = 2**31 - 1

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
