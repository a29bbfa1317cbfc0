"""The `Store` contract: the semantic operations every storage backend provides.

A backend owns its SQL; callers never see it. Each operation that changes a job's
status writes the new status and the event recording that transition in one
transaction, so the path of a job can never disagree with its state.

Time: the store's clock decides (the database server's for PostgreSQL, so leases work
across machines whose clocks differ; the store's `jobtrail.clock.Clock` for SQLite, whose
offset PostgreSQL adds to its own). Callers pass *delays* in seconds, or absolute times
when a user gave one.

The values the operations take and give (`NewJob`, `ClaimedJob`, `Outcome`, ...) live in
`jobtrail.store.values` and are named here too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from jobtrail.records import Divergence, ErrorInfo, Event, JobRecord, RunRecord, Status
from jobtrail.store.actions import ActionResult, DeadLetterFilter
from jobtrail.store.breakers import Action, BreakerRecord, BreakerSettings
from jobtrail.store.gauges import StoreGauges
from jobtrail.store.glance import SAMPLE, Glance
from jobtrail.store.governance import GovernanceStore
from jobtrail.store.queues import QueueReport
from jobtrail.store.values import (
    ClaimedJob,
    CompletedSteps,
    DivergenceFilter,
    EffectRecord,
    EffectStatus,
    Enqueued,
    FiredTick,
    FlowLimits,
    JobFilter,
    Limit,
    LimitedClaim,
    NewJob,
    Outcome,
    PathEvent,
    PathSegment,
    RunSummary,
    StepRecord,
    WorkerInfo,
    WorkerRecord,
)
from jobtrail.store.workflows import State, WorkflowRecord

__all__ = [
    "ClaimedJob",
    "CompletedSteps",
    "DivergenceFilter",
    "EffectRecord",
    "EffectStatus",
    "Enqueued",
    "FiredTick",
    "FlowLimits",
    "JobFilter",
    "Limit",
    "LimitedClaim",
    "NewJob",
    "Outcome",
    "PathEvent",
    "PathSegment",
    "RunSummary",
    "StepRecord",
    "Store",
    "StoreGauges",
    "Watch",
    "WorkerInfo",
    "WorkerRecord",
]


class Watch(Protocol):
    """A running watcher started by `Store.watch`."""

    def stop(self) -> None:
        """Stop watching and release the watcher's connection."""


