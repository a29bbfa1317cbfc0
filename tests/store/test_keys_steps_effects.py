"""Store contract for idempotency keys, receipts, step checkpoints and effects (both backends)."""

from __future__ import annotations

import threading
import time

import pytest

from jobtrail.clock import ManualClock
from jobtrail.errors import IdempotencyConflict, InvalidTransition, JobNotFound, LeaseLost
from jobtrail.records import ErrorInfo, Status
from jobtrail.store import Store, open_store
from jobtrail.store.base import ClaimedJob, NewJob, Outcome, PathEvent, PathSegment, StepRecord
from tests.support import rawsql

WORKER = "w-1"


def keyed(key: str, payload_hash: str = "h1", retention: float | None = None) -> NewJob:
    return NewJob("charge", "default", '{"n":1}', max_attempts=3, idempotency_key=key,
                  payload_hash=payload_hash, key_retention=retention)


def run_to(store: Store, job_id: int, status: Status, **outcome: object) -> None:
    (job,) = store.claim(WORKER, None, 1, 30.0)
    assert job.id == job_id
    store.finish(WORKER, [Outcome(job_id, job.attempt, status, claim=job.claim, **outcome)])  # type: ignore[arg-type]


def attempt(store: Store, job_id: int, worker: str = WORKER) -> ClaimedJob:
    """Claim *job_id*, the only runnable job, for its next attempt."""
    (job,) = store.claim(worker, None, 1, 30.0)
    assert job.id == job_id
    return job


def fail(store: Store, job: ClaimedJob) -> None:
    """End the attempt *job* with a retry due at once."""
    store.finish(WORKER, [Outcome(job.id, job.attempt, Status.RETRYING, error=ErrorInfo("E", "m"),
                                  retry_delay=0, claim=job.claim)])


def test_same_key_same_payload_returns_the_first_job(store: Store) -> None:
    """A second enqueue with the same key and payload stores nothing and returns the first id."""
    (first,) = store.enqueue([keyed("inv-42")])
    (second,) = store.enqueue([keyed("inv-42")])
    assert second == first and second.deduplicated and not first.deduplicated
    assert len(store.events(first)) == 1


def test_same_key_other_payload_is_a_conflict(store: Store) -> None:
    """Reusing a key for different arguments raises IdempotencyConflict naming both hashes."""
    (first,) = store.enqueue([keyed("inv-7", "aaaa")])
    with pytest.raises(IdempotencyConflict, match=rf"belongs to job {first} with payload hash aaaa, not bbbb"):
        store.enqueue([keyed("inv-7", "bbbb")])


def test_a_finished_key_returns_its_receipt_until_retention_ends(store: Store, clock: ManualClock) -> None:
    """A finished key deduplicates to the finished job; after the retention window it is free."""
    (job_id,) = store.enqueue([keyed("inv-9", retention=60)])
    run_to(store, job_id, Status.SUCCEEDED, result='"paid"')
    clock.advance(59)
    (again,) = store.enqueue([keyed("inv-9", retention=60)])
    assert again == job_id and again.deduplicated
    clock.advance(2)
    (fresh,) = store.enqueue([keyed("inv-9", retention=60)])
    assert fresh != job_id and not fresh.deduplicated


def test_a_key_in_the_same_batch_is_stored_once(store: Store) -> None:
    """Within one enqueue_many, a repeated key yields one job."""
    ids = store.enqueue([keyed("k-1"), keyed("k-2"), keyed("k-1")])
    assert ids[0] == ids[2] and ids[2].deduplicated and ids[0] != ids[1]


