"""What the dashboard's overview and the health checks read of the queues
(`Store.queue_glance`): a glance whose cost does not grow with the jobs that finished.

`Store.queue_stats` counts every job by status, a pass over the whole table. A glance reads
only what indexes hold: the waiting jobs (the claim index), the running jobs and the dead
letters (their partial indexes), and the newest jobs that ended (the index of their end
times), at most ``sample`` of those. From the ends it gives each queue its jobs ended and
failed per bucket of time over the history (the overview's sparklines), and over the
window its throughput and the 95th percentile of its waits.

When the sample runs out before the history does (more than ``sample`` ends in an hour),
`Glance.whole_since` says from when its figures are whole: older buckets are unknown
(``None``), and the rates are those of the time the sample covers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from jobtrail.records import Status

__all__ = ["HISTORY_BUCKETS", "MAX_SAMPLE", "SAMPLE", "WAIT_SAMPLE", "WINDOW_BUCKETS", "Glance",
           "QueueGlance", "check_sample", "glance"]

#: The buckets of one window, and of the whole history the sparklines show.
WINDOW_BUCKETS = 5
HISTORY_BUCKETS = 60
#: The ends a glance reads at most, by default.
SAMPLE = 20_000
#: The newest ends of the window whose waits give the 95th percentile, at most: enough for
#: a percentile within a third of a point, and a sort of 5,000 values rather than 20,000.
WAIT_SAMPLE = 5_000
#: The most ends a glance may be asked to read.
MAX_SAMPLE = 1_000_000
#: The statuses of jobs a worker ended that count as failed.
FAILED = frozenset({Status.DEAD.value, Status.ORPHANED.value})

#: A row of the waiting jobs: queue, jobs, of which waiting for their run_at, seconds the
#: earliest runnable has waited (None for none).
WaitingRow = tuple[str, int, int, float | None]
#: A row of the running jobs or the dead letters: queue, status, jobs.
HeldRow = tuple[str, str, int]
#: A row of the ends: queue, status, bucket (0 the newest), jobs, earliest end (epoch s).
EndedRow = tuple[str, str, int, int, float]
#: A row of the waits: queue, the wait at the percentile, waits measured.
WaitRow = tuple[str, float, int]

Counts = tuple[int | None, ...]


@dataclass(frozen=True, slots=True)
class QueueGlance:
    """One queue at a glance.

    ``ready`` waiting jobs may run now, ``scheduled`` wait for their ``run_at``;
    ``oldest_ready`` is how long the runnable one that has waited longest has waited.
    ``ended`` and ``failed`` are the jobs workers ended (succeeded, dead or orphaned), and of
    them those that failed, per bucket, oldest first (``None``: before the figures are
    whole); ``window_ended`` and ``window_failed`` those of the window. ``p95_wait`` is the
    95th percentile (nearest rank) of the waits, from ``run_at`` to the last claim, of the
    ``started`` jobs ended in the window whose wait is known.
    """

    queue: str
    ready: int = 0
    scheduled: int = 0
    oldest_ready: float | None = None
    running: int = 0
    dead: int = 0
    orphaned: int = 0
    ended: Counts = ()
    failed: Counts = ()
    window_ended: int = 0
    window_failed: int = 0
    started: int = 0
    p95_wait: float | None = None

    @property
    def waiting(self) -> int:
        """The jobs waiting, runnable or not."""
        return self.ready + self.scheduled


@dataclass(frozen=True, slots=True)
class Glance:
    """Every queue with a job waiting, running, dead or recently ended, by name, as of
    ``at``; buckets of ``bucket`` seconds, ``WINDOW_BUCKETS`` to a window."""

    at: datetime
    window: float
    bucket: float
    sampled: int
    sample: int
    whole_since: datetime
    queues: tuple[QueueGlance, ...] = ()

    @property
    def covered(self) -> float:
        """The seconds of the window the figures cover (less than the window only when
        more jobs ended than the sample holds)."""
        return max(1e-9, min(self.window, (self.at - self.whole_since).total_seconds()))

    @property
    def truncated(self) -> bool:
        """Whether the sample ran out before the history did."""
        return self.whole_since > self.at - timedelta(seconds=self.bucket * HISTORY_BUCKETS)

    def per_minute(self, queue: QueueGlance) -> float:
        """The jobs *queue*'s workers ended per minute over the window."""
        return queue.window_ended * 60.0 / self.covered

    def bucket_starts(self) -> list[datetime]:
        """When each bucket begins, oldest first."""
        return [self.at - timedelta(seconds=self.bucket * (HISTORY_BUCKETS - index))
                for index in range(HISTORY_BUCKETS)]