@runtime_checkable
class Store(GovernanceStore, Protocol):
    """The storage contract. Every method is safe to call from any thread."""

    url: str
    # True when writes on several connections proceed at once (PostgreSQL), so a worker
    # gains by writing outcomes on a thread of its own; False when they take turns on
    # one lock (SQLite).
    concurrent_writes: bool

    # -- schema ---------------------------------------------------------------
    def migrate(self) -> list[int]:
        """Apply pending migrations in order; return the versions applied."""

    def schema_version(self) -> int:
        """The newest migration applied to the database (0 for an empty one)."""

    # -- producing --------------------------------------------------------------
    def enqueue(self, jobs: Sequence[NewJob], connection: Any = None,
                max_depth: Mapping[str, int] | None = None) -> list[Enqueued]:
        """Store *jobs* in one transaction (the caller's, when *connection* is given)
        and return their ids in order. Wakes idle workers. A queue named in *max_depth*
        that would then hold more jobs waiting to run than its number refuses them all
        (`QueueFull`): the count and the insert are one transaction that no other
        enqueue into that queue runs beside.

        A job with an ``idempotency_key`` that a stored job (or a receipt) already holds
        is not stored again: its id comes back marked ``deduplicated`` — unless the
        payload hashes differ (`IdempotencyConflict`), or that job finished more than
        ``key_retention`` seconds ago (the key is then free again)."""

    def fire(self, job_name: str, tick: float, job: NewJob, attrs: dict[str, Any]
             ) -> Enqueued | None:
        """Enqueue *job* for the tick *tick* of its schedule, unless that tick (or a later
        one) of *job_name* was fired already: then ``None``. Moving the job's last tick
        forward and enqueueing it (with a ``scheduled`` event holding *attrs*) are one
        transaction, so of the schedulers firing one tick exactly one enqueues it."""

    def schedules(self) -> dict[str, FiredTick]:
        """The last tick each periodic job fired, by job name."""

    def enqueue_workflow(self, kind: str, members: Sequence[NewJob],
                         then_calls: Sequence[NewJob], on_failure: NewJob | None,
                         trace_id: str | None) -> tuple[int, list[Enqueued]]:
        """Store a workflow (``kind`` ``"group"`` or ``"chain"``) and its *members* in one
        transaction: its id and theirs. *then_calls* are enqueued, in order, once every
        member succeeded, *on_failure* if one fails (see `jobtrail.store.workflows`)."""

    def settle_groups(self, group_ids: Sequence[int] | None = None
                      ) -> list[tuple[int, State]]:
        """Decide the workflows *group_ids* whose members are done or one failed (``None``:
        those a sweep finds due), each once, enqueueing what follows in the same
        transaction: the (id, state) of each decided."""

    def workflow(self, workflow_id: int) -> WorkflowRecord:
        """The workflow *workflow_id*; `JobNotFound` when there is none."""

    def breakers(self, names: Sequence[str]) -> dict[str, BreakerRecord]:
        """The circuit breakers named that ever changed, by name."""

    def breaker_apply(self, name: str, action: Action,
                      settings: BreakerSettings) -> BreakerRecord:
        """Apply *action* to the breaker *name* (its row locked), as
        `jobtrail.store.breakers.apply` says: its record after."""

    # -- the worker's loop ----------------------------------------------------------
    def claim(
        self, worker_id: str, queues: Sequence[str] | None, limit: int, lease: float,
        flow: FlowLimits | None = None,
    ) -> list[ClaimedJob]:
        """Lease up to *limit* runnable jobs (highest priority, then oldest ``run_at``)
        to *worker_id* for *lease* seconds, counting an attempt for each — none of the
        jobs *flow*'s limits apply to (`claim_limited` claims those), nor of its paused
        queues."""

    def claim_limited(self, worker_id: str, queues: Sequence[str] | None, limit: int,
                      lease: float, flow: FlowLimits) -> LimitedClaim:
        """As `claim`, for the jobs *flow*'s limits apply to: only as many as every limit
        that applies to each has room for (see `jobtrail.store.flow`)."""

    def claim_job(self, worker_id: str, job_id: int, lease: float) -> ClaimedJob | None:
        """Lease the job *job_id* to *worker_id* as `claim` would, whatever its ``run_at``
        (brought forward to now), when it waits to run (``queued`` or ``retrying``);
        ``None``, changing nothing, when it does not (``jobtrail run`` runs the job it just
        stored this way)."""

    def heartbeat(self, worker: WorkerInfo, job_ids: Sequence[int], lease: float) -> set[int]:
        """Extend the leases *worker* holds on *job_ids*; mark the worker alive.
        Return the ids whose lease the worker no longer holds."""

    def finish(self, worker_id: str, outcomes: Sequence[Outcome]) -> set[int]:
        """Apply *outcomes* with their events in one transaction. An outcome whose job
        is no longer leased to *worker_id* under the outcome's claim is not applied; return
        the ids of those. A value the database refuses raises `StoreRejected`."""

    def completed_steps(self, job_ids: Sequence[int]) -> dict[int, CompletedSteps]:
        """For each job, the steps its earlier attempts completed: by step name, one
        `StepRecord` per occurrence (the n-th call of that name in an attempt), ``None``
        for an occurrence no attempt completed. Occurrences are counted within each claim,
        replayed ones included; of an occurrence completed twice, the later counts."""

    def saved_path(self, job_id: int) -> list[PathEvent]:
        """The path entries the job's furthest claim saved (its checkpoints, the entries
        written with its effects and its outcome), in order: what a run that died recorded
        before it died. Each claim replays what the earlier ones completed, so the claim
        that saved the most points went furthest (of those that saved as many, the latest)."""

    def checkpoint(self, worker_id: str, segments: Sequence[PathSegment]) -> None:
        """Write path segments of running jobs, for those the worker still holds under the
        segment's claim, so steps completed so far survive a crash before the outcome."""

    def begin_effect(
        self, job_id: int, claim: int, attempt: int, name: str, key: str, repeat_safe: bool,
        segment: Sequence[PathEvent] = (),
    ) -> EffectRecord | None:
        """Record the intent to perform effect *key*, durably, before the call — and, in
        the same transaction, *segment*: the path entries the attempt recorded since its
        last write, so that what it did before the effect survives a crash during it.

        An intent *claim* already recorded for *key* (a retry whose first answer was lost)
        is returned as ``None`` again without writing *segment* twice.

        Returns ``None`` when the caller may perform it now. Returns the existing record,
        changing nothing but writing *segment*, when the key is ``done`` (the caller
        returns its result) or ``started`` under any other claim and not *repeat_safe*
        (the outcome is uncertain). A *repeat_safe* effect ``started`` under another claim
        is begun again, marked ``repeated`` for good, and that earlier ``started`` record
        returned, so the caller knows it may run twice. Raises `LeaseLost`, changing
        nothing, when *claim* no longer holds the running job."""

    def end_effect(
        self, key: str, job_id: int, claim: int, result: str | None, error: str | None,
        segment: Sequence[PathEvent] = (),
    ) -> None:
        """Record that the call for *key* returned *result* (``done``) or raised (``failed``),
        if the key is still the one *claim* began — and, in the same transaction, *segment*:
        the path entries recorded since the intent, the effect's own entry last. An end
        already recorded by *claim* (a retry whose first answer was lost) changes nothing
        and writes no segment again."""

    def effects(self, job_id: int) -> list[EffectRecord]:
        """Every effect a job started, oldest first."""

    def resolve_effect(
        self, job_id: int, name: str, done: bool, result: str | None
    ) -> EffectRecord:
        """An operator's verdict on an uncertain effect: it happened (``done``) or not."""

    def release(self, worker_id: str, job_ids: Sequence[int]) -> int:
        """Give back leases without counting the attempt (graceful shutdown)."""

    def reap_expired(self, limit: int = 500) -> list[int]:
        """Turn up to *limit* expired leases into retries (or dead letters when attempts are
        spent); return the ids of those jobs."""

    def record_run(self, job_id: int, attempt: int, summary: RunSummary) -> bool:
        """Store the summary of a run that ended for good without one (a job dead-lettered
        because its worker died): its variant, code version, milestones and divergences,
        for attempt *attempt*. False, changing nothing, when the job is not final or
        already has a summary."""

    def expire_worker(self, worker_id: str, error: ErrorInfo) -> list[int]:
        """End at once the leases of a worker known to be dead, as `reap_expired` would
        when they expire, with *error* as the reason; return the ids of those jobs."""

    def next_run_at(self, queues: Sequence[str] | None,
                    flow: FlowLimits | None = None) -> datetime | None:
        """When the next waiting job becomes runnable, or ``None`` if nothing waits."""

    def watch(self, on_change: Callable[[], None]) -> Watch:
        """Call *on_change* (from another thread) soon after new work may be available."""

    def watch_finished(self, on_finished: Callable[[frozenset[int] | None], None]) -> Watch:
        """Call *on_finished* (from another thread) soon after jobs reach a final status,
        with their ids, or ``None`` when any job may have (the backend cannot tell which,
        or its watcher was away: look at the jobs of interest)."""

    # -- reading ---------------------------------------------------------------
    def get(self, job_id: int) -> JobRecord:
        """The job with this id; raise `JobNotFound` when there is none."""

    def statuses(self, job_ids: Sequence[int]) -> dict[int, Status]:
        """The status of each of *job_ids* that exists, in one read."""

    def list_jobs(self, where: JobFilter) -> list[JobRecord]:
        """Jobs matching *where*, newest first."""

    def count_jobs(self, where: JobFilter) -> int:
        """How many jobs match *where*, its limit and ``before_id`` aside."""

    def dead_letters(self, where: DeadLetterFilter) -> list[JobRecord]:
        """Dead letters matching *where*, newest first: up to ``limit`` of them, with ids
        below ``before_id`` (keyset paging: pass the last id of one page to get the next)."""

    def count_dead_letters(self, where: DeadLetterFilter) -> int:
        """How many dead letters match *where*, its limit and ``before_id`` aside."""

    def events(self, job_id: int) -> list[Event]:
        """The ordered path of a job over all its attempts."""

    def counts(self) -> dict[tuple[str, Status], int]:
        """How many jobs each (queue, status) holds."""

    def queue_stats(self, window: float) -> QueueReport:
        """Every queue that holds a job: its jobs by status, the age of its oldest runnable
        job, and over the last *window* seconds the jobs finished and the 95th percentile
        of the waits of claims (see `QueueStats`), all on the store's clock."""

    def job_id_by_key(self, key: str) -> int | None:
        """The id of the job that holds idempotency key *key*, or whose receipt does (the
        job itself may have been pruned since); ``None`` when no job does."""

    def queue_glance(self, window: float, sample: int = SAMPLE) -> Glance:
        """Every queue with a job waiting, running, dead or recently ended: read from indexes
        only, at most *sample* of the newest jobs that ended, so that its cost does not grow
        with the jobs that finished (see `jobtrail.store.glance`), on the store's clock."""

    def gauges(self) -> StoreGauges:
        """What the metrics read at each scrape (`jobtrail.metrics`), in one read: the jobs
        by queue, job name and status, the age of each queue's oldest runnable job, the
        effects by job name and state, and the workers with the seconds since each was
        heard from, on the store's clock. A full pass over the jobs and effects; PostgreSQL
        gives up after `jobtrail.store.gauges.GAUGES_TIMEOUT` seconds."""

    def divergences(self, where: DivergenceFilter) -> list[Divergence]:
        """Stored divergences matching *where*, newest first."""

    def divergence_counts(self, where: DivergenceFilter, *, newest: int | None = None
                          ) -> dict[tuple[str, str], int]:
        """How many divergences matching *where* (its limit aside) each (job name, kind) has;
        with *newest*, counting only the newest *newest* of them (a bounded read)."""

    def runs(self, job_name: str, since: datetime | None = None, *,
             limit: int | None = None) -> list[RunRecord]:
        """Runs of *job_name* that ended for good (since *since*), oldest first; with
        *limit*, only the newest *limit* of them, read by index newest first (a bounded
        read, however many runs the job has)."""

    def run_names(self, limit: int) -> list[tuple[str, datetime]]:
        """The job names that have runs that ended for good, by name (at most *limit*),
        each with the time its newest run ended: a step per name, however many runs."""

    def children(self, parent_ids: Sequence[int], job_name: str) -> list[JobRecord]:
        """Jobs named *job_name* whose parent is one of *parent_ids*."""

    def milestones(self, name: str, since: datetime | None = None, *,
                   within: int | None = None) -> list[Event]:
        """Every ``event`` entry named *name* that any job recorded (since *since*),
        oldest first: a scan of stored paths, for reports rather than the hot path. With
        *within*, only the paths among the newest *within* rows of events are read (a
        bounded read: see `events_horizon`)."""

    def events_horizon(self, within: int) -> datetime | None:
        """Since when ``milestones(..., within=within)`` sees every milestone: the time of
        the oldest of the newest *within* rows of events (``None`` when the store holds no
        more rows than that, so that the read sees them all)."""

    def attempt_usage(self, since: float, limit: int) -> list[tuple[Any, ...]]:
        """What `jobtrail.resources` aggregates: the attempts that ended since *since*
        (epoch seconds), at most *limit*, newest first, as (job name, duration, lifecycle
        attributes as JSON text)."""

    def retry_stats(self, since: float, newest: int | None = None
                    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """What `jobtrail.retries` analyses, since *since* (epoch seconds): the jobs ended,
        as (job name, status, jobs, attempts, jobs with more than one attempt), and the
        retries scheduled, as (job name, attributes as JSON text); of each, the *newest*
        at most (``None``: all)."""

    def capacity_stats(self, since: float) -> list[tuple[Any, ...]]:
        """What `jobtrail.capacity` models, per queue active since *since* (epoch seconds),
        by queue name: (queue, jobs created, jobs ended for good, claims, seconds those
        claims waited, attempts ended, sum of their durations, sum of their squared
        durations). It costs a pass over the jobs (their times have no index), and the
        events of the jobs active in the window, read by job."""

    def job_links(self) -> list[tuple[str, str, int]]:
        """Which job types enqueued which in recorded runs: (parent job name, child job
        name, how many children)."""

    def workers(self) -> list[WorkerRecord]:
        """Workers that announced themselves and have not said goodbye."""

    # -- operators ---------------------------------------------------------------
    def replay(self, job_id: int) -> JobRecord:
        """Queue a dead, orphaned or cancelled job again under the same id, attempts reset.
        Refuse (`InvalidTransition`) while one of its effects is uncertain: it must be
        resolved first, or the replay could perform it a second time."""

    def discard(self, job_id: int) -> JobRecord:
        """Take a dead or orphaned job out of the dead-letter queue for good (``cancelled``)."""

    def cancel(self, job_id: int) -> JobRecord:
        """Cancel a job that is still waiting to run."""

    def replay_many(self, job_ids: Sequence[int]) -> list[ActionResult]:
        """`replay` each job of a batch, in one transaction; one result per distinct id, in
        the order given. A job that cannot be replayed (unknown, its status, an uncertain
        effect) is reported and left as it is; the others are replayed."""

    def discard_many(self, job_ids: Sequence[int]) -> list[ActionResult]:
        """`discard` each job of a batch, in one transaction, as `replay_many` does."""

    def cancel_many(self, job_ids: Sequence[int]) -> list[ActionResult]:
        """`cancel` each job of a batch, in one transaction, as `replay_many` does."""

    def unregister_worker(self, worker_id: str) -> None:
        """Remove a worker that stopped cleanly."""

    #: Who operators' actions through this store are taken by, recorded on their events:
    #: the actor acting in this thread or task (`jobtrail.access.acting_as`) first.
    actor: str | None

    def close(self) -> None:
        """Close every connection this store opened in this process."""
