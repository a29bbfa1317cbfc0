"""Flow control declared in code: queue policies, concurrency limits and rate limits.

``app.queue("mail", max_depth=10_000, concurrency_limit=8, rate_limit="100/m")`` declares
a `Queue`; ``@app.job(concurrency_limit=2, concurrency_key=..., rate_limit="5/s")`` limits
one job type. Both hold across every process and machine on the store:

- a concurrency limit counts the attempts running under a live lease (per key when the job
  gives ``concurrency_key=``), so the slot of a worker that died frees itself when its
  lease runs out;
- a rate limit is a token bucket in the store, ``N/s``, ``N/m``, ``N/h`` or ``N/d``,
  refilled continuously, holding at most one second's worth of tokens (and at least one):
  ``"100/m"`` lets a job through every 0.6 s, ``"1000/s"`` up to 1,000 at once;
- ``max_depth`` refuses an ``enqueue`` that would put more jobs waiting in the queue
  (`QueueFull`), or waits for room up to ``enqueue(..., wait=seconds)``;
- ``paused`` queues are claimed by no worker (enqueueing still works);
- ``max_latency`` (seconds a job may wait) is what health checks compare the oldest ready
  job's wait with.

`flow_limits` turns an app's declarations into the `FlowLimits` its workers hand their
store (`jobtrail.store.flow` decides which waiting jobs fit them).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jobtrail.errors import ArgumentError, ConfigurationError, JobDefinitionError, QueueFull
from jobtrail.limits import HORIZON
from jobtrail.store.values import Enqueued, FlowLimits, Limit
from jobtrail.text import name_error, shown

#: The largest concurrency limit and max_depth (far above any real need).
MAX_LIMIT = 1_000_000
#: Seconds per unit of a rate limit.
PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_RATE = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour|d|day)s?\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    """A rate limit: ``count`` per ``period`` seconds, as given (``text``)."""

    count: float
    period: float
    text: str

    @property
    def per_second(self) -> float:
        return self.count / self.period

    @property
    def burst(self) -> float:
        """The most tokens a bucket holds: one second's worth, and at least one."""
        return max(1.0, self.per_second)


def parse_rate(owner: str, value: Any) -> Rate | None:
    """The `Rate` of ``rate_limit=`` (``"100/m"``, ``"5/s"``, ``"10/2h"``, ``None``), or a
    `ConfigurationError` naming *owner* (``job 'sync'``, ``queue 'mail'``)."""
    if value is None:
        return None
    match = _RATE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigurationError(
            f"{owner}: rate_limit {shown(value)} is not a rate: write a count per unit, "
            "such as '100/m', '5/s', '1000/h' or '10/d'")
    count = float(match[1])
    period = float(match[2] or 1) * PERIODS[match[3][0]]
    if not count > 0 or not period > 0 or not math.isfinite(count) or count > 1e9:
        raise ConfigurationError(
            f"{owner}: rate_limit {shown(value)} must let at least some jobs through: a "
            "positive count per positive period")
    if period > HORIZON:
        raise ConfigurationError(f"{owner}: rate_limit {shown(value)} has a period over 10 years")
    return Rate(count, period, " ".join(value.split()))


def check_limit(owner: str, option: str, value: Any) -> int | None:
    """A concurrency limit or max_depth: ``None``, or a positive int up to `MAX_LIMIT`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise ConfigurationError(
            f"{owner}: {option} must be a positive int (at most {MAX_LIMIT:,}), got "
            f"{shown(value)}")
    return value


@dataclass(frozen=True, slots=True)
class Queue:
    """A queue's policy, declared with `App.queue`."""

    name: str
    max_depth: int | None = None
    max_latency: float | None = None
    concurrency_limit: int | None = None
    rate_limit: Rate | None = None
    paused: bool = False

    def describe(self) -> dict[str, Any]:
        """The JSON shape of the policy."""
        return {"name": self.name, "max_depth": self.max_depth, "max_latency": self.max_latency,
                "concurrency_limit": self.concurrency_limit,
                "rate_limit": None if self.rate_limit is None else self.rate_limit.text,
                "paused": self.paused}


def make_queue(name: Any, *, max_depth: Any = None, max_latency: Any = None,
               concurrency_limit: Any = None, rate_limit: Any = None,
               paused: Any = False) -> Queue:
    """The `Queue` of ``app.queue(...)``; `ConfigurationError` naming it for a bad option."""
    problem = name_error("queue", name)
    if problem:
        raise ConfigurationError(f"app.queue: {problem}")
    owner = f"queue {name!r}"
    if max_latency is not None and (
            isinstance(max_latency, bool) or not isinstance(max_latency, int | float)
            or not 0 < max_latency <= HORIZON):
        raise ConfigurationError(
            f"{owner}: max_latency must be a positive number of seconds, got {shown(max_latency)}")
    if not isinstance(paused, bool):
        raise ConfigurationError(f"{owner}: paused must be True or False, got {shown(paused)}")
    return Queue(
        name, check_limit(owner, "max_depth", max_depth),
        None if max_latency is None else float(max_latency),
        check_limit(owner, "concurrency_limit", concurrency_limit),
        parse_rate(owner, rate_limit), paused)


