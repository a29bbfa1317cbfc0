"""History retention on both backends: finished jobs older than the retention removed with
everything stored about them, a batch per transaction, each batch recorded in the audit
trail — which still verifies, while a removal nobody recorded is still caught."""

from __future__ import annotations

import json
import time

import pytest

from jobtrail import App
from jobtrail.audit import verify
from jobtrail.audit.sealer import Sealer
from jobtrail.audit.sealing import seal_all
from jobtrail.clock import ManualClock
from jobtrail.errors import ConfigurationError
from jobtrail.records import Status
from jobtrail.retention import Retention, prune
from jobtrail.store import Store
from jobtrail.store.base import NewJob, Outcome
from tests.support import rawsql

WORKER = "w-retention"
DAY = 86_400.0


def finish(store: Store, ids: list[int], status: Status = Status.SUCCEEDED) -> None:
    """Claim the jobs *ids* (and only them) and finish each with *status*."""
    claimed = [job for job in store.claim(WORKER, None, 1000, 30.0) if job.id in ids]
    assert sorted(job.id for job in claimed) == sorted(ids)
    for job in claimed:  # an effect each, so that their effects are removed with them
        store.begin_effect(job.id, job.claim, job.attempt, "charge", f"charge-{job.id}", False)
    store.finish(WORKER, [Outcome(job.id, job.attempt, status, result="1", claim=job.claim,
                                  duration=0.001) for job in claimed])


def enqueue(store: Store, count: int, *, delay: float | None = None,
            parent_job_id: int | None = None) -> list[int]:
    return [int(i) for i in store.enqueue([
        NewJob("j", "default", f'{{"n":{n}}}', 1, delay=delay, parent_job_id=parent_job_id)
        for n in range(count)])]


def job_ids(db_url: str) -> set[int]:
    return {row[0] for row in rawsql.fetch(db_url, "SELECT id FROM jobtrail_jobs")}


def test_old_finished_jobs_go_with_everything_stored_about_them(
        store: Store, db_url: str, clock: ManualClock) -> None:
    """Jobs that succeeded or were cancelled before the cut-off are removed with their
    events, effects and divergences; newer ones, dead letters and live jobs stay."""
    old = enqueue(store, 5)
    finish(store, old)
    dead = enqueue(store, 1)
    finish(store, dead, Status.DEAD)
    cancelled = enqueue(store, 1, delay=3600.0)
    store.cancel(cancelled[0])
    waiting = enqueue(store, 2, delay=10 * DAY)
    clock.advance(3 * DAY)
    recent = enqueue(store, 2)
    finish(store, recent)
    assert rawsql.fetch(db_url, f"SELECT count(*) FROM jobtrail_events WHERE job_id = {old[0]}"
                        )[0][0] >= 3
    done = prune(store, 2 * DAY, batch=2)
    assert (done.jobs, done.batches) == (6, 3)
    assert job_ids(db_url) == set(dead + waiting + recent)
    gone = ", ".join(map(str, old + cancelled))
    assert rawsql.fetch(db_url, "SELECT count(*) FROM jobtrail_effects") == [(3,)]  # 1+2 kept
    for table in ("jobtrail_events", "jobtrail_effects", "jobtrail_divergences"):
        assert rawsql.fetch(db_url, f"SELECT count(*) FROM {table} WHERE job_id IN ({gone})"
                            ) == [(0,)]
    records = rawsql.fetch(db_url, "SELECT attrs FROM jobtrail_events WHERE job_id = 0 AND "
                                   "name = 'history_pruned' ORDER BY id")
    assert len(records) == 3
    assert prune(store, 2 * DAY).jobs == 0  # nothing left


def test_a_parent_waits_for_its_children(store: Store, db_url: str, clock: ManualClock) -> None:
    """A finished parent whose child is still to run is kept until the child finishes."""
    parent = enqueue(store, 1)
    finish(store, parent)
    child = enqueue(store, 1, parent_job_id=parent[0], delay=2 * DAY)
    clock.advance(3 * DAY)
    assert prune(store, DAY).jobs == 0
    finish(store, child)
    clock.advance(2 * DAY)
    newest = enqueue(store, 1)
    assert prune(store, DAY).jobs == 2 and job_ids(db_url) == set(newest)


def test_the_newest_job_stays_so_that_no_id_is_used_twice(
        store: Store, db_url: str, clock: ManualClock) -> None:
    """The job with the highest id is never removed: on SQLite its id would be given again
    to the next job, and a receipt or an export naming it would name another job."""
    old = enqueue(store, 3)
    finish(store, old)
    clock.advance(2 * DAY)
    assert prune(store, DAY).jobs == 2 and job_ids(db_url) == {old[-1]}
    assert enqueue(store, 1)[0] > old[-1]


