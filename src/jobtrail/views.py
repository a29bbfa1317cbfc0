"""`JobViews`: what operators read of stored jobs, and what they do to them.

The part of `App` that reads jobs, their paths and effects, and carries out operators'
actions (replay, discard, cancel, resolving an effect), on one job or many (`jobtrail.bulk`:
in batches, one transaction each). Every record it returns is masked for the job's
declared-sensitive fields (`jobtrail.redaction.masked_job`): the fields stored with the
job, and those its job type declares here. Only the worker running a job sees its real
values.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from jobtrail import bulk, waiting
from jobtrail.bulk import Action, ActionTally, OnBatch
from jobtrail.errors import ConfigurationError, JobNotFound, JobtrailError
from jobtrail.limits import MAX_JOB_ID, before_bound, row_limit
from jobtrail.observers import Observers
from jobtrail.payload import encode_result
from jobtrail.records import Event, JobRecord, Status
from jobtrail.redaction import Redactor, masked_effect, masked_job
from jobtrail.store.actions import ActionResult, DeadLetterFilter
from jobtrail.store.base import EffectRecord, JobFilter, Store
from jobtrail.text import shown, storable
from jobtrail.waiting import Waiters

DEAD_LETTER_STATUSES = (Status.DEAD, Status.ORPHANED)


class Declared(Protocol):
    """A declared job type, as far as views need it: its sensitive fields."""

    @property
    def redact(self) -> frozenset[str]: ...


class JobViews:
    """Reading stored jobs and acting on them, masked for their sensitive fields. `App`
    is one; it provides the store, the declared job types and the observers."""

    registry: Mapping[str, Declared]
    observers: Observers
    waiters: Waiters

    @property
    def store(self) -> Store:
        raise NotImplementedError

    # -- reading -------------------------------------------------------------------------------
    def get(self, job_id: int) -> JobRecord:
        """The job with this id, with its ``path`` (the ordered events of all its
        attempts); raise `JobNotFound` when there is none."""
        record = self.store.get(_job_id(job_id))
        return self._masked(replace(record, path=tuple(self._events_of(record))))

    def wait(self, job_id: int, *, timeout: float | None = None) -> JobRecord:
        """Block until the job is in a final status and return it as `get` does (see
        `JobHandle.wait`)."""
        return waiting.wait(self, _job_id(job_id), timeout)

    async def wait_async(self, job_id: int, *, timeout: float | None = None) -> JobRecord:
        """`wait` without blocking the event loop."""
        return await waiting.wait_async(self, _job_id(job_id), timeout)

    def events(self, job_id: int) -> list[Event]:
        """The ordered path of a job across its attempts (as `get` gives it)."""
        return list(self.get(job_id).path)

    def jobs(
        self,
        *,
        status: Status | str | Sequence[Status | str] | None = None,
        queue: str | None = None,
        job_name: str | None = None,
        limit: int = 50,
        before_id: int | None = None,
        parent_id: int | None = None,
        from_id: int | None = None,
    ) -> list[JobRecord]:
        """Jobs, newest first, narrowed by status, queue, job name, the job that
        enqueued them (*parent_id*) and the first id wanted (*from_id*); paged by id: pass
        the last id of one page as *before_id* for the next."""
        if not _holdable(queue, job_name) or not _parent_holdable(parent_id):
            return []
        found = self.store.list_jobs(JobFilter(
            _statuses(status), queue, job_name, limit=row_limit(limit),
            before_id=before_bound(before_id), parent_id=parent_id,
            from_id=from_id,
        ))
        return [self._masked(record) for record in found]

    def count_jobs(
        self,
        *,
        status: Status | str | Sequence[Status | str] | None = None,
        queue: str | None = None,
        job_name: str | None = None,
        parent_id: int | None = None,
    ) -> int:
        """How many jobs `jobs` would list with these filters, page aside."""
        if not _holdable(queue, job_name) or not _parent_holdable(parent_id):
            return 0
        return self.store.count_jobs(JobFilter(_statuses(status), queue, job_name,
                                               parent_id=parent_id))

    def dead_letters(
        self,
        *,
        limit: int = 50,
        before_id: int | None = None,
        job_name: str | None = None,
        queue: str | None = None,
        error_type: str | None = None,
        since: datetime | None = None,
    ) -> list[JobRecord]:
        """Jobs in the dead-letter queue (``dead`` and ``orphaned``), newest first, narrowed
        by job name, queue, the class of their error (as stored, ``shop.Declined``, or
        without its module, ``Declined``) and when they ended (*since*); paged by id."""
        where = _dead_letter_filter(job_name, queue, error_type, since)
        if not _holdable(job_name, queue, error_type):
            return []
        found = self.store.dead_letters(
            replace(where, limit=row_limit(limit), before_id=before_bound(before_id)))
        return [self._masked(record) for record in found]

    def count_dead_letters(
        self,
        *,
        job_name: str | None = None,
        queue: str | None = None,
        error_type: str | None = None,
        since: datetime | None = None,
    ) -> int:
        """How many dead letters `dead_letters` would list with these filters, page aside."""
        if not _holdable(job_name, queue, error_type):
            return 0
        return self.store.count_dead_letters(
            _dead_letter_filter(job_name, queue, error_type, since))

    def dead_letter_ids(
        self,
        *,
        job_name: str | None = None,
        queue: str | None = None,
        error_type: str | None = None,
        since: datetime | None = None,
    ) -> list[int]:
        """The ids of every dead letter these filters select (as `dead_letters` does),
        newest first: what `replay_many` or `discard_many` would act on, to count or confirm
        first."""
        if not _holdable(job_name, queue, error_type):
            return []
        return bulk.dead_letter_ids(self.store,
                                    _dead_letter_filter(job_name, queue, error_type, since))

    def counts(self) -> dict[tuple[str, Status], int]:
        """How many jobs each (queue, status) holds."""
        return self.store.counts()

    def effects(self, job_id: int) -> list[EffectRecord]:
        """The effects a job started, with what the store knows of each."""
        job = self.store.get(_job_id(job_id))
        return self._masked_effects(job, self.store.effects(job.id))

    # -- operators -------------------------------------------------------------------------------
    def replay(self, job_id: int) -> JobRecord:
        """Queue a dead-lettered or cancelled job again (same id, attempts reset)."""
        with self._masked_errors(_job_id(job_id)):  # a refusal may quote an effect's key
            record = self.store.replay(_job_id(job_id))
        self.observers.replayed(record)
        return self._masked(record)

    def discard(self, job_id: int) -> JobRecord:
        """Remove a job from the dead-letter queue for good; it ends ``cancelled``."""
        record = self.store.discard(_job_id(job_id))
        self.observers.discarded(record)
        return self._masked(record)

    def cancel(self, job_id: int) -> JobRecord:
        """Cancel a job that has not started yet."""
        record = self.store.cancel(_job_id(job_id))
        self.observers.cancelled(record)
        return self._masked(record)

    def replay_many(self, job_ids: Iterable[int]) -> list[ActionResult]:
        """`replay` each of *job_ids*, in batches (one transaction each): one result per
        distinct id, in order. A job that cannot be replayed — unknown, not a dead letter or
        cancelled (any more), or with an uncertain effect — is reported and left as it is;
        the others are replayed."""
        return self._results("replay", job_ids)

    def discard_many(self, job_ids: Iterable[int]) -> list[ActionResult]:
        """`discard` each of *job_ids*, in batches, as `replay_many` does."""
        return self._results("discard", job_ids)

    def cancel_many(self, job_ids: Iterable[int]) -> list[ActionResult]:
        """`cancel` each of *job_ids*, in batches, as `replay_many` does."""
        return self._results("cancel", job_ids)

    def replay_dead_letters(
        self,
        *,
        job_name: str | None = None,
        queue: str | None = None,
        error_type: str | None = None,
        since: datetime | None = None,
        on_batch: OnBatch | None = None,
    ) -> ActionTally:
        """Replay every dead letter the filters select (`dead_letter_ids`), in batches of
        `jobtrail.bulk.BATCH_SIZE`, one transaction each, and count what was done. Jobs with
        an uncertain effect and jobs that moved on since they were selected are left and
        counted. *on_batch* is told of each batch's results once it is committed."""
        chosen = self.dead_letter_ids(job_name=job_name, queue=queue, error_type=error_type,
                                      since=since)
        return self._act_in_batches("replay", chosen, on_batch)

    def discard_dead_letters(
        self,
        *,
        job_name: str | None = None,
        queue: str | None = None,
        error_type: str | None = None,
        since: datetime | None = None,
        on_batch: OnBatch | None = None,
    ) -> ActionTally:
        """Discard every dead letter the filters select, as `replay_dead_letters` replays."""
        chosen = self.dead_letter_ids(job_name=job_name, queue=queue, error_type=error_type,
                                      since=since)
        return self._act_in_batches("discard", chosen, on_batch)

    def _act_in_batches(self, action: Action, job_ids: list[int],
                        on_batch: OnBatch | None) -> ActionTally:
        return bulk.run_batches(bulk.batches(job_ids), lambda page: self._act(action, page),
                                on_batch)

    def _results(self, action: Action, job_ids: Iterable[int]) -> list[ActionResult]:
        found: list[ActionResult] = []
        ids = (int(job_id) for job_id in job_ids)  # one no store holds: not found
        for page in bulk.batches(ids):
            found += self._act(action, page)
        return found

    def _act(self, action: Action, job_ids: list[int]) -> list[ActionResult]:
        """One batch of *action*, in one transaction; observers told of each job it changed."""
        if action == "replay":
            results, told = self.store.replay_many(job_ids), self.observers.replayed
        elif action == "discard":
            results, told = self.store.discard_many(job_ids), self.observers.discarded
        else:
            results, told = self.store.cancel_many(job_ids), self.observers.cancelled
        for result in results:
            if result.verdict == "done" and result.job is not None:
                told(result.job)
        return [self._masked_result(result) for result in results]

    def resolve_effect(
        self, job_id: int, name: str, outcome: str, result: Any = None
    ) -> EffectRecord:
        """Record an operator's verdict on an uncertain effect: ``outcome`` is ``"done"``
        (it happened; *result* is what it returned) or ``"not_done"`` (it did not). Replay
        the job afterwards: a done effect returns *result*, a not-done one runs again."""
        if outcome not in ("done", "not_done"):
            raise ConfigurationError(
                f"resolve_effect(outcome={outcome!r}): use 'done' or 'not_done'"
            )
        encoded = encode_result(result) if outcome == "done" else None
        with self._masked_errors(_job_id(job_id)):  # a refusal may quote the effect's key
            effect = self.store.resolve_effect(_job_id(job_id), name, outcome == "done",
                                               encoded)
        self.observers.effect_resolved(effect)
        return self._masked_effects(self.store.get(effect.job_id), [effect])[0]

    # -- masking -------------------------------------------------------------------------------
    def sensitive_fields(self, job: JobRecord) -> frozenset[str]:
        """The fields of *job* every view masks: stored with it, or declared by its type."""
        declared = self.registry.get(job.job_name)
        return job.redact | declared.redact if declared is not None else job.redact

    def _masked(self, job: JobRecord) -> JobRecord:
        return masked_job(job, self.sensitive_fields(job))

    def _masked_result(self, result: ActionResult) -> ActionResult:
        """*result* with its job masked, and its message too (a refusal may quote the key of
        an effect, made of the job's arguments)."""
        if result.job is None:
            return result
        message = result.message
        fields = self.sensitive_fields(result.job)
        if message is not None and fields:
            args = result.job.args if isinstance(result.job.args, dict) else {}
            message = Redactor(fields, args).text(message)
        return replace(result, job=self._masked(result.job), message=message)

    def _masked_effects(self, job: JobRecord, effects: list[EffectRecord]) -> list[EffectRecord]:
        fields = self.sensitive_fields(job)
        if not fields:
            return effects
        redactor = Redactor(fields, job.args if isinstance(job.args, dict) else {})
        return [masked_effect(e, redactor) for e in effects]

    @contextmanager
    def _masked_errors(self, job_id: int) -> Iterator[None]:
        """Re-raise a refusal about job *job_id* with its sensitive values masked."""
        try:
            yield
        except JobtrailError as exc:
            if type(exc).__init__ is not JobtrailError.__init__:
                raise
            job = self.store.get(job_id)
            fields = self.sensitive_fields(job)
            shown = Redactor(fields, job.args if isinstance(job.args, dict) else {}).text(
                str(exc)) if fields else str(exc)
            if shown == str(exc):
                raise
            raise type(exc)(shown) from None

    def _events_of(self, record: JobRecord) -> list[Event]:
        return [replace(e, parent_job_id=record.parent_job_id, trace_id=record.trace_id)
                for e in self.store.events(record.id)]


