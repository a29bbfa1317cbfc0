"""The Store contract: every backend behaves the same way (run on SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from jobtrail.clock import ManualClock
from jobtrail.errors import InvalidTransition, JobNotFound
from jobtrail.records import TRANSITIONS, ErrorInfo, Status
from jobtrail.store import Store, open_store
from jobtrail.store.base import JobFilter, NewJob, Outcome, PathEvent, WorkerInfo
from jobtrail.store.sqlfiles import latest_version

WORKER = "w-1"


def new(name: str = "noop", queue: str = "default", **options: object) -> NewJob:
    return NewJob(job_name=name, queue=queue, payload='{"n":1}', max_attempts=3, **options)  # type: ignore[arg-type]


def names(store: Store, job_id: int) -> list[str]:
    return [event.name for event in store.events(job_id)]


def test_enqueue_returns_ids_in_order_and_get_reads_them_back(store: Store) -> None:
    """Enqueued jobs get increasing ids and read back queued with their fields."""
    ids = store.enqueue([new("a"), new("b", queue="mail", priority=5)])
    assert ids == sorted(ids) and len(set(ids)) == 2
    record = store.get(ids[1])
    assert (record.job_name, record.queue, record.status, record.priority) == ("b", "mail", Status.QUEUED, 5)
    assert record.args == {"n": 1} and record.attempts == 0 and record.max_attempts == 3
    assert names(store, ids[0]) == ["enqueued"]


def test_get_unknown_id_raises_job_not_found(store: Store) -> None:
    """Asking for an id that does not exist is an error, never a fake record."""
    with pytest.raises(JobNotFound, match="no job with id 999"):
        store.get(999)


def test_claim_takes_priority_then_oldest_and_counts_an_attempt(store: Store) -> None:
    """Claims come highest priority first, then by run_at, and start an attempt."""
    low, high, low2 = store.enqueue([new(priority=0), new(priority=9), new(priority=0)])
    (first,) = store.claim(WORKER, None, 1, 30.0)
    (second,) = store.claim(WORKER, None, 1, 30.0)
    assert (first.id, second.id) == (high, low)
    assert first.attempt == second.attempt == 1
    record = store.get(high)
    assert record.status is Status.RUNNING and record.worker_id == WORKER and record.attempts == 1
    assert names(store, high) == ["enqueued", "claimed"]
    assert [job.id for job in store.claim(WORKER, None, 5, 30.0)] == [low2]
    assert store.claim(WORKER, None, 5, 30.0) == []


def test_claim_skips_jobs_scheduled_later_and_reports_when_they_are_due(store: Store) -> None:
    """A job with run_at in the future is not claimable; next_run_at says when it will be."""
    later = datetime.now(UTC) + timedelta(hours=1)
    store.enqueue([new(run_at=later)])
    assert store.claim(WORKER, None, 5, 30.0) == []
    due = store.next_run_at(None)
    assert due is not None and abs((due - later).total_seconds()) < 1


def test_claim_with_delay_waits_until_the_delay_has_passed(store: Store, clock: ManualClock) -> None:
    """A delayed job becomes claimable once its delay has elapsed."""
    (job_id,) = store.enqueue([new(delay=60)])
    assert store.claim(WORKER, None, 1, 30.0) == []
    clock.advance(59)
    assert store.claim(WORKER, None, 1, 30.0) == []
    clock.advance(2)
    assert [job.id for job in store.claim(WORKER, None, 1, 30.0)] == [job_id]


def test_claim_filters_by_queue(store: Store) -> None:
    """A worker claims only from the queues it serves."""
    a, b, c = store.enqueue([new(queue="a"), new(queue="b"), new(queue="c")])
    assert [job.id for job in store.claim(WORKER, ["b"], 5, 30.0)] == [b]
    assert sorted(job.id for job in store.claim(WORKER, ["a", "c"], 5, 30.0)) == [a, c]


def test_concurrent_claimers_never_share_a_job(db_url: str) -> None:
    """Several stores claiming at once from one database never get the same job."""
    setup = open_store(db_url)
    setup.migrate()
    ids = setup.enqueue([new() for _ in range(300)])
    seen: list[int] = []
    lock = threading.Lock()

    def claimer(number: int) -> None:
        mine = open_store(db_url)
        try:
            while True:
                got = mine.claim(f"w-{number}", None, 7, 30.0)
                if not got:
                    return
                with lock:
                    seen.extend(job.id for job in got)
        finally:
            mine.close()

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    setup.close()
    assert sorted(seen) == ids


def test_finish_succeeded_stores_result_and_path_events(store: Store) -> None:
    """A successful outcome stores the result, the recorded events and the transition."""
    (job_id,) = store.enqueue([new()])
    (job,) = store.claim(WORKER, None, 1, 30.0)
    step = PathEvent("event", "charged", time.time(), 0.01, {"amount": 5})
    lost = store.finish(WORKER, [Outcome(job_id, job.attempt, Status.SUCCEEDED, result='"ok"', events=[step], claim=job.claim)])
    assert lost == set()
    record = store.get(job_id)
    assert record.status is Status.SUCCEEDED and record.result == "ok" and record.finished_at is not None
    events = store.events(job_id)
    assert [e.name for e in events] == ["enqueued", "claimed", "charged", "succeeded"]
    assert events[2].attrs == {"amount": 5} and events[2].kind == "event"


def test_finish_from_a_worker_that_lost_the_lease_is_not_applied(store: Store) -> None:
    """An outcome for an attempt the worker no longer owns is rejected and reported."""
    (job_id,) = store.enqueue([new()])
    (job,) = store.claim(WORKER, None, 1, 30.0)
    assert job.id == job_id
    assert store.finish("someone-else", [Outcome(job_id, 1, Status.SUCCEEDED, result="1", claim=job.claim)]) == {job_id}
    assert store.finish(WORKER, [Outcome(job_id, 1, Status.SUCCEEDED, result="1", claim=job.claim + 1)]) == {job_id}
    assert store.get(job_id).status is Status.RUNNING


def test_finish_retrying_schedules_the_next_attempt(store: Store, clock: ManualClock) -> None:
    """A retry outcome waits for its delay, keeps the error, then is claimable again."""
    (job_id,) = store.enqueue([new()])
    (job,) = store.claim(WORKER, None, 1, 30.0)
    error = ErrorInfo("ValueError", "flaky", "tb")
    store.finish(WORKER, [Outcome(job_id, 1, Status.RETRYING, error=error, retry_delay=60, claim=job.claim)])
    record = store.get(job_id)
    assert record.status is Status.RETRYING and record.error == error
    assert store.claim(WORKER, None, 1, 30.0) == []
    clock.advance(61)
    (again,) = store.claim(WORKER, None, 1, 30.0)
    assert again.attempt == 2 and again.backoff == pytest.approx(60)
    retry_event = store.events(job_id)[2]
    assert retry_event.name == "retry_scheduled" and retry_event.attrs["error"] == "ValueError"


def test_finish_dead_keeps_the_error_and_lists_in_dead_letters(store: Store) -> None:
    """A dead outcome is final, keeps error and traceback, and is found by status."""
    (job_id,) = store.enqueue([new()])
    (job,) = store.claim(WORKER, None, 1, 30.0)
    store.finish(WORKER, [Outcome(job_id, 1, Status.DEAD, error=ErrorInfo("Permanent", "no", "trace"), claim=job.claim)])
    record = store.get(job_id)
    assert record.status is Status.DEAD and record.error is not None and record.error.traceback == "trace"
    dead = store.list_jobs(JobFilter(statuses=(Status.DEAD, Status.ORPHANED)))
    assert [job.id for job in dead] == [job_id]


def test_heartbeat_extends_leases_and_reports_lost_ones(store: Store, clock: ManualClock) -> None:
    """Heartbeats keep a long job leased and name jobs the worker does not hold."""
    a, b = store.enqueue([new(), new()])
    store.claim(WORKER, None, 1, 30.0)
    info = WorkerInfo(WORKER, "host", 1, None, 4)
    for _ in range(4):
        clock.advance(20)
        assert store.heartbeat(info, [a, b], 30.0) == {b}
    assert store.reap_expired() == []
    assert store.get(a).status is Status.RUNNING
    assert [w.id for w in store.workers()] == [WORKER]
    store.unregister_worker(WORKER)
    assert store.workers() == []


def test_expired_lease_makes_the_job_claimable_and_counts_the_attempt(store: Store, clock: ManualClock) -> None:
    """A job whose worker stopped heartbeating goes back to waiting, attempt counted."""
    (job_id,) = store.enqueue([new()])
    store.claim("dead-worker", None, 1, 30.0)
    clock.advance(29)
    assert store.reap_expired() == []
    clock.advance(2)
    assert store.reap_expired() == [job_id]
    record = store.get(job_id)
    assert record.status is Status.RETRYING and record.error is not None
    assert record.error.type == "LeaseExpired"
    (job,) = store.claim(WORKER, None, 1, 30.0)
    assert job.attempt == 2
    assert store.finish("dead-worker", [Outcome(job_id, 1, Status.SUCCEEDED, result="1", claim=job.claim)]) == {job_id}


def test_expired_lease_on_the_last_attempt_dead_letters_the_job(store: Store, clock: ManualClock) -> None:
    """When the lost attempt was the last one allowed, the job ends dead."""
    (job_id,) = store.enqueue([NewJob("noop", "default", "{}", max_attempts=1)])
    store.claim("dead-worker", None, 1, 30.0)
    clock.advance(31)
    assert store.reap_expired() == [job_id]
    record = store.get(job_id)
    assert record.status is Status.DEAD and record.error is not None and "no attempts remain" in record.error.message
    assert names(store, job_id)[-1] == "lease_expired"


def test_reaping_returns_the_ids_of_the_jobs_it_recovered_up_to_its_limit(store: Store, clock: ManualClock) -> None:
    """Each reap ends at most *limit* expired leases and names the jobs it ended; a lease
    still running is left alone."""
    ids = store.enqueue([new() for _ in range(4)])
    store.claim("dead-worker", None, 3, 30.0)
    store.claim(WORKER, None, 1, 90.0)
    clock.advance(31)
    first = store.reap_expired(limit=2)
    second = store.reap_expired(limit=2)
    assert len(first) == 2 and len(second) == 1 and sorted(first + second) == ids[:3]
    assert store.reap_expired() == [] and store.get(ids[3]).status is Status.RUNNING


def test_release_returns_jobs_without_spending_an_attempt(store: Store) -> None:
    """Jobs released at shutdown wait again with their attempt count restored."""
    (job_id,) = store.enqueue([new()])
    store.claim(WORKER, None, 1, 30.0)
    assert store.release(WORKER, [job_id]) == 1
    record = store.get(job_id)
    assert record.status is Status.QUEUED and record.attempts == 0
    (job,) = store.claim(WORKER, None, 1, 30.0)
    assert job.attempt == 1


def test_replay_discard_and_cancel_follow_the_allowed_transitions(store: Store) -> None:
    """Operators replay or discard dead jobs and cancel waiting ones; nothing else."""
    dead, waiting = store.enqueue([new(), new(priority=-1)])
    (first,) = store.claim(WORKER, None, 1, 30.0)
    store.finish(WORKER, [Outcome(dead, 1, Status.DEAD, error=ErrorInfo("E", "m"), claim=first.claim)])
    with pytest.raises(InvalidTransition, match=f"cannot replay job {waiting}: it is queued"):
        store.replay(waiting)
    replayed = store.replay(dead)
    assert replayed.status is Status.QUEUED and replayed.attempts == 0 and replayed.id == dead
    with pytest.raises(InvalidTransition, match="cannot discard"):
        store.discard(dead)
    assert store.cancel(waiting).status is Status.CANCELLED
    with pytest.raises(InvalidTransition, match="cannot cancel"):
        store.cancel(waiting)
    (job,) = store.claim(WORKER, None, 1, 30.0)
    store.finish(WORKER, [Outcome(dead, job.attempt, Status.DEAD, error=ErrorInfo("E", "m"), claim=job.claim)])
    discarded = store.discard(dead)
    assert discarded.status is Status.CANCELLED and discarded.outcome == "discarded"
    assert names(store, dead) == [
        "enqueued", "claimed", "dead", "replayed", "claimed", "dead", "discarded"
    ]
    with pytest.raises(JobNotFound):
        store.replay(12345)


def job_in(store: Store, status: Status) -> int:
    """A new job brought to *status* the way workers and operators bring one there."""
    (job_id,) = store.enqueue([new()])
    if status is Status.QUEUED:
        return job_id
    if status is Status.CANCELLED:
        store.cancel(job_id)
        return job_id
    (job,) = store.claim(WORKER, None, 1, 30.0)
    if status is not Status.RUNNING:
        delay = 3600.0 if status is Status.RETRYING else None
        store.finish(WORKER, [Outcome(job_id, 1, status, error=ErrorInfo("E", "m"), retry_delay=delay, claim=job.claim)])
    return job_id


@pytest.mark.parametrize("verb", sorted(TRANSITIONS))
def test_each_operator_action_applies_exactly_where_the_transition_table_allows(store: Store, verb: str) -> None:
    """From every status, an operator action either leads where the table says, recorded by its
    event and outcome, or is refused naming the statuses it needs."""
    transition = TRANSITIONS[verb]
    for status in Status:
        job_id = job_in(store, status)
        assert store.get(job_id).status is status
        if status in transition.sources:
            record = getattr(store, verb)(job_id)
            assert (record.status, record.outcome) == (transition.target, transition.outcome)
            assert names(store, job_id)[-1] == transition.event
            if transition.resets:
                assert record.attempts == 0 and record.error is None
        else:
            with pytest.raises(InvalidTransition, match=f"cannot {verb} job {job_id}: it is {status.value}, expected"):
                getattr(store, verb)(job_id)
            assert store.get(job_id).status is status
        if store.get(job_id).status.is_waiting:
            store.cancel(job_id)  # the next job_in claims the only runnable job


def test_list_jobs_filters_and_pages_newest_first(store: Store) -> None:
    """Listings narrow by queue, name and status, newest first, paged by id."""
    ids = store.enqueue([new("a", "q1"), new("b", "q2"), new("a", "q1"), new("a", "q2")])
    assert [j.id for j in store.list_jobs(JobFilter(job_name="a"))] == [ids[3], ids[2], ids[0]]
    assert [j.id for j in store.list_jobs(JobFilter(queue="q1"))] == [ids[2], ids[0]]
    assert [j.id for j in store.list_jobs(JobFilter(limit=2))] == [ids[3], ids[2]]
    assert [j.id for j in store.list_jobs(JobFilter(limit=2, before_id=ids[2]))] == [ids[1], ids[0]]
    assert store.list_jobs(JobFilter(statuses=(Status.RUNNING,))) == []
    assert store.counts() == {("q1", Status.QUEUED): 2, ("q2", Status.QUEUED): 2}


def test_watch_reports_work_enqueued_by_another_connection(db_url: str, store: Store) -> None:
    """An idle watcher hears about a job enqueued elsewhere within a fraction of a second."""
    heard = threading.Event()
    watch = store.watch(heard.set)
    try:
        assert heard.wait(2.0)  # its first report: work may have come before it watched
        heard.clear()
        producer = open_store(db_url)
        producer.enqueue([new()])
        producer.close()
        assert heard.wait(2.0)
    finally:
        watch.stop()


def test_migrate_is_idempotent_and_reports_the_latest_version(store: Store, backend: str) -> None:
    """Running migrations again applies nothing; the version is the newest one."""
    assert store.migrate() == []
    assert store.schema_version() == latest_version(backend)


def test_a_payload_that_is_not_json_still_reads_back(store: Store) -> None:
    """A damaged payload does not break reading the job: its arguments read as None."""
    (job_id,) = store.enqueue([NewJob("noop", "default", "{not json", max_attempts=1)])
    record = store.get(job_id)
    assert record.args is None and record.raw_payload == "{not json"
