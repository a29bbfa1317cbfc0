"""`Store.queue_glance`: each queue's waiting, running and dead jobs, and what the newest
jobs that ended say of its throughput, failures and waits, per bucket of time, read from
indexes only (run on both backends)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobtrail.clock import ManualClock
from jobtrail.records import ErrorInfo, Status
from jobtrail.store import Store
from jobtrail.store.base import JobFilter, NewJob, Outcome
from jobtrail.store.glance import (
    HISTORY_BUCKETS,
    MAX_SAMPLE,
    WINDOW_BUCKETS,
    QueueGlance,
    glance,
)

WORKER = "w-1"
#: How far real time may move a measured wait or age while a test runs.
SLACK = 5.0


def new(queue: str = "default", **options: object) -> NewJob:
    return NewJob(job_name="noop", queue=queue, payload="{}", max_attempts=3, **options)  # type: ignore[arg-type]


def one(store: Store, queue: str, window: float = 300.0, sample: int = 20_000) -> QueueGlance:
    (found,) = [q for q in store.queue_glance(window, sample).queues if q.queue == queue]
    return found


def end(store: Store, count: int, clock: ManualClock, every: float = 1.0,
        status: Status = Status.SUCCEEDED, queue: str = "default") -> None:
    """Enqueue *count* jobs on *queue* and end each after waiting *every* seconds."""
    store.enqueue([new(queue) for _ in range(count)])
    for _ in range(count):
        clock.advance(every)
        (job,) = store.claim(WORKER, [queue], 1, 600.0)
        error = None if status is Status.SUCCEEDED else ErrorInfo("ValueError", "boom")
        assert store.finish(WORKER, [Outcome(job.id, job.attempt, status, error=error,
                                             result="null", claim=job.claim)]) == set()


def test_an_empty_store_glances_at_no_queue_as_of_its_clock(store: Store, clock: ManualClock) -> None:
    """With no job there is no queue; the glance's time is the store's clock, and its
    figures are whole over the hour."""
    clock.advance(86_400)
    found = store.queue_glance(300)
    assert found.queues == () and found.sampled == 0 and not found.truncated
    assert abs(found.at.timestamp() - clock.now()) < SLACK
    assert found.bucket == 300 / WINDOW_BUCKETS and len(found.bucket_starts()) == HISTORY_BUCKETS


def test_waiting_running_and_dead_jobs_are_counted_per_queue(
    store: Store, clock: ManualClock
) -> None:
    """Ready and scheduled jobs, the oldest ready's age, running jobs and dead letters are
    each queue's, on the store's clock."""
    store.enqueue([new("mail"), new("mail", delay=600), new("default"), new("default")])
    clock.advance(30)
    (claimed,) = store.claim(WORKER, ["default"], 1, 600.0)
    assert store.finish(WORKER, [Outcome(claimed.id, 1, Status.DEAD, claim=claimed.claim,
                                         error=ErrorInfo("ValueError", "no"))]) == set()
    store.claim(WORKER, ["default"], 1, 600.0)
    default, mail = store.queue_glance(300).queues
    assert (mail.queue, mail.ready, mail.scheduled, mail.running, mail.dead) == ("mail", 1, 1, 0, 0)
    assert mail.oldest_ready is not None and 30 <= mail.oldest_ready < 30 + SLACK
    assert (default.ready, default.running, default.dead, default.oldest_ready) == (0, 1, 1, None)
    assert (default.window_ended, default.window_failed) == (1, 1)


def test_ends_fall_in_buckets_and_the_window_gives_throughput_and_p95_wait(
    store: Store, clock: ManualClock
) -> None:
    """Twenty jobs ended a second apart after waits of 1 to 20 s: all in the newest bucket,
    4 a minute over five minutes, the 19th wait at the 95th percentile; ten minutes later
    they have moved ten buckets back and left the window."""
    end(store, 20, clock)
    found = store.queue_glance(300)
    (stats,) = found.queues
    assert stats.ended[-1] == 20 and sum(v or 0 for v in stats.ended) == 20
    assert stats.window_ended == 20 and stats.started == 20
    assert found.per_minute(stats) == pytest.approx(4.0)
    assert stats.p95_wait is not None and 19 <= stats.p95_wait < 19 + SLACK
    clock.advance(600)
    (later,) = store.queue_glance(300).queues
    assert later.ended[-11] == 20 and later.window_ended == 0 and later.p95_wait is None


def test_failures_are_counted_apart_from_successes(store: Store, clock: ManualClock) -> None:
    """Dead and orphaned ends count as failed; cancelled jobs are no worker's end."""
    end(store, 3, clock)
    end(store, 2, clock, status=Status.DEAD)
    (cancelled,) = store.enqueue([new()])
    store.cancel(cancelled)
    (stats,) = store.queue_glance(300).queues
    assert (stats.window_ended, stats.window_failed, stats.dead) == (5, 2, 2)
    assert stats.failed[-1] == 2


