"""The values the `Store` contract passes: jobs to store and claimed, an attempt's
recorded path and outcome, effects, workers, and the filters of the listings. Frozen, and
free of any backend's types; `jobtrail.store.base` names them beside the contract."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple

from jobtrail.records import Divergence, ErrorInfo, Status


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job about to be stored. ``payload`` is the JSON text of its arguments."""

    job_name: str
    queue: str
    payload: str
    max_attempts: int
    priority: int = 0
    run_at: datetime | None = None
    delay: float | None = None
    parent_job_id: int | None = None
    trace_id: str | None = None
    trace_context: str | None = None
    idempotency_key: str | None = None
    payload_hash: str | None = None
    concurrency_key: str | None = None
    key_retention: float | None = None
    #: The payload fields the job declares sensitive (``redact=``): stored with the job so
    #: that every view masks them, even one with no job declared (``--url``).
    redact: tuple[str, ...] = ()


class Enqueued(int):
    """The id of a stored job. ``deduplicated`` is true when its idempotency key matched
    a job stored earlier (with the same payload), whose id this is: nothing new was stored."""

    deduplicated: bool

    def __new__(cls, job_id: int, deduplicated: bool = False) -> Enqueued:
        value = super().__new__(cls, job_id)
        value.deduplicated = deduplicated
        return value


EffectStatus = Literal["started", "done", "failed"]


@dataclass(frozen=True, slots=True)
class EffectRecord:
    """What the store knows of one effect key.

    ``started`` was written before the call and nothing after it: if the attempt that wrote
    it is gone, nobody knows whether the effect happened. ``claim`` names the claim of the
    job whose attempt began it (``None`` for effects begun before claims had tokens).
    """

    key: str
    job_id: int
    name: str
    attempt: int
    status: EffectStatus
    repeat_safe: bool
    result: str | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    claim: int | None = None
    repeated: bool = False


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job a worker now holds a lease on, with what it needs to run it.

    ``attempt`` counts the attempts of this run (it starts again at 1 after a replay, and a
    released attempt is not counted); ``claim`` is a token drawn for this claim alone, never
    used by another, so it is what owns the attempt's outcome, checkpoints and effects."""

    id: int
    job_name: str
    queue: str
    payload: str
    attempt: int
    max_attempts: int
    parent_job_id: int | None
    trace_id: str | None
    backoff: float | None
    claim: int
    group_id: int | None = None  # the workflow (group or chain) the job belongs to
    #: Where the job was enqueued, in the trace of the code that enqueued it: the W3C
    #: trace context as JSON (``jobtrail.observe.tracing``), when tracing was on.
    trace_context: str | None = None


class PathEvent(NamedTuple):
    """One entry of the path a running job records: a step, an effect or an event.

    ``result`` is the JSON text of a completed step's result, so a later attempt can
    return it without running the step again. An attempt's entries are stored together
    as one path segment (one row), written with its outcome or at a checkpoint.
    """

    kind: str
    name: str
    at: float
    duration: float | None = None
    attrs: dict[str, Any] | None = None
    result: str | None = None


class StepRecord(NamedTuple):
    """A step an earlier attempt completed: its JSON result, and the digest of the
    arguments it was called with (``None`` when they were none, or not comparable)."""

    result: str
    arguments: str | None = None


#: The completed steps of a job, by name, one entry per occurrence (None: not completed).
CompletedSteps = dict[str, list[StepRecord | None]]


