"""`Store.capacity_stats`: per queue, the arrivals, claims and attempt durations of a window,
on the store's clock (run on both backends)."""

from __future__ import annotations

import pytest

from jobtrail.clock import ManualClock
from jobtrail.records import ErrorInfo, Status
from jobtrail.store import Store
from jobtrail.store.base import NewJob, Outcome

WORKER = "w-1"
#: How far real time may move a measured wait while a test runs.
SLACK = 5.0


def new(queue: str) -> NewJob:
    return NewJob(job_name="noop", queue=queue, payload="{}", max_attempts=3)


def run_once(store: Store, queue: str, status: Status, duration: float) -> None:
    """Claim the next job of *queue* and end its attempt with *status* after *duration*."""
    (job,) = store.claim(WORKER, [queue], 1, 600.0)
    error = None if status is Status.SUCCEEDED else ErrorInfo("Busy", "busy")
    outcome = Outcome(job.id, job.attempt, status, result="null" if error is None else None,
                      error=error, retry_delay=0.0 if status is Status.RETRYING else None,
                      duration=duration, claim=job.claim)
    assert store.finish(WORKER, [outcome]) == set()


def test_the_window_holds_arrivals_and_every_attempt_that_ended_in_it(
    store: Store, clock: ManualClock
) -> None:
    """Jobs created before the window are not arrivals, but their attempts that end in it
    count, retried ones too; an attempt that ended before the window does not."""
    store.enqueue([new("work"), new("work")])
    run_once(store, "work", Status.SUCCEEDED, 2.0)  # all before the window
    clock.advance(1000)
    since = clock.now() - 100
    run_once(store, "work", Status.RETRYING, 1.0)  # the old job, which waited 1000s
    run_once(store, "work", Status.SUCCEEDED, 3.0)
    store.enqueue([new("work"), new("work"), new("work"), new("mail")])
    run_once(store, "work", Status.SUCCEEDED, 0.5)
    rows = store.capacity_stats(since)
    assert [row[0] for row in rows] == ["mail", "work"]
    mail, work = rows
    _, arrivals, finished, claims, waited, attempts, busy, busy_squared = work
    assert (arrivals, finished, claims, attempts) == (3, 2, 2, 3)
    assert busy == pytest.approx(4.5) and busy_squared == pytest.approx(10.25)
    assert 0 <= waited < SLACK  # the retry ran at once; the new job was claimed at once
    assert tuple(mail[1:]) == (1, 0, 0, 0, 0, 0, 0)


def test_an_old_window_is_empty(store: Store, clock: ManualClock) -> None:
    """A window that begins after every job's last change holds no queue."""
    store.enqueue([new("work")])
    run_once(store, "work", Status.SUCCEEDED, 1.0)
    clock.advance(3600)
    assert store.capacity_stats(clock.now() - 60) == []


def test_a_claim_waits_from_its_run_at(store: Store, clock: ManualClock) -> None:
    """A claim in the window waited from its job's run_at (its creation here) to the claim."""
    store.enqueue([new("work")])
    since = clock.now() - 1
    clock.advance(30)
    run_once(store, "work", Status.SUCCEEDED, 1.0)
    (row,) = store.capacity_stats(since)
    assert row[3] == 1 and 30 <= row[4] < 30 + SLACK