def test_concurrent_enqueues_of_one_key_make_exactly_one_job(db_url: str) -> None:
    """Eight threads with their own connections enqueue one key at once: one job exists."""
    setup = open_store(db_url)
    setup.migrate()
    results: list[int] = []
    barrier = threading.Barrier(8)

    def producer() -> None:
        mine = open_store(db_url)
        try:
            barrier.wait()
            results.extend(mine.enqueue([keyed("race")]))
        finally:
            mine.close()

    threads = [threading.Thread(target=producer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and len(results) == 8
    assert sum(1 for r in results if not getattr(r, "deduplicated", True)) == 1
    setup.close()


def test_steps_written_with_an_outcome_are_returned_to_later_attempts(store: Store) -> None:
    """Completed steps recorded with a retry outcome are there for the next attempt, each
    call of a name an occurrence of its own; replayed and other entries complete nothing."""
    (job_id,) = store.enqueue([NewJob("j", "default", "{}", max_attempts=3)])
    (job,) = store.claim(WORKER, None, 1, 30.0)
    now = time.time()
    path = [
        PathEvent("step", "load", now, 0.01, None, '{"rows":3}'),
        PathEvent("event", "loaded", now, None, {"rows": 3}),
        PathEvent("step", "parse", now, 0.0, None, "[1,2]"),
        PathEvent("step", "parse", now, 0.0, None, '"again"'),
        PathEvent("step", "skipped", now, 0.0, {"replayed": True}),
    ]
    store.finish(WORKER, [Outcome(job_id, 1, Status.RETRYING, error=ErrorInfo("E", "m"), retry_delay=0, events=path, claim=job.claim)])
    assert store.completed_steps([job_id]) == {job_id: {
        "load": [StepRecord('{"rows":3}')], "parse": [StepRecord("[1,2]"), StepRecord('"again"')]}}
    assert store.completed_steps([]) == {}
    recorded = [(e.kind, e.name, e.attrs) for e in store.events(job_id) if e.kind != "lifecycle"]
    assert recorded == [(p.kind, p.name, p.attrs or {}) for p in path]


def test_a_checkpoint_is_kept_only_for_jobs_the_worker_holds(store: Store) -> None:
    """Mid-run checkpoints are kept for held jobs and ignored for jobs the worker lost."""
    held, other = store.enqueue([NewJob("j", "default", "{}", 3), NewJob("j", "default", "{}", 3)])
    (mine,) = store.claim(WORKER, None, 1, 30.0)
    (theirs,) = store.claim("w-2", None, 1, 30.0)
    store.checkpoint(WORKER, [
        PathSegment(held, 1, [PathEvent("step", "a", time.time(), 0.0, None, "1")], mine.claim),
        PathSegment(other, 1, [PathEvent("step", "a", time.time(), 0.0, None, "2")], theirs.claim),
        PathSegment(held, 2, [PathEvent("step", "b", time.time(), 0.0, None, "3")], mine.claim + 1),
    ])
    assert store.completed_steps([held, other]) == {held: {"a": [StepRecord("1")]}}
    store.checkpoint(WORKER, [PathSegment(held, 1, [], mine.claim)])  # nothing to write is no error


def test_a_damaged_path_segment_reads_as_unreadable_and_holds_no_steps(store: Store, db_url: str) -> None:
    """A segment that is not a valid path is shown as such; its steps simply run again."""
    (job_id,) = store.enqueue([NewJob("j", "default", "{}", 3)])
    (job,) = store.claim(WORKER, None, 1, 30.0)
    store.checkpoint(WORKER, [PathSegment(job_id, 1, [PathEvent("step", "a", time.time(), 0.0, None, "1")], job.claim)])
    rawsql.execute(db_url, "UPDATE jobtrail_events SET path = '{not json' WHERE kind = 'path'")
    assert store.completed_steps([job_id]) == {}
    (event,) = [e for e in store.events(job_id) if e.kind == "path"]
    assert event.name == "unreadable" and event.attrs == {"unreadable": "{not json"}


def test_an_effect_runs_once_and_then_returns_its_recorded_result(store: Store) -> None:
    """begin → end(done): a later begin of the key returns the done record instead of allowing a call."""
    (job_id,) = store.enqueue([NewJob("j", "default", "{}", 3)])
    first = attempt(store, job_id)
    assert store.begin_effect(job_id, first.claim, 1, "charge", "charge-inv-1", False) is None
    store.end_effect("charge-inv-1", job_id, first.claim, '"ch_123"', None)
    fail(store, first)
    second = attempt(store, job_id)
    again = store.begin_effect(job_id, second.claim, 2, "charge", "charge-inv-1", False)
    assert again is not None and again.status == "done" and again.result == '"ch_123"'
    (record,) = store.effects(job_id)
    assert (record.key, record.name, record.attempt, record.status, record.claim) == ("charge-inv-1", "charge", 1, "done", first.claim)


def test_an_effect_started_but_never_ended_is_uncertain(store: Store) -> None:
    """A started effect of an earlier attempt blocks a blind repeat unless it is repeat-safe."""
    (job_id,) = store.enqueue([NewJob("j", "default", "{}", 3)])
    first = attempt(store, job_id)
    assert store.begin_effect(job_id, first.claim, 1, "email", "mail-1", False) is None
    fail(store, first)
    second = attempt(store, job_id)
    uncertain = store.begin_effect(job_id, second.claim, 2, "email", "mail-1", False)
    assert uncertain is not None and uncertain.status == "started" and uncertain.attempt == 1
    again = store.begin_effect(job_id, second.claim, 2, "email", "mail-1", True)  # begun again, and said so
    assert again is not None and again.status == "started" and again.attempt == 1
    assert (store.effects(job_id)[0].attempt, store.effects(job_id)[0].claim) == (2, second.claim)


def test_a_claim_may_begin_its_own_started_effect_again(store: Store) -> None:
    """The claim that began an effect may write its intent again (an answer lost on the way): it is its own."""
    (job_id,) = store.enqueue([NewJob("j", "default", "{}", 3)])
    job = attempt(store, job_id)
    assert store.begin_effect(job_id, job.claim, 1, "email", "mail-1", False) is None
    assert store.begin_effect(job_id, job.claim, 1, "email", "mail-1", False) is None


def test_a_failed_effect_may_be_tried_again(store: Store) -> None:
    """An effect whose call raised (recorded as failed) can be started by the next attempt."""
    (job_id,) = store.enqueue([NewJob("j", "default", "{}", 3)])
    first = attempt(store, job_id)
    assert store.begin_effect(job_id, first.claim, 1, "sync", "sync-1", False) is None
    store.end_effect("sync-1", job_id, first.claim, None, "TimeoutError: slow")
    assert store.effects(job_id)[0].status == "failed"
    fail(store, first)
    second = attempt(store, job_id)
    assert store.begin_effect(job_id, second.claim, 2, "sync", "sync-1", False) is None


def test_claims_are_never_reused_across_release_and_replay(store: Store) -> None:
    """Release and replay set the attempt number back, but every claim has its own token: an effect begun before either is uncertain after it."""
    (job_id,) = store.enqueue([NewJob("j", "default", "{}", 1)])
    first = attempt(store, job_id)
    assert store.begin_effect(job_id, first.claim, 1, "charge", "c-1", False) is None
    assert store.release(WORKER, [job_id]) == 1
    again = attempt(store, job_id)
    assert again.attempt == 1 and again.claim != first.claim
    found = store.begin_effect(job_id, again.claim, 1, "charge", "c-1", False)
    assert found is not None and found.status == "started" and found.claim == first.claim
    store.finish(WORKER, [Outcome(job_id, 1, Status.DEAD, error=ErrorInfo("EffectUncertain", "m"), claim=again.claim)])
    store.resolve_effect(job_id, "charge", False, None)
    store.replay(job_id)
    third = attempt(store, job_id)
    assert third.attempt == 1 and third.claim not in (first.claim, again.claim)


def test_an_attempt_that_lost_its_job_may_not_begin_an_effect(store: Store) -> None:
    """begin_effect under a claim that no longer holds the running job raises LeaseLost and records nothing."""
    (job_id,) = store.enqueue([NewJob("j", "default", "{}", 3)])
    first = attempt(store, job_id)
    fail(store, first)
    with pytest.raises(LeaseLost, match="no longer holds"):
        store.begin_effect(job_id, first.claim, 1, "charge", "c-1", False)
    second = attempt(store, job_id)
    with pytest.raises(LeaseLost):
        store.begin_effect(job_id, first.claim, 1, "charge", "c-1", False)
    assert store.effects(job_id) == []
    assert store.begin_effect(job_id, second.claim, 2, "charge", "c-1", False) is None


def test_the_end_of_an_effect_is_recorded_only_for_the_claim_that_began_it(store: Store) -> None:
    """A late end_effect from an earlier claim leaves the key as the later claim began it."""
    (job_id,) = store.enqueue([NewJob("j", "default", "{}", 3)])
    first = attempt(store, job_id)
    assert store.begin_effect(job_id, first.claim, 1, "ping", "p-1", True) is None
    fail(store, first)
    second = attempt(store, job_id)
    assert store.begin_effect(job_id, second.claim, 2, "ping", "p-1", True) is not None
    store.end_effect("p-1", job_id, first.claim, '"late"', None)
    assert store.effects(job_id)[0].status == "started"
    store.end_effect("p-1", job_id, second.claim, '"mine"', None)
    assert (store.effects(job_id)[0].status, store.effects(job_id)[0].result) == ("done", '"mine"')


def test_replay_waits_until_an_uncertain_effect_is_resolved(store: Store) -> None:
    """A dead job with a started, never-ended effect is not replayed: the error names the effect, its key and how to resolve it."""
    (job_id,) = store.enqueue([NewJob("j", "default", "{}", 1)])
    job = attempt(store, job_id)
    store.begin_effect(job_id, job.claim, 1, "charge", "charge-7", False)
    store.finish(WORKER, [Outcome(job_id, 1, Status.DEAD, error=ErrorInfo("E", "m"), claim=job.claim)])
    with pytest.raises(InvalidTransition, match=rf"effect 'charge' \(key 'charge-7'\).*resolve_effect\({job_id}, 'charge'"):
        store.replay(job_id)
    assert store.get(job_id).status is Status.DEAD
    store.resolve_effect(job_id, "charge", True, '"ch_1"')
    assert store.replay(job_id).status is Status.QUEUED


def test_a_repeat_safe_started_effect_does_not_hold_a_replay_back(store: Store) -> None:
    """An unfinished effect declared safe to repeat is simply called again after a replay."""
    (job_id,) = store.enqueue([NewJob("j", "default", "{}", 1)])
    job = attempt(store, job_id)
    store.begin_effect(job_id, job.claim, 1, "warm", "warm-1", True)
    store.finish(WORKER, [Outcome(job_id, 1, Status.DEAD, error=ErrorInfo("E", "m"), claim=job.claim)])
    assert store.replay(job_id).status is Status.QUEUED


def test_a_dead_workers_leases_end_at_once_with_the_reason(store: Store) -> None:
    """expire_worker ends only that worker's leases, retrying or dead-lettering each as a lease expiry would."""
    ids = store.enqueue([NewJob("j", "default", "{}", 1), NewJob("j", "default", "{}", 3), NewJob("j", "default", "{}", 3)])
    store.claim("doomed", None, 2, 30.0)
    store.claim("alive", None, 1, 30.0)
    error = ErrorInfo("WorkerExited", "worker process 7 exited with code 3")
    assert sorted(store.expire_worker("doomed", error)) == ids[:2]
    assert [store.get(i).status for i in ids] == [Status.DEAD, Status.RETRYING, Status.RUNNING]
    assert store.get(ids[0]).error == error
    assert store.events(ids[1])[-1].name == "lease_expired"
    assert store.events(ids[1])[-1].attrs["error"] == "WorkerExited"
    assert store.expire_worker("doomed", error) == []


def test_concurrent_begins_of_one_key_let_exactly_one_through(db_url: str) -> None:
    """Two attempts racing to begin one effect key: one may call, the other sees it started."""
    setup = open_store(db_url)
    setup.migrate()
    a, b = setup.enqueue([NewJob("j", "default", "{}", 3), NewJob("j", "default", "{}", 3)])
    claims = {job.id: job.claim for job in setup.claim(WORKER, None, 2, 30.0)}
    answers: list[object] = []
    barrier = threading.Barrier(2)

    def begin(job_id: int) -> None:
        mine = open_store(db_url)
        try:
            barrier.wait()
            answers.append(mine.begin_effect(job_id, claims[job_id], 1, "pay", "pay-1", False))
        finally:
            mine.close()

    threads = [threading.Thread(target=begin, args=(job_id,)) for job_id in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(answer is None for answer in answers) == 1
    setup.close()


def test_an_operator_resolves_an_uncertain_effect(store: Store) -> None:
    """resolve_effect records the verdict on the effect and an event on the job's path."""
    (job_id,) = store.enqueue([NewJob("j", "default", "{}", 3)])
    job = attempt(store, job_id)
    store.begin_effect(job_id, job.claim, 1, "charge", "c-1", False)
    resolved = store.resolve_effect(job_id, "charge", True, '"ch_9"')
    assert resolved.status == "done" and resolved.result == '"ch_9"'
    assert store.events(job_id)[-1].name == "effect_resolved"
    assert store.events(job_id)[-1].attrs["verdict"] == "done"
    with pytest.raises(InvalidTransition, match="already done"):
        store.resolve_effect(job_id, "charge", False, None)
    with pytest.raises(JobNotFound, match="has no effect named 'refund'"):
        store.resolve_effect(job_id, "refund", True, None)


def test_a_final_keyed_job_leaves_a_receipt(store: Store) -> None:
    """The receipt of a finished key survives even if the job's key is released."""
    (job_id,) = store.enqueue([keyed("inv-r")])
    run_to(store, job_id, Status.DEAD, error=ErrorInfo("Permanent", "declined"))
    (again,) = store.enqueue([keyed("inv-r")])
    assert again == job_id and again.deduplicated
    assert store.get(job_id).status is Status.DEAD


def test_an_outcome_withdraws_the_intents_its_attempt_never_acted_on(store: Store) -> None:
    """An attempt whose intent write may have committed (its answer lost) but which never
    called the effect withdraws the intent with its outcome: the next attempt begins the key
    afresh instead of finding it uncertain. An effect that ended, or another claim's
    intent, is never withdrawn."""
    (job_id,) = store.enqueue([NewJob("j", "default", "{}", 3)])
    first = attempt(store, job_id)
    for key in ("lost-answer", "ended"):
        assert store.begin_effect(job_id, first.claim, 1, "charge", key, False) is None
    store.end_effect("ended", job_id, first.claim, '"ok"', None)
    store.finish(WORKER, [Outcome(job_id, 1, Status.RETRYING, error=ErrorInfo("StoreError", "m"),
                                  retry_delay=0, claim=first.claim,
                                  withdrawn=("lost-answer", "ended"))])
    assert [(e.key, e.status) for e in store.effects(job_id)] == [("ended", "done")]
    second = attempt(store, job_id)
    assert store.begin_effect(job_id, second.claim, 2, "charge", "lost-answer", False) is None


def test_an_outcome_that_lost_its_claim_withdraws_nothing(store: Store) -> None:
    """When the claim no longer holds the job (its lease moved on), its outcome is not
    written and the intent stays: nobody can say the call was not made by then."""
    (job_id,) = store.enqueue([NewJob("j", "default", "{}", 3)])
    first = attempt(store, job_id)
    assert store.begin_effect(job_id, first.claim, 1, "charge", "k", False) is None
    store.release(WORKER, [job_id])
    second = attempt(store, job_id, worker="w-2")
    lost = store.finish(WORKER, [Outcome(job_id, 1, Status.RETRYING, retry_delay=0,
                                         claim=first.claim, withdrawn=("k",))])
    assert lost == {job_id}
    uncertain = store.begin_effect(job_id, second.claim, 2, "charge", "k", False)
    assert uncertain is not None and uncertain.status == "started"