def check_sample(sample: int) -> int:
    """*sample*, or `ValueError` when it is not a whole number from 1 to `MAX_SAMPLE`."""
    if isinstance(sample, bool) or not isinstance(sample, int) or not 1 <= sample <= MAX_SAMPLE:
        raise ValueError(f"queue_glance() reads from 1 to {MAX_SAMPLE:,} ended jobs, "
                         f"got sample={sample!r}")
    return sample


def glance(at: datetime, now: float, window: float, sample: int,
           waiting: Iterable[WaitingRow], held: Iterable[HeldRow], ended: Iterable[EndedRow],
           waits: Iterable[WaitRow]) -> Glance:
    """The glance the rows of the four reads make, as of *at* (*now* in epoch seconds),
    queues sorted by name."""
    bucket = window / WINDOW_BUCKETS
    tallies: dict[str, _Tally] = {}

    def tally(queue: str) -> _Tally:
        return tallies.setdefault(queue, _Tally())

    for queue, jobs, scheduled, oldest in waiting:
        found = tally(queue)
        found.ready, found.scheduled = jobs - scheduled, scheduled
        found.oldest = None if oldest is None else max(0.0, float(oldest))
    for queue, status, jobs in held:
        tally(queue).held[status] = jobs
    ended_rows = list(ended)
    sampled = sum(row[3] for row in ended_rows)
    earliest = min((row[4] for row in ended_rows), default=now)
    # The bucket holding the earliest end read is whole only when nothing was left unread.
    cut = HISTORY_BUCKETS if sampled < sample else int((now - earliest) // bucket)
    for queue, status, index, jobs, _ in ended_rows:
        # An end stamped after `now` (another process's clock, or a job that ended between
        # the reads) is of the newest bucket.
        tally(queue).end(max(0, min(index, HISTORY_BUCKETS - 1)), status in FAILED, jobs)
    for queue, wait, total in waits:
        found = tally(queue)
        found.wait, found.started = max(0.0, float(wait)), total
    whole_since = at - timedelta(seconds=bucket * HISTORY_BUCKETS) if sampled < sample \
        else at - timedelta(seconds=now - earliest)
    queues = tuple(tallies[name].glance(name, cut) for name in sorted(tallies))
    return Glance(at, window, bucket, sampled, sample, whole_since, queues)


@dataclass(slots=True)
class _Tally:
    """One queue's numbers while its rows are read."""

    ready: int = 0
    scheduled: int = 0
    oldest: float | None = None
    held: dict[str, int] = field(default_factory=dict)
    ended: list[int] = field(default_factory=lambda: [0] * HISTORY_BUCKETS)
    failed: list[int] = field(default_factory=lambda: [0] * HISTORY_BUCKETS)
    wait: float | None = None
    started: int = 0

    def end(self, index: int, failed: bool, jobs: int) -> None:
        self.ended[index] += jobs
        if failed:
            self.failed[index] += jobs

    def glance(self, queue: str, cut: int) -> QueueGlance:
        def oldest_first(counts: list[int]) -> Counts:
            return tuple(None if index >= cut else counts[index]
                         for index in reversed(range(HISTORY_BUCKETS)))

        return QueueGlance(
            queue, self.ready, self.scheduled, self.oldest,
            self.held.get(Status.RUNNING.value, 0), self.held.get(Status.DEAD.value, 0),
            self.held.get(Status.ORPHANED.value, 0), oldest_first(self.ended),
            oldest_first(self.failed), sum(self.ended[:WINDOW_BUCKETS]),
            sum(self.failed[:WINDOW_BUCKETS]), self.started, self.wait,
        )
