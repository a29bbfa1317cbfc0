"""What a store reports of its queues (`Store.queue_stats`): how many jobs each holds by
status, how long its oldest runnable job has waited, and what it did over a recent window.

Both backends read the same rows, one per (queue, status), and one per queue for the wait
of its recent claims; `report` turns them into a `QueueReport`. Every number of time is in
seconds, measured on the store's clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from jobtrail.records import Status

#: The statuses of jobs a worker finished: what throughput counts. (``cancelled`` is an
#: operator's doing, and a discarded dead letter would otherwise count twice.)
WORKED = frozenset({Status.SUCCEEDED, Status.DEAD, Status.ORPHANED})
#: The longest window `Store.queue_stats` looks back over, in seconds: a year and a day.
MAX_WINDOW = 366 * 86400.0
#: The percentile of the wait `QueueStats.p95_wait` reports, in hundredths (nearest rank).
WAIT_PERCENTILE = 95


def _no_counts() -> Mapping[Status, int]:
    return MappingProxyType({status: 0 for status in Status})


@dataclass(frozen=True, slots=True)
class QueueStats:
    """One queue, as `Store.queue_stats` found it.

    ``counts`` holds every status (0 for none). Of the waiting jobs (``queued`` and
    ``retrying``), ``ready`` may run now and ``scheduled`` wait for their ``run_at`` (a
    delay, a retry's backoff); ``oldest_ready`` is how long the runnable one that has
    waited longest has waited since its ``run_at`` (``None`` when none is runnable).

    Over the window: ``finished`` jobs a worker ended (succeeded, dead or orphaned);
    ``started`` claims whose wait is known (each job's latest claim, while no retry,
    expired lease or operator has moved its ``run_at`` since), and ``p95_wait`` the 95th
    percentile (nearest rank) of their waits from ``run_at`` to the claim.
    """

    queue: str
    counts: Mapping[Status, int] = field(default_factory=_no_counts)
    ready: int = 0
    scheduled: int = 0
    oldest_ready: float | None = None
    finished: int = 0
    started: int = 0
    p95_wait: float | None = None

    @property
    def total(self) -> int:
        """Every job of the queue, whatever its status."""
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class QueueReport:
    """Every queue that holds a job, by name, as of ``at`` (the store's clock), with what
    happened over the ``window`` seconds before it."""

    at: datetime
    window: float
    queues: tuple[QueueStats, ...] = ()

    def per_minute(self, stats: QueueStats) -> float:
        """The throughput of *stats*' queue over the window: jobs finished per minute."""
        return stats.finished * 60.0 / self.window


#: A row of the counts: queue, status, jobs, those waiting for their run_at, seconds since
#: the earliest run_at of those that may run now (None for none), jobs finished in the window.
CountRow = tuple[str, str, int, int, float | None, int]
#: A row of the waits: queue, the wait at the percentile, claims measured.
WaitRow = tuple[str, float, int]


def check_window(window: float) -> float:
    """*window* as a float, or `ValueError` when it is not a number of seconds above 0 and
    at most `MAX_WINDOW`."""
    seconds = float(window)
    if not 0 < seconds <= MAX_WINDOW:  # NaN too
        raise ValueError(f"queue_stats() looks back over more than 0 and at most "
                         f"{MAX_WINDOW:g} seconds, got {window!r}")
    return seconds


def wait_rank(total: int) -> int:
    """The rank (from 1) of the nearest-rank percentile among *total* sorted waits: the
    formula both backends' SQL computes, ``ceil(total * WAIT_PERCENTILE / 100)``."""
    return max(1, (WAIT_PERCENTILE * total + 99) // 100)


def report(at: datetime, window: float, counts: Iterable[CountRow],
           waits: Iterable[WaitRow]) -> QueueReport:
    """The report the rows of both queries make, queues sorted by name."""
    found: dict[str, _Tally] = {}
    for queue, status_name, jobs, scheduled, oldest, finished in counts:
        found.setdefault(queue, _Tally()).add(Status(status_name), jobs, scheduled, oldest,
                                              finished)
    waited = {queue: (wait, total) for queue, wait, total in waits}
    queues = []
    for queue in sorted(found.keys() | waited.keys()):
        tally = found.get(queue) or _Tally()
        wait, started = waited.get(queue, (None, 0))
        queues.append(QueueStats(
            queue, MappingProxyType(tally.counts), tally.ready, tally.scheduled,
            None if tally.oldest is None else max(0.0, tally.oldest), tally.finished,
            started, None if wait is None else max(0.0, float(wait)),
        ))
    return QueueReport(at, window, tuple(queues))


@dataclass(slots=True)
class _Tally:
    """One queue's numbers while its rows are read."""

    counts: dict[Status, int] = field(default_factory=lambda: dict.fromkeys(Status, 0))
    ready: int = 0
    scheduled: int = 0
    oldest: float | None = None
    finished: int = 0

    def add(self, status: Status, jobs: int, scheduled: int, oldest: float | None,
            finished: int) -> None:
        self.counts[status] += jobs
        if status.is_waiting:
            self.ready += jobs - scheduled
            self.scheduled += scheduled
            if oldest is not None:
                self.oldest = oldest if self.oldest is None else max(self.oldest, oldest)
        if status in WORKED:
            self.finished += finished
