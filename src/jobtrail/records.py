"""The data of jobs: their status (and what operators may change it to), the kinds of
points their paths record, their stored records, the events of their paths, and the one
type of a divergence from an expected path.

These are frozen values read from the store. They never talk to the database
themselves; `App` and `Store` do that.
"""

from __future__ import annotations

import enum
import json
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from jobtrail.text import storable


class Status(enum.StrEnum):
    """Where a job is in its life.

    ``queued`` and ``retrying`` are waiting to be claimed; ``running`` holds a
    lease; the last four are final.
    """

    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    ORPHANED = "orphaned"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        """True when no worker will run the job again without an operator."""
        return self in FINAL_STATUSES

    @property
    def is_waiting(self) -> bool:
        """True when the job waits to be claimed."""
        return self in (Status.QUEUED, Status.RETRYING)


FINAL_STATUSES = frozenset({Status.SUCCEEDED, Status.DEAD, Status.ORPHANED, Status.CANCELLED})


class PointKind(enum.StrEnum):
    """What a running job records on its path (`jobtrail.Context`): a checkpointed step,
    an at-most-once effect, a decision with its value, an intended exit, a milestone."""

    STEP = "step"
    EFFECT = "effect"
    DECIDE = "decide"
    EXIT = "exit"
    EVENT = "event"


#: The points that make up a run's path variant, and that expectations speak of.
VARIANT_POINTS = frozenset({PointKind.STEP, PointKind.EFFECT, PointKind.DECIDE, PointKind.EXIT})


class DivergenceKind(enum.StrEnum):
    """How a finished run departed from what was expected of it."""

    MISSING = "missing"                    # an expected point did not come
    UNEXPECTED = "unexpected"              # a point the expectation does not allow there
    OUT_OF_ORDER = "out_of_order"          # a point came before one that should precede it
    UNEXPECTED_EXIT = "unexpected_exit"    # an exit the expectation does not allow there
    INCOMPLETE = "incomplete"              # the run stopped for good mid-path
    DUPLICATE_EFFECT = "duplicate_effect"  # an effect may have been performed twice
    SLOW = "slow"                          # a step far slower than its recent history
    NONDETERMINISTIC = "nondeterministic"  # a replayed step was called with other arguments


@dataclass(frozen=True, slots=True)
class Divergence:
    """One way a run departed from what was expected of it, from the check that finds it
    to the store, the alert sinks and the reports.

    ``position`` is the index of the recorded point where it happened, in the run's path
    variant (the number of points for the end); ``found`` the point there, in the path
    language (``None`` at the end); ``expected`` what was allowed there, or what should
    have come; ``message`` says it in one line. ``job_id``, ``job_name`` and ``attempt``
    are set once the run is known (alerts); ``id`` and ``at`` once it is stored.
    """

    kind: DivergenceKind
    message: str
    position: int | None = None
    found: str | None = None
    expected: tuple[str, ...] = ()
    job_id: int | None = None
    job_name: str | None = None
    attempt: int | None = None
    id: int | None = None
    at: datetime | None = None

    def __str__(self) -> str:
        if self.job_name is None:
            return self.message
        return f"{self.job_name}#{self.job_id} {self.kind}: {self.message}"


@dataclass(frozen=True, slots=True)
class Transition:
    """An operator's action on a job, the same on every backend: the statuses it applies
    to (``sources``), the status it leads to, the lifecycle event that records it and the
    outcome it sets. One that ``resets`` starts a new run: attempts, result, error and
    path variant are cleared."""

    verb: str
    sources: tuple[Status, ...]
    target: Status
    event: str
    outcome: str | None = None
    resets: bool = False


#: What an operator may do to a job, by verb: the one table both backends apply.
TRANSITIONS: Mapping[str, Transition] = MappingProxyType({
    "replay": Transition("replay", (Status.DEAD, Status.ORPHANED, Status.CANCELLED),
                         Status.QUEUED, "replayed", resets=True),
    "discard": Transition("discard", (Status.DEAD, Status.ORPHANED), Status.CANCELLED,
                          "discarded", outcome="discarded"),
    "cancel": Transition("cancel", (Status.QUEUED, Status.RETRYING), Status.CANCELLED,
                         "cancelled", outcome="cancelled"),
})


_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)
_EARLIEST_EPOCH = _EARLIEST.timestamp()
_LATEST_EPOCH = _LATEST.timestamp()