def test_an_hour_old_end_is_out_of_the_history(store: Store, clock: ManualClock) -> None:
    """Ends older than the history (twelve windows) are not read: the queue is gone from
    the glance once nothing else holds it there."""
    end(store, 2, clock)
    clock.advance(300 * 12 + 1)
    assert store.queue_glance(300).queues == ()


def test_a_sample_too_small_for_the_hour_says_from_when_it_is_whole(
    store: Store, clock: ManualClock
) -> None:
    """With more ends than the sample, older buckets are unknown (None) and the rate is
    that of the time the sample covers."""
    end(store, 10, clock, every=60.0)
    found = store.queue_glance(300, sample=4)
    (stats,) = found.queues
    assert found.truncated and found.sampled == 4
    assert stats.ended[:-5] == (None,) * (HISTORY_BUCKETS - 5)
    assert stats.window_ended == 4 and found.covered == pytest.approx(180, abs=SLACK)
    assert found.per_minute(stats) == pytest.approx(4 * 60 / found.covered)


@pytest.mark.parametrize("sample", [0, -1, MAX_SAMPLE + 1, True, 2.5])
def test_a_sample_out_of_range_is_refused(store: Store, sample: object) -> None:
    """A sample that is not a whole number from 1 to MAX_SAMPLE is a ValueError naming it."""
    with pytest.raises(ValueError, match="sample="):
        store.queue_glance(300, sample)  # type: ignore[arg-type]


def test_a_replayed_dead_letter_leaves_the_dead_and_the_ends_and_waits_again(
    store: Store, clock: ManualClock
) -> None:
    """Replaying a dead job takes it out of the dead letters and of the window's ends
    (and failures): the glance shows it waiting again, not twice."""
    end(store, 1, clock, status=Status.DEAD)
    (before,) = store.queue_glance(300).queues
    assert (before.dead, before.window_ended, before.window_failed, before.ready) == (1, 1, 1, 0)
    (dead,) = store.list_jobs(JobFilter(statuses=(Status.DEAD,)))
    store.replay(dead.id)
    (after,) = store.queue_glance(300).queues
    assert (after.dead, after.window_ended, after.window_failed, after.ready) == (0, 0, 0, 1)


def test_an_end_stamped_after_the_glance_counts_in_the_newest_bucket() -> None:
    """An end later than the glance's clock (another process's clock, or a job that ended
    between its reads) is of the newest bucket and of the window, never the oldest."""
    at = datetime(2026, 12, 6, tzinfo=UTC)
    found = glance(at, at.timestamp(), 300.0, 20_000, [], [],
                   [("default", "succeeded", -1, 2, at.timestamp() + 1.0)], [])
    (stats,) = found.queues
    assert stats.ended[-1] == 2 and stats.ended[0] == 0 and stats.window_ended == 2