class PathSegment(NamedTuple):
    """Path entries of one attempt of a running job, checkpointed before its outcome;
    written only while *claim* still holds the job."""

    job_id: int
    attempt: int
    events: Sequence[PathEvent]
    claim: int


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What a run that ended for good amounts to: its path variant (the recorded points
    in the path language), the code version that ran it, its divergences, and the
    milestones it reached (``ctx.event`` names, each once, with how many points of the
    variant came before it: its place in path order)."""

    job_name: str
    variant: str
    code_version: str | None = None
    findings: Sequence[Divergence] = ()
    milestones: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt ended. ``status`` is the job's next status.

    - ``succeeded``: ``result`` holds the JSON text of the return value.
    - ``retrying``: run again after ``retry_delay`` seconds; ``error`` says why.
    - ``dead`` / ``orphaned``: final; ``error`` says why.

    ``events`` are the path entries not written yet; ``duration`` is how long the attempt
    ran; ``run`` summarises a run that ended for good. ``claim`` is the claim the attempt
    ran under: the outcome applies only while that claim still holds the job.
    """

    job_id: int
    attempt: int
    status: Status
    result: str | None = None
    error: ErrorInfo | None = None
    retry_delay: float | None = None
    outcome: str | None = None
    events: Sequence[PathEvent] = field(default=())
    duration: float | None = None
    run: RunSummary | None = None
    claim: int = field(kw_only=True)
    #: A ``retrying`` outcome whose attempt does not count (a breaker it needed was open):
    #: the job waits ``retry_delay`` seconds and its next attempt has the same number.
    uncounted: bool = field(default=False, kw_only=True)
    #: What the attempt used (`jobtrail.resources`): the CPU seconds of the thread that
    #: ran it (``None`` for an async job, whose thread others share), and its process's
    #: peak resident memory in bytes as it ended.
    cpu: float | None = field(default=None, kw_only=True)
    max_rss: int | None = field(default=None, kw_only=True)
    #: Effect keys whose intent this attempt may have stored but whose call it never made
    #: (the intent's write failed as far as it knew): withdrawn with the outcome, while the
    #: claim holds the job, so they are not taken for uncertain by the next attempt.
    withdrawn: tuple[str, ...] = field(default=(), kw_only=True)

    @property
    def event_name(self) -> str:
        """The name of the lifecycle event that records this transition."""
        if self.uncounted:
            return "deferred"
        return "retry_scheduled" if self.status is Status.RETRYING else self.status.value


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A worker process as it announces itself in the workers table."""

    id: str
    hostname: str
    pid: int
    queues: tuple[str, ...] | None
    concurrency: int
    #: The process's CPU time so far (seconds) and peak resident memory (bytes), as of
    #: the heartbeat that carries them.
    cpu_seconds: float | None = None
    max_rss: int | None = None


@dataclass(frozen=True, slots=True)
class WorkerRecord:
    """A worker as the store last heard of it."""

    id: str
    hostname: str
    pid: int
    queues: tuple[str, ...] | None
    concurrency: int
    started_at: datetime
    last_seen: datetime
    cpu_seconds: float | None = None  # its process's CPU time, as of its last heartbeat
    max_rss: int | None = None  # its process's peak resident memory in bytes, likewise


@dataclass(frozen=True, slots=True)
class JobFilter:
    """What `Store.list_jobs` selects. Every field narrows; ``None`` means any.
    `parent_id` selects the children of one job (those it enqueued); `from_id` the jobs
    with that id or a later one (`before_id` is the cursor of a page, `from_id` a filter)."""

    statuses: tuple[Status, ...] | None = None
    queue: str | None = None
    job_name: str | None = None
    limit: int = 50
    before_id: int | None = None
    parent_id: int | None = None
    from_id: int | None = None


@dataclass(frozen=True, slots=True)
class DivergenceFilter:
    """What `Store.divergences` selects. Every field narrows; ``None`` means any."""

    job_name: str | None = None
    kind: str | None = None
    job_id: int | None = None
    since: datetime | None = None
    limit: int = 100
    before_id: int | None = None


@dataclass(frozen=True, slots=True)
class FiredTick:
    """The last tick a periodic job fired (`Store.schedules`): the tick (epoch seconds, as
    its schedule names it), the job it enqueued, and when the store fired it."""

    job_name: str
    last_tick: float
    job_id: int | None
    fired_at: datetime


@dataclass(frozen=True, slots=True)
class Limit:
    """One flow limit a claim respects, of a job type (``scope="job"``) or of a queue:
    at most ``concurrency`` attempts running at once (per concurrency key when ``keyed``),
    and at most ``rate`` claims per second, in bursts of at most ``burst``."""

    scope: Literal["job", "queue"]
    name: str
    concurrency: int | None = None
    keyed: bool = False
    rate: float | None = None
    burst: float = 1.0

    @property
    def bucket(self) -> str:
        """The name of its token bucket in the store."""
        return f"{self.scope}:{self.name}"


@dataclass(frozen=True, slots=True)
class FlowLimits:
    """What claims must respect: the limits, and the queues paused (none claimed)."""

    limits: tuple[Limit, ...] = ()
    paused: frozenset[str] = frozenset()

    @property
    def limited_jobs(self) -> list[str]:
        """The job types some limit applies to, by name."""
        return sorted({limit.name for limit in self.limits if limit.scope == "job"})

    @property
    def limited_queues(self) -> list[str]:
        """The queues a limit applies to."""
        return sorted({limit.name for limit in self.limits if limit.scope == "queue"})

    def applies_to(self, job_name: str, queue: str) -> bool:
        """Whether a limit applies to jobs of *job_name* in *queue*."""
        return any(limit.name == (job_name if limit.scope == "job" else queue)
                   for limit in self.limits)


NO_LIMITS = FlowLimits()


@dataclass(frozen=True, slots=True)
class LimitedClaim:
    """What `Store.claim_limited` leased, when a rate limit that held jobs back next lets
    one through (seconds from now; ``None`` when none did), and how many waiting jobs of
    the limits it read (0: a worker need not ask again until something changes)."""

    jobs: list[ClaimedJob]
    retry_after: float | None = None
    candidates: int = 0  # waiting jobs of the limits read: none means none waits