def _statuses(
    status: Status | str | Sequence[Status | str] | None,
) -> tuple[Status, ...] | None:
    """*status* (one, several or ``None`` for any) as the store filters by it."""
    if status is None:
        return None
    items = [status] if isinstance(status, str | Status) else list(status)
    try:
        return tuple(Status(s) for s in items)
    except ValueError as exc:
        allowed = ", ".join(s.value for s in Status)
        raise ConfigurationError(f"unknown status in {items!r}: use {allowed}") from exc


def _holdable(*names: str | None) -> bool:
    """False when a filter names what no store can hold (a NUL, a lone surrogate, as a
    command line's undecodable bytes give): no job matches it, on every backend alike."""
    return all(name is None or storable(name) == name for name in names)


def _dead_letter_filter(
    job_name: str | None, queue: str | None, error_type: str | None, since: datetime | None,
) -> DeadLetterFilter:
    """The store's filter for dead letters; a *since* with no zone is read as UTC."""
    if error_type is not None and not error_type.strip():
        raise ConfigurationError("an empty error class matches nothing: name one, e.g. NameError")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return DeadLetterFilter(job_name, queue, error_type, since)


def _parent_holdable(parent_id: int | None) -> bool:
    """Whether a store may hold children of *parent_id* (any, when it is ``None``): an id
    out of the range of ids has none."""
    return parent_id is None or 1 <= int(parent_id) <= MAX_JOB_ID


def _job_id(job_id: int) -> int:
    """*job_id* as an int; one no store can hold (ids run from 1 to 2**63 - 1) is simply
    not found, the same on every backend, before any query."""
    number = int(job_id)
    if not 1 <= number <= MAX_JOB_ID:
        raise JobNotFound(f"no job with id {shown(number)}")
    return number
