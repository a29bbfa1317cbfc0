"""`Store.queue_stats`: each queue's jobs by status, the age of its oldest runnable job, and
its throughput and p95 wait over a window, on the store's clock (run on both backends)."""

from __future__ import annotations

import math

import pytest

from jobtrail.clock import ManualClock
from jobtrail.records import ErrorInfo, Status
from jobtrail.store import Store
from jobtrail.store.base import NewJob, Outcome
from jobtrail.store.queues import MAX_WINDOW, QueueStats, wait_rank

WORKER = "w-1"
#: How far real time may move a measured wait or age while a test runs.
SLACK = 5.0


def new(queue: str = "default", **options: object) -> NewJob:
    return NewJob(job_name="noop", queue=queue, payload="{}", max_attempts=3, **options)  # type: ignore[arg-type]


def one(store: Store, queue: str, window: float = 300.0) -> QueueStats:
    (found,) = [q for q in store.queue_stats(window).queues if q.queue == queue]
    return found


def succeed(store: Store, job_id: int, attempt: int, claim: int) -> None:
    assert store.finish(WORKER, [Outcome(job_id, attempt, Status.SUCCEEDED, result="null",
                                         claim=claim)]) == set()


def test_an_empty_store_reports_no_queue_as_of_its_clock(store: Store, clock: ManualClock) -> None:
    """With no job there is no queue; the report's time is the store's clock, not the
    system's."""
    clock.advance(86_400)
    report = store.queue_stats(300)
    assert report.queues == () and report.window == 300.0
    assert abs(report.at.timestamp() - clock.now()) < SLACK


def test_every_status_is_counted_per_queue(store: Store) -> None:
    """Each queue holding a job has every status, zero for none, and totals add up."""
    store.enqueue([new("mail"), new("mail"), new("default")])
    (claimed,) = store.claim(WORKER, ["default"], 1, 30.0)
    report = store.queue_stats(300)
    assert [q.queue for q in report.queues] == ["default", "mail"]
    default, mail = report.queues
    assert set(mail.counts) == set(Status)
    assert mail.counts[Status.QUEUED] == 2 and mail.total == 2 and mail.ready == 2
    assert default.counts[Status.RUNNING] == 1 and default.counts[Status.QUEUED] == 0
    assert default.total == 1 and claimed.queue == "default"


def test_waiting_jobs_are_ready_or_scheduled_and_the_oldest_ready_ages(
    store: Store, clock: ManualClock
) -> None:
    """A delayed job is scheduled until its run_at, then ready; the oldest ready job's age
    is the time since its run_at, on the store's clock."""
    store.enqueue([new(), new(delay=600)])
    first = one(store, "default")
    assert (first.ready, first.scheduled) == (1, 1)
    assert first.oldest_ready is not None and first.oldest_ready < SLACK
    clock.advance(900)
    later = one(store, "default")
    assert (later.ready, later.scheduled) == (2, 0)
    assert later.oldest_ready is not None and 900 <= later.oldest_ready < 900 + SLACK


def test_a_queue_with_nothing_runnable_has_no_oldest_ready(store: Store) -> None:
    """Only jobs that may run count for the oldest age: a queue whose jobs all wait for
    their time reports none."""
    store.enqueue([new(delay=3600)])
    stats = one(store, "default")
    assert (stats.ready, stats.scheduled, stats.oldest_ready) == (0, 1, None)


def test_throughput_and_p95_wait_cover_the_window_on_the_store_clock(
    store: Store, clock: ManualClock
) -> None:
    """Twenty jobs claimed after waits of 1 to 20 seconds and finished: twenty finished in
    the window, the 95th percentile (nearest rank) is the 19th wait; an hour later on the
    store's clock the window holds none of them."""
    ids = store.enqueue([new() for _ in range(20)])
    for _ in ids:
        clock.advance(1)
        (job,) = store.claim(WORKER, None, 1, 600.0)
        succeed(store, job.id, job.attempt, job.claim)
    stats = one(store, "default")
    assert (stats.finished, stats.started) == (20, 20)
    assert stats.p95_wait is not None and 19 <= stats.p95_wait < 19 + SLACK
    report = store.queue_stats(300)
    assert report.per_minute(report.queues[0]) == pytest.approx(4.0)
    clock.advance(3600)
    gone = one(store, "default")
    assert (gone.finished, gone.started, gone.p95_wait) == (0, 0, None)
    assert gone.counts[Status.SUCCEEDED] == 20


def test_a_short_window_counts_only_what_happened_in_it(store: Store, clock: ManualClock) -> None:
    """A job finished ten minutes ago is outside a five-minute window and inside an hour."""
    (job_id,) = store.enqueue([new()])
    (job,) = store.claim(WORKER, None, 1, 600.0)
    succeed(store, job.id, job.attempt, job.claim)
    clock.advance(600)
    assert one(store, "default", 300).finished == 0
    assert one(store, "default", 3600).finished == 1 and job.id == job_id


def test_a_job_waiting_to_retry_is_scheduled_and_its_lost_wait_is_not_measured(
    store: Store, clock: ManualClock
) -> None:
    """A failed attempt waiting for its backoff is scheduled, not ready, and its claim's wait
    (its run_at moved by the retry) is left out of the p95; dead and cancelled jobs are
    finished and not, respectively."""
    retried, dead, cancelled = store.enqueue([new(), new(), new()])
    claimed = {job.id: job for job in store.claim(WORKER, None, 2, 600.0)}
    error = ErrorInfo("ValueError", "boom")
    assert store.finish(WORKER, [
        Outcome(retried, 1, Status.RETRYING, error=error, retry_delay=120.0,
                claim=claimed[retried].claim),
        Outcome(dead, 1, Status.DEAD, error=error, claim=claimed[dead].claim),
    ]) == set()
    store.cancel(cancelled)
    stats = one(store, "default")
    assert stats.counts[Status.RETRYING] == 1 and (stats.ready, stats.scheduled) == (0, 1)
    assert (stats.finished, stats.started) == (1, 1)
    clock.advance(121)
    assert one(store, "default").ready == 1


@pytest.mark.parametrize("window", [0.0, -5.0, MAX_WINDOW + 1, math.inf, math.nan])
def test_a_window_out_of_range_is_refused(store: Store, window: float) -> None:
    """The window is more than 0 seconds and at most a year and a day."""
    with pytest.raises(ValueError, match="looks back over more than 0"):
        store.queue_stats(window)


def test_the_percentile_rank_is_the_nearest_rank() -> None:
    """The rank both backends pick is ceil(95% of n), never below 1."""
    assert [wait_rank(n) for n in (1, 2, 19, 20, 21, 100, 101)] == [1, 2, 19, 19, 20, 95, 96]
