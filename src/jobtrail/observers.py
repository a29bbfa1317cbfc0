"""Lifecycle observers: told of every change to jobs once it is committed.

```python
class Counting(Observer):
    def finished(self, outcomes):
        for outcome in outcomes:
            counts[outcome.status] += 1

app.observe(Counting())
```

An `Observer` overrides the methods of the changes it cares about; the others do
nothing. Each is called after the change is in the store, in the process that made it:

- `enqueued` — jobs stored by ``enqueue``/``enqueue_many``/``ctx.enqueue`` (a
  deduplicated enqueue is reported too, marked so);
- `finished` — outcomes of attempts a worker wrote (retries, successes, dead letters);
- `lease_expired` — jobs whose worker stopped renewing its lease, or died
  (the reaper, or the supervisor of a dead worker process);
- `released` — running jobs a stopping worker gave back;
- `replayed`, `cancelled`, `discarded`, `effect_resolved` — operators' actions.

An observer that raises is logged on ``jobtrail.observers`` and the others still run: an
observer never changes or blocks what it observes. Keep them quick — `finished` runs on
the worker's outcome writer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from jobtrail.records import JobRecord
from jobtrail.store.base import EffectRecord, Outcome

log = logging.getLogger("jobtrail.observers")


@dataclass(frozen=True, slots=True)
class EnqueuedJob:
    """A job an ``enqueue`` stored (or found stored under its idempotency key)."""

    id: int
    job_name: str
    queue: str
    deduplicated: bool = False
    parent_job_id: int | None = None


class Observer:
    """Base of lifecycle observers: override what you observe (see the module docstring)."""

    def enqueued(self, jobs: Sequence[EnqueuedJob]) -> None:
        """Jobs were stored."""

    def finished(self, outcomes: Sequence[Outcome]) -> None:
        """Attempts ended and their outcomes were written."""

    def lease_expired(self, job_ids: Sequence[int]) -> None:
        """Jobs were taken back from a worker that stopped renewing its lease, or died."""

    def released(self, job_ids: Sequence[int]) -> None:
        """A stopping worker gave running jobs back to the queue."""

    def replayed(self, job: JobRecord) -> None:
        """An operator queued a dead, orphaned or cancelled job again."""

    def cancelled(self, job: JobRecord) -> None:
        """An operator cancelled a waiting job."""

    def discarded(self, job: JobRecord) -> None:
        """An operator took a job out of the dead-letter queue for good."""

    def effect_resolved(self, effect: EffectRecord) -> None:
        """An operator recorded what happened to an uncertain effect."""


class Observers(Observer):
    """The observers of an app, told in the order they were added; one that fails is
    logged and skipped."""

    def __init__(self) -> None:
        self._observers: list[Observer] = []

    def add(self, observer: Observer) -> None:
        """Tell *observer* of every change from now on."""
        self._observers.append(observer)

    def __bool__(self) -> bool:
        return bool(self._observers)

    def enqueued(self, jobs: Sequence[EnqueuedJob]) -> None:
        for observer in self._observers:
            _call(observer, "enqueued", observer.enqueued, jobs)

    def finished(self, outcomes: Sequence[Outcome]) -> None:
        for observer in self._observers:
            _call(observer, "finished", observer.finished, outcomes)

    def lease_expired(self, job_ids: Sequence[int]) -> None:
        for observer in self._observers:
            _call(observer, "lease_expired", observer.lease_expired, job_ids)

    def released(self, job_ids: Sequence[int]) -> None:
        for observer in self._observers:
            _call(observer, "released", observer.released, job_ids)

    def replayed(self, job: JobRecord) -> None:
        for observer in self._observers:
            _call(observer, "replayed", observer.replayed, job)

    def cancelled(self, job: JobRecord) -> None:
        for observer in self._observers:
            _call(observer, "cancelled", observer.cancelled, job)

    def discarded(self, job: JobRecord) -> None:
        for observer in self._observers:
            _call(observer, "discarded", observer.discarded, job)

    def effect_resolved(self, effect: EffectRecord) -> None:
        for observer in self._observers:
            _call(observer, "effect_resolved", observer.effect_resolved, effect)


def _call(observer: Observer, what: str, method: object, argument: object) -> None:
    try:
        method(argument)  # type: ignore[operator]
    except Exception:
        log.exception("observer %r failed on %s", observer, what)
