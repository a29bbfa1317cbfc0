"""What waiting and running one job need of a store: the statuses of many jobs in one read,
a watch of jobs that finished, and a claim of one job by id (run on SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from jobtrail.clock import ManualClock
from jobtrail.records import Status
from jobtrail.store import Store
from jobtrail.store.base import NewJob, Outcome

WORKER = "w-1"


def new(max_attempts: int = 3) -> NewJob:
    return NewJob(job_name="noop", queue="default", payload='{"n":1}', max_attempts=max_attempts)


class Heard:
    """What a `Store.watch_finished` callback was told, for a test to wait on."""

    def __init__(self) -> None:
        self.reports: list[frozenset[int] | None] = []
        self._changed = threading.Condition()

    def __call__(self, ids: frozenset[int] | None) -> None:
        with self._changed:
            self.reports.append(ids)
            self._changed.notify_all()

    def wait_for(self, job_ids: set[int], after: int,
                 timeout: float = 10.0) -> list[frozenset[int] | None]:
        """The reports after the first *after*, once they name every id of *job_ids* or
        one says any job may have finished (``None``)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                fresh = self.reports[after:]
                named: set[int] = set().union(*(r for r in fresh if r is not None))
                if job_ids <= named or None in fresh:
                    return fresh
                left = deadline - time.monotonic()
                assert left > 0, f"heard {self.reports}, not {job_ids}"
                self._changed.wait(left)


@contextmanager
def watching(store: Store) -> Iterator[Heard]:
    heard = Heard()
    watch = store.watch_finished(heard)
    try:
        deadline = time.monotonic() + 10
        while not heard.reports:  # the first report: the watch is listening
            assert time.monotonic() < deadline, "the watch never started"
            time.sleep(0.01)
        yield heard
    finally:
        watch.stop()


def test_statuses_reads_each_existing_job_once(store: Store) -> None:
    """`statuses` answers for every id that exists, in one call, and leaves out the others."""
    ids = store.enqueue([new() for _ in range(3)])
    (claimed,) = store.claim(WORKER, None, 1, 30.0)
    store.finish(WORKER, [Outcome(claimed.id, 1, Status.SUCCEEDED, result="1", claim=claimed.claim)])
    assert store.statuses([*ids, 10_000]) == {ids[0]: Status.SUCCEEDED, ids[1]: Status.QUEUED,
                                              ids[2]: Status.QUEUED}
    assert store.statuses([]) == {}


def test_statuses_of_more_ids_than_one_statement_binds(store: Store) -> None:
    """Thousands of ids are read in chunks, none lost."""
    ids = store.enqueue([new() for _ in range(1_200)])
    assert store.statuses(ids) == dict.fromkeys(ids, Status.QUEUED)


def test_claim_job_leases_that_job_whatever_its_run_at(store: Store) -> None:
    """`claim_job` takes the job named, even one scheduled later, as `claim` would: one
    attempt counted, a claim token, a ``claimed`` event."""
    first, later = store.enqueue([new(), NewJob("noop", "default", "{}", 3, delay=3600)])
    claimed = store.claim_job(WORKER, later, 30.0)
    assert claimed is not None and (claimed.id, claimed.attempt) == (later, 1)
    record = store.get(later)
    assert record.status is Status.RUNNING and record.worker_id == WORKER
    assert [e.name for e in store.events(later)] == ["enqueued", "claimed"]
    assert store.get(first).status is Status.QUEUED
    assert store.finish(WORKER, [Outcome(later, 1, Status.SUCCEEDED, result="2",
                                         claim=claimed.claim)]) == set()


def test_claim_job_of_a_job_not_waiting_changes_nothing(store: Store) -> None:
    """A running, finished or unknown job is not claimed again: ``None``, nothing written."""
    (job_id,) = store.enqueue([new()])
    assert store.claim_job(WORKER, job_id, 30.0) is not None
    assert store.claim_job("w-2", job_id, 30.0) is None
    assert store.get(job_id).worker_id == WORKER
    assert store.claim_job(WORKER, 10_000, 30.0) is None
    assert [e.name for e in store.events(job_id)] == ["enqueued", "claimed"]


