"""Store contract for operators' actions on a batch of jobs (both backends): each job acted
on as its single action would, or reported with why not, the others going on."""

from __future__ import annotations

import pytest

from jobtrail.errors import InvalidTransition
from jobtrail.records import TRANSITIONS, ErrorInfo, Status
from jobtrail.store import Store, open_store
from jobtrail.store.actions import DeadLetterFilter
from jobtrail.store.base import NewJob, Outcome
from tests.store.test_contract import job_in, names

WORKER = "w-1"


def dead(store: Store, count: int = 1) -> list[int]:
    """*count* new jobs, each run once and dead."""
    found: list[int] = []
    for _ in range(count):
        (job_id,) = store.enqueue([NewJob("deploy", "default", "{}", max_attempts=1)])
        (job,) = store.claim(WORKER, None, 1, 30.0)
        store.finish(WORKER, [Outcome(job_id, 1, Status.DEAD, error=ErrorInfo("NameError", "x"),
                                      claim=job.claim)])
        found.append(job_id)
    return found


def test_a_batch_reports_each_job_once_in_the_order_given(store: Store) -> None:
    """replay_many acts on the jobs that allow it and reports the others — unknown ids, ids
    no store holds, jobs in another status — once per distinct id, in the order given."""
    first, second = dead(store, 2)
    (waiting,) = store.enqueue([NewJob("deploy", "default", "{}", max_attempts=1)])
    results = store.replay_many([second, 999, waiting, first, 2**70, second, -3])
    assert [(r.job_id, r.verdict) for r in results] == [
        (second, "done"), (999, "not_found"), (waiting, "status"), (first, "done"),
        (2**70, "not_found"), (-3, "not_found")]
    assert results[1].message == "no job with id 999" and results[1].job is None
    assert results[2].message == (f"cannot replay job {waiting}: it is queued, expected dead or "
                                  "orphaned or cancelled")
    assert results[2].job is not None and results[2].job.status is Status.QUEUED
    for result in (results[0], results[3]):
        assert result.job is not None and result.message is None
        assert (result.job.status, result.job.attempts) == (Status.QUEUED, 0)
        assert names(store, result.job_id)[-1] == "replayed"
        assert store.get(result.job_id).status is Status.QUEUED
    assert names(store, waiting) == ["enqueued"]
    assert store.replay_many([]) == []


@pytest.mark.parametrize("verb", sorted(TRANSITIONS))
def test_a_batch_action_agrees_with_the_single_action_from_every_status(
    store: Store, verb: str
) -> None:
    """From every status, each job of a batch ends where its single action would take it,
    with its event, or is reported with the single action's refusal, unchanged."""
    transition = TRANSITIONS[verb]
    # The queued job comes last: each job_in before it claims the only runnable job.
    jobs = {status: job_in(store, status)
            for status in sorted(Status, key=lambda status: status is Status.QUEUED)}
    assert {status: store.get(job_id).status for status, job_id in jobs.items()} == {
        status: status for status in Status}
    results = {r.job_id: r for r in getattr(store, f"{verb}_many")(list(jobs.values()))}
    for status, job_id in jobs.items():
        result = results[job_id]
        if status in transition.sources:
            assert result.verdict == "done", (status, result)
            assert result.job is not None
            assert (result.job.status, result.job.outcome) == (transition.target,
                                                               transition.outcome)
            assert names(store, job_id)[-1] == transition.event
        else:
            assert result.verdict == "status", (status, result)
            assert result.message is not None
            assert result.message.startswith(f"cannot {verb} job {job_id}: it is {status.value}")
            assert store.get(job_id).status is status


def test_a_batch_replay_leaves_a_job_with_an_uncertain_effect_as_it_is(store: Store) -> None:
    """A job whose effect began and never ended is refused as its single replay is, with the
    same words; the effect stays uncertain and the job dead; the rest of the batch replays."""
    (job_id,) = store.enqueue([NewJob("bill", "default", "{}", max_attempts=1)])
    (job,) = store.claim(WORKER, None, 1, 30.0)
    assert store.begin_effect(job_id, job.claim, 1, "charge", "charge-5", False) is None
    store.finish(WORKER, [Outcome(job_id, 1, Status.DEAD, error=ErrorInfo("E", "m"),
                                  claim=job.claim)])
    (other,) = dead(store)
    with pytest.raises(InvalidTransition) as single:
        store.replay(job_id)
    refused, replayed = store.replay_many([job_id, other])
    assert (refused.verdict, refused.message) == ("uncertain", str(single.value))
    assert "effect 'charge' (key 'charge-5')" in str(refused.message)
    assert refused.job is not None and refused.job.status is Status.DEAD
    assert store.get(job_id).status is Status.DEAD
    assert [e.status for e in store.effects(job_id)] == ["started"]
    assert replayed.verdict == "done" and store.get(other).status is Status.QUEUED
    store.resolve_effect(job_id, "charge", False, None)
    assert store.replay_many([job_id])[0].verdict == "done"


def test_a_dead_letter_that_moved_on_after_it_was_selected_is_skipped(
    store: Store, db_url: str
) -> None:
    """Between the selection of a page and the batch that acts on it, another operator
    replays or discards some of its jobs: the batch reports them (status), unchanged, and
    acts on the others."""
    jobs = dead(store, 4)
    page = [job.id for job in store.dead_letters(DeadLetterFilter(limit=10))]
    assert page == list(reversed(jobs))
    other = open_store(db_url)
    try:
        other.replay(jobs[1])
        other.discard(jobs[2])
    finally:
        other.close()
    results = {r.job_id: r.verdict for r in store.discard_many(page)}
    assert results == {jobs[0]: "done", jobs[1]: "status", jobs[2]: "status", jobs[3]: "done"}
    assert store.get(jobs[1]).status is Status.QUEUED
    assert names(store, jobs[2]).count("discarded") == 1
    assert store.count_dead_letters(DeadLetterFilter()) == 0
    again = store.replay_many([jobs[1]])
    assert [(r.verdict, r.job.status if r.job else None) for r in again] == [
        ("status", Status.QUEUED)]
    assert names(store, jobs[1]).count("replayed") == 1