def test_the_trail_verifies_after_a_prune_but_not_after_an_unrecorded_delete(
        store: Store, db_url: str, clock: ManualClock) -> None:
    """Sealed events removed by a recorded prune are not tampering; an event deleted in SQL
    behind jobtrail's back still is, and so is a prune record slipped in below the trail's
    head to excuse it."""
    old = enqueue(store, 6)
    finish(store, old)
    clock.advance(2 * DAY)
    live = enqueue(store, 3)
    seal_all(store)
    store.actor = "os:auditor"
    assert prune(store, DAY).jobs == 6
    seal_all(store)
    verdict = verify(store)
    assert verdict.ok, verdict.problem
    assert verdict.pruned >= 18
    record = rawsql.fetch(db_url, "SELECT attrs FROM jobtrail_events WHERE job_id = 0 AND "
                                  "name = 'history_pruned'")[0][0]
    assert '"actor":"os:auditor"' in record and '"jobs":6' in record
    victim = rawsql.fetch(db_url, f"SELECT min(id) FROM jobtrail_events WHERE job_id = {live[0]}"
                          )[0][0]
    rawsql.execute(db_url, f"DELETE FROM jobtrail_events WHERE id = {victim}")
    problem = verify(store).problem
    assert problem is not None and (problem.kind, problem.event_id) == ("event_removed", victim)
    excuse = json.dumps({"before": "x", "jobs": 1, "events": 1, "event_ids": [[victim, victim]]})
    overriding = " OVERRIDING SYSTEM VALUE" if db_url.startswith("postgres") else ""
    rawsql.execute(db_url, "INSERT INTO jobtrail_events (id, job_id, attempt, kind, name, at, "
                           f"attrs){overriding} SELECT {victim}, 0, 0, 'audit', 'history_pruned', at, "
                           f"'{excuse}' FROM jobtrail_events WHERE id = {victim + 1}")
    problem = verify(store).problem
    assert problem is not None and problem.event_id == victim
    assert problem.kind in ("event_altered", "event_inserted")


def test_the_sealer_prunes_with_the_apps_retention(store: Store, db_url: str,
                                                   clock: ManualClock) -> None:
    """A sealer given a retention removes old history on its own thread."""
    old = enqueue(store, 4)
    finish(store, old)
    clock.advance(2 * DAY)
    sealer = Sealer(store, every=0.05, retention=Retention(store, DAY))
    sealer.start()
    try:
        deadline = time.monotonic() + 10
        while len(job_ids(db_url)) > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sealer.stop()
    assert job_ids(db_url) == {old[-1]}
    seal_all(store)
    verdict = verify(store)
    assert verdict.ok, verdict.problem


@pytest.mark.parametrize(("given", "says"), [
    (-1, "must be a positive number of seconds"),
    ("30d", "must be a positive number of seconds"),
    (3600, "shorter than idempotency_retention"),
])
def test_a_retention_that_cannot_work_is_refused(given: object, says: str) -> None:
    """A negative or textual retention, or one shorter than idempotency keys are kept, is
    a ConfigurationError naming the setting."""
    with pytest.raises(ConfigurationError, match=says):
        App("sqlite:///unused.db", history_retention=given)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="forever"):
        App("sqlite:///unused.db", idempotency_retention=None, history_retention=DAY * 30)
    assert App("sqlite:///unused.db", history_retention=30 * DAY).history_retention == 30 * DAY


def test_a_pruned_jobs_idempotency_key_enqueues_anew(store: Store, db_url: str,
                                                     clock: ManualClock) -> None:
    """A keyed job pruned once its key's retention has passed leaves no answer naming a job
    that is gone: the same key enqueues a new job (while kept, it answers with the job)."""
    def keyed() -> NewJob:
        return NewJob("j", "default", '{"n":1}', 1, idempotency_key="invoice-7",
                      payload_hash="h", key_retention=DAY)

    (first,) = store.enqueue([keyed()])
    finish(store, [int(first)])
    (again,) = store.enqueue([keyed()])
    assert int(again) == int(first) and again.deduplicated
    clock.advance(3 * DAY)
    newer = enqueue(store, 1)
    finish(store, newer)
    assert prune(store, 2 * DAY).jobs == 1 and int(first) not in job_ids(db_url)
    (fresh,) = store.enqueue([keyed()])
    assert not fresh.deduplicated and int(fresh) > newer[0]
    assert store.get(int(fresh)).status == Status.QUEUED
