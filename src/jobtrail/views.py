"""`JobViews`: what operators read of stored jobs, and what they do to them.

The part of `App` that reads jobs, their paths and effects, and carries out operators'
actions (replay, discard, cancel, resolving an effect). Every record it returns is masked
for the job's declared-sensitive fields (`jobtrail.redaction.masked_job`): the fields
stored with the job, and those its job type declares here. Only the worker running a job
sees its real values.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Protocol

from jobtrail import waiting
from jobtrail.errors import ConfigurationError, JobNotFound, JobtrailError
from jobtrail.limits import MAX_JOB_ID, before_bound, row_limit
from jobtrail.observers import Observers
from jobtrail.payload import encode_result
from jobtrail.records import Event, JobRecord, Status
from jobtrail.redaction import Redactor, masked_effect, masked_job
from jobtrail.store.base import EffectRecord, JobFilter, Store
from jobtrail.text import shown
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
    ) -> list[JobRecord]:
        """Jobs, newest first, narrowed by status, queue and job name."""
        statuses = None
        if status is not None:
            items = [status] if isinstance(status, str | Status) else list(status)
            try:
                statuses = tuple(Status(s) for s in items)
            except ValueError as exc:
                allowed = ", ".join(s.value for s in Status)
                raise ConfigurationError(f"unknown status in {items!r}: use {allowed}") from exc
        found = self.store.list_jobs(JobFilter(
            statuses, queue, job_name, limit=row_limit(limit), before_id=before_bound(before_id)
        ))
        return [self._masked(record) for record in found]

    def dead_letters(self, *, limit: int = 50, before_id: int | None = None) -> list[JobRecord]:
        """Jobs in the dead-letter queue (``dead`` and ``orphaned``), newest first."""
        return self.jobs(status=DEAD_LETTER_STATUSES, limit=limit, before_id=before_id)

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


def _job_id(job_id: int) -> int:
    """*job_id* as an int; one no store can hold (ids run from 1 to 2**63 - 1) is simply
    not found, the same on every backend, before any query."""
    number = int(job_id)
    if not 1 <= number <= MAX_JOB_ID:
        raise JobNotFound(f"no job with id {shown(number)}")
    return number