def utc_from_epoch(seconds: float | None) -> datetime | None:
    """Turn epoch seconds into an aware UTC datetime (``None`` stays ``None``).

    A time outside the dates Python can hold (a row stored before jobtrail bounded
    delays) reads as the first or last one, so listing such a job never fails."""
    if seconds is None:
        return None
    if seconds >= _LATEST_EPOCH or seconds != seconds:  # NaN, as damaged as time gets
        return _LATEST
    if seconds <= _EARLIEST_EPOCH:
        return _EARLIEST
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """What made an attempt fail: class, message and traceback."""

    type: str
    message: str
    traceback: str = ""

    def to_json(self) -> str:
        """Serialise for the store. Stores select dead letters by the class this text
        begins with (`jobtrail.store.policy.ERROR_TYPE_HEAD`): keep its keys' order."""
        return json.dumps(
            {"type": self.type, "message": self.message, "traceback": self.traceback}
        )

    @classmethod
    def from_json(cls, text: str | None) -> ErrorInfo | None:
        """Read back what `to_json` wrote; a damaged value is kept as its message."""
        if not text:
            return None
        try:
            data = json.loads(text)
            return cls(str(data["type"]), str(data["message"]), str(data.get("traceback", "")))
        except (ValueError, KeyError, TypeError):
            return cls("UnreadableError", text)

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


@dataclass(frozen=True, slots=True)
class Event:
    """One point on a job's path: a lifecycle transition or something the job recorded.

    ``kind`` is ``lifecycle`` (enqueued, claimed, started, failed, retry_scheduled,
    succeeded, dead, orphaned...), ``step``, ``effect``, ``decide`` (``attrs["value"]`` is
    the value decided), ``exit`` (the name is the reason) or ``event`` (a milestone).
    ``parent_job_id`` and ``trace_id`` are the job's, filled in by `App.get` and
    `App.events`; ``claim`` is the claim of the attempt that recorded it (``None`` for the
    events of no claim, such as ``enqueued``, and for those stored before claims had tokens).
    """

    job_id: int
    attempt: int
    kind: str
    name: str
    at: datetime
    duration: float | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    parent_job_id: int | None = None
    trace_id: str | None = None
    claim: int | None = None


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job as the store holds it. Returned by `App.get` and the listing calls."""

    id: int
    job_name: str
    queue: str
    status: Status
    priority: int
    args: dict[str, Any] | None
    raw_payload: str
    attempts: int
    max_attempts: int
    created_at: datetime
    run_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    worker_id: str | None
    result: Any
    error: ErrorInfo | None
    parent_job_id: int | None
    trace_id: str | None
    outcome: str | None = None
    variant: str | None = None
    code_version: str | None = None
    path: tuple[Event, ...] = ()
    #: The payload fields its job declares sensitive: what every view masks.
    redact: frozenset[str] = frozenset()

    @property
    def is_final(self) -> bool:
        """True when the job reached a final status."""
        return self.status.is_final



@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run that ended for good, as variants and funnels count it."""

    job_id: int
    job_name: str
    status: Status
    outcome: str | None
    variant: str
    code_version: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime
    parent_job_id: int | None = None
    #: The milestones the run reached, each with how many variant points came before it.
    milestones: tuple[tuple[str, int], ...] = ()

    @property
    def duration(self) -> float | None:
        """Seconds from the start of the last attempt to the end of the run."""
        if self.started_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


#: Tracebacks longer than this keep their end, where the error was raised.
MAX_TRACEBACK_CHARS = 20_000


def error_info(exc: BaseException) -> ErrorInfo:
    """Describe an exception for the store: qualified class name, message, traceback."""
    cls = type(exc)
    name = cls.__qualname__
    if cls.__module__ != "builtins":
        name = f"{cls.__module__}.{name}"
    text = "".join(traceback.format_exception(exc))
    if len(text) > MAX_TRACEBACK_CHARS:
        text = "…" + text[-MAX_TRACEBACK_CHARS:]
    try:
        message = str(exc)
    except Exception as failure:  # a poison __str__ must not take the outcome down with it
        message = f"<str() of the error failed: {type(failure).__name__}>"
    # Free text goes to the store as it is, but for what no backend can hold.
    return ErrorInfo(storable(name), storable(message or (cls.__doc__ or "").strip()),
                     storable(text))