@dataclass(frozen=True, slots=True)
class JobLimits:
    """A job type's own limits (``@app.job(concurrency_limit=, concurrency_key=,
    rate_limit=)``)."""

    concurrency_limit: int | None = None
    concurrency_key: Callable[..., str] | None = None
    rate_limit: Rate | None = None


def make_job_limits(job_name: str, *, concurrency_limit: Any = None,
                    concurrency_key: Any = None, rate_limit: Any = None) -> JobLimits:
    """The `JobLimits` of ``@app.job``; `JobDefinitionError` naming the job for bad ones."""
    owner = f"job {job_name!r}"
    try:
        limit = check_limit(owner, "concurrency_limit", concurrency_limit)
        rate = parse_rate(owner, rate_limit)
    except ConfigurationError as exc:
        raise JobDefinitionError(str(exc)) from None
    if concurrency_key is not None:
        if not callable(concurrency_key):
            raise JobDefinitionError(
                f"{owner}: concurrency_key must be a function of the job's arguments "
                f"returning a str, got {shown(concurrency_key)}")
        if limit is None:
            raise JobDefinitionError(
                f"{owner}: concurrency_key= needs concurrency_limit= (how many run at once "
                "per key)")
    return JobLimits(limit, concurrency_key, rate)


def flow_limits(queues: Mapping[str, Queue], jobs: Iterable[Any]) -> FlowLimits:
    """The `FlowLimits` of an app's declared *queues* and job types (*jobs*, each with
    ``name`` and ``limits``)."""
    limits: list[Limit] = []
    for job in jobs:
        own: JobLimits = job.limits
        if own.concurrency_limit is not None or own.rate_limit is not None:
            limits.append(Limit("job", job.name, own.concurrency_limit,
                                own.concurrency_key is not None,
                                None if own.rate_limit is None else own.rate_limit.per_second,
                                1.0 if own.rate_limit is None else own.rate_limit.burst))
    for queue in queues.values():
        if queue.concurrency_limit is not None or queue.rate_limit is not None:
            rate = queue.rate_limit
            limits.append(Limit("queue", queue.name, queue.concurrency_limit, False,
                                None if rate is None else rate.per_second,
                                1.0 if rate is None else rate.burst))
    paused = frozenset(queue.name for queue in queues.values() if queue.paused)
    return FlowLimits(tuple(limits), paused)


def concurrency_key_of(job_name: str, key_function: Callable[..., Any],
                       values: Mapping[str, Any]) -> str:
    """The concurrency key the job's ``concurrency_key=`` function gives *values* (its
    arguments by name); `ArgumentError` when it fails or gives no usable name."""
    try:
        key = key_function(**values)
    except Exception as exc:
        raise ArgumentError(
            f"job {job_name!r}: its concurrency_key function failed on {shown(values)}: "
            f"{shown(exc)}") from exc
    problem = name_error("concurrency key", key)
    if problem:
        raise ArgumentError(f"job {job_name!r}: its concurrency_key function gave a bad key: "
                            f"{problem}")
    return str(key)


#: The first and longest pauses of `enqueue_with_room` between two tries.
FIRST_PAUSE = 0.01
LONGEST_PAUSE = 0.5


def enqueue_with_room(enqueue: Callable[[], list[Enqueued]], wait: float | None
                      ) -> list[Enqueued]:
    """Call *enqueue* until no queue is full; with *wait* ``None`` (or 0), once. Each
    `QueueFull` is tried again after a pause that doubles up to `LONGEST_PAUSE`, for up to
    *wait* seconds; the last one is raised."""
    if not wait:
        return enqueue()
    deadline = time.monotonic() + wait
    pause = FIRST_PAUSE
    while True:
        try:
            return enqueue()
        except QueueFull:
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            time.sleep(min(pause, left))
            pause = min(LONGEST_PAUSE, pause * 2)


def check_wait(job_name: str, wait: Any) -> float | None:
    """``enqueue(..., wait=)``: ``None`` or seconds, finite and not negative."""
    if wait is None:
        return None
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not (
            0 <= wait <= HORIZON):
        raise ArgumentError(
            f"job {job_name!r}: wait must be seconds (0 to 10 years) to wait for room in a "
            f"full queue, got {shown(wait)}")
    return float(wait)