def test_claim_job_races_a_worker_and_one_wins(store: Store) -> None:
    """When a worker's claim and `claim_job` meet on one job, exactly one holds it."""
    (job_id,) = store.enqueue([new()])
    found: list[object] = []
    threads = [threading.Thread(target=lambda: found.extend(store.claim("w-2", None, 1, 30.0))),
               threading.Thread(target=lambda: found.append(store.claim_job(WORKER, job_id, 30.0)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([job for job in found if job is not None]) == 1
    assert store.get(job_id).attempts == 1


def test_the_watch_hears_of_a_finish(store: Store, backend: str) -> None:
    """A job that succeeds is reported: by id on PostgreSQL, as "any job may have" on SQLite."""
    (job_id,) = store.enqueue([new()])
    (claimed,) = store.claim(WORKER, None, 1, 30.0)
    with watching(store) as heard:
        count = len(heard.reports)
        store.finish(WORKER, [Outcome(job_id, 1, Status.SUCCEEDED, result="1", claim=claimed.claim)])
        reports = heard.wait_for({job_id}, count)
    assert reports == ([frozenset({job_id})] if backend == "postgres" else [None])


@pytest.mark.postgres
def test_one_notification_per_finish_carries_every_final_id(pg_url: str) -> None:
    """One `finish` of several outcomes sends one notification naming the jobs that ended
    for good, and none for a retry."""
    from jobtrail.store import open_store

    store = open_store(pg_url)
    try:
        ids = store.enqueue([new() for _ in range(3)])
        claimed = store.claim(WORKER, None, 3, 30.0)
        with watching(store) as heard:
            count = len(heard.reports)
            store.finish(WORKER, [
                Outcome(claimed[0].id, 1, Status.SUCCEEDED, result="1", claim=claimed[0].claim),
                Outcome(claimed[1].id, 1, Status.DEAD, claim=claimed[1].claim),
                Outcome(claimed[2].id, 1, Status.RETRYING, retry_delay=60, claim=claimed[2].claim),
            ])
            heard.wait_for({ids[0], ids[1]}, count)
            time.sleep(0.3)  # a second notification would have come by now
            assert heard.reports[count:] == [frozenset({ids[0], ids[1]})]
            store.finish(WORKER, [])  # nothing finished: nothing sent
            time.sleep(0.3)
            assert len(heard.reports) == count + 1
    finally:
        store.close()


def test_cancel_and_a_last_lost_lease_are_heard(store: Store, clock: ManualClock,
                                                backend: str) -> None:
    """Jobs that end for good by an operator's cancel or a lost last attempt are reported."""
    waiting, leased = store.enqueue([new(), new(max_attempts=1)])
    store.claim_job("dead-worker", leased, 30.0)
    with watching(store) as heard:
        count = len(heard.reports)
        store.cancel(waiting)
        clock.advance(31)
        assert store.reap_expired() == [leased]
        reports = heard.wait_for({waiting, leased}, count)
    assert store.get(leased).status is Status.DEAD
    assert reports == ([frozenset({waiting}), frozenset({leased})] if backend == "postgres"
                       else [None])


@pytest.mark.postgres
def test_nothing_is_notified_while_no_waiter_listens(pg_url: str) -> None:
    """Finishes notify only while a waiters' connection is open: with none, a plain LISTEN
    hears nothing (the drain pays no notification lock); once one is open, it hears the ids."""
    import psycopg

    from jobtrail.store import open_store

    store = open_store(pg_url)
    plain = psycopg.connect(pg_url, autocommit=True)
    try:
        plain.execute("LISTEN jobtrail_finished")
        first, second = store.enqueue([new(), new()])
        claimed = {job.id: job for job in store.claim(WORKER, None, 2, 30.0)}
        store.finish(WORKER, [Outcome(first, 1, Status.SUCCEEDED, claim=claimed[first].claim)])
        assert [n.payload for n in plain.notifies(timeout=0.5)] == []
        with watching(store):
            store.finish(WORKER, [Outcome(second, 1, Status.DEAD, claim=claimed[second].claim)])
            assert [n.payload for n in plain.notifies(timeout=0.5)] == [str(second)]
    finally:
        plain.close()
        store.close()
