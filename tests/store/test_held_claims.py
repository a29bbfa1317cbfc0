"""What a PostgreSQL store remembers of the claims it handed over, while a worker's control
thread claims and releases and its outcome writer finishes, at the same time (real server)."""

from __future__ import annotations

import queue
import threading

import pytest

from jobtrail.errors import StoreRejected
from jobtrail.records import Status
from jobtrail.store import open_store
from jobtrail.store.base import ClaimedJob, JobFilter, NewJob, Outcome
from tests.conftest import _empty_pg

WORKER = "w-1"
JOBS = 300


@pytest.mark.postgres
def test_claims_and_finishes_from_two_threads_keep_the_held_claims_right(pg_url: str) -> None:
    """After a claim that failed, every claim first reclaims what the worker does not hold;
    with finishes and releases racing it from another thread, no claim is handed over twice,
    none is lost, every job ends once, and the store is left holding nothing."""
    from jobtrail.store.postgres import PostgresStore  # needs the postgres extra

    _empty_pg(pg_url)
    store = open_store(pg_url)
    assert isinstance(store, PostgresStore)
    try:
        store.enqueue([NewJob("j", "default", "{}", 3) for _ in range(JOBS)])
        with pytest.raises(StoreRejected):  # a lease too long for any timestamp
            store.claim(WORKER, None, 1, 1e300)
        assert store._claims.unsure(WORKER) == []  # the window for reclaims is open
        handed: list[tuple[int, int]] = []
        released: list[int] = []
        to_finish: queue.Queue[list[ClaimedJob] | None] = queue.Queue()
        lost: list[int] = []
        failures: list[BaseException] = []

        def control() -> None:
            try:
                while True:
                    claimed = store.claim(WORKER, None, 7, 30.0)
                    if not claimed and not store.counts().get(("default", Status.QUEUED)):
                        break
                    handed.extend((job.id, job.claim) for job in claimed)
                    if claimed and len(handed) % 5 == 0:
                        back = claimed.pop()
                        assert store.release(WORKER, [back.id]) == 1
                        released.append(back.id)
                    to_finish.put(claimed)
            except BaseException as exc:  # the test thread reports it
                failures.append(exc)
            finally:
                to_finish.put(None)

        def writer() -> None:
            try:
                while (batch := to_finish.get()) is not None:
                    outcomes = [Outcome(job.id, job.attempt, Status.SUCCEEDED, result="1",
                                        claim=job.claim) for job in batch]
                    lost.extend(store.finish(WORKER, outcomes))
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=control), threading.Thread(target=writer)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert failures == [] and lost == []
        assert len(handed) == len(set(handed)) == JOBS + len(released)
        assert released, "no release raced the finishes"
        done = store.list_jobs(JobFilter(limit=JOBS + 1))
        assert len(done) == JOBS and {job.status for job in done} == {Status.SUCCEEDED}
        assert store._claims.held(WORKER) == set()
        assert store.claim(WORKER, None, 7, 30.0) == []
    finally:
        store.close()
