"""What a store reports for the metrics read at each scrape (`Store.gauges`): the jobs by
queue, job type and status, how long each queue's oldest runnable job has waited, its
effects by state, and its workers with how long ago each was heard from.

Both backends read the same rows; `gauges` turns them into a `StoreGauges`. Every number
of time is in seconds, measured on the store's clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from jobtrail.records import Status
from jobtrail.store.values import WorkerRecord

#: The states of an effect in `StoreGauges.effects`: ``done`` and ``failed`` as recorded;
#: ``started`` while the attempt that began it still runs; ``uncertain`` when it began and
#: that attempt is gone (nobody knows whether it happened: an operator decides).
EFFECT_STATES = ("done", "failed", "started", "uncertain")
#: Seconds a PostgreSQL store lets the read of `Store.gauges` run before giving up.
GAUGES_TIMEOUT = 5.0

#: A row of the jobs: queue, job name, status, jobs, seconds since the earliest run_at of
#: those that may run now (None for none, or a status that does not wait).
JobRow = tuple[str, str, str, int, float | None]
#: A row of the effects: job name, state, effects.
EffectRow = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class WorkerAge:
    """A worker that has not said goodbye, and the seconds since it was last heard from."""

    id: str
    concurrency: int
    silent: float


@dataclass(frozen=True, slots=True)
class StoreGauges:
    """The store as one scrape found it, as of ``at`` (its clock).

    ``jobs`` holds a count for each (queue, job name, status) that has a job; ``oldest``
    the seconds the oldest runnable job of each queue has waited since its ``run_at`` (a
    queue with none is left out); ``effects`` a count for each (job name, state) that has
    an effect; ``workers`` every registered worker.
    """

    at: datetime
    jobs: dict[tuple[str, str, Status], int]
    oldest: dict[str, float]
    effects: dict[tuple[str, str], int]
    workers: tuple[WorkerAge, ...]


def gauges(at: datetime, jobs: Iterable[JobRow], effects: Iterable[EffectRow],
           workers: Sequence[WorkerRecord]) -> StoreGauges:
    """The gauges the rows of both backends make."""
    counts: dict[tuple[str, str, Status], int] = {}
    oldest: dict[str, float] = {}
    for queue, job_name, status, count, waited in jobs:
        counts[queue, job_name, Status(status)] = int(count)
        if waited is not None:
            seconds = max(0.0, float(waited))
            oldest[queue] = max(seconds, oldest.get(queue, 0.0))
    found = {(job_name, state): int(count) for job_name, state, count in effects}
    ages = tuple(WorkerAge(w.id, w.concurrency, max(0.0, (at - w.last_seen).total_seconds()))
                 for w in workers)
    return StoreGauges(at, counts, oldest, found, ages)
