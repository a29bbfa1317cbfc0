"""Store contract for what a claim saves of its path (both backends): every path row names
its claim, steps are counted by occurrence within each claim, the path a claim saved reads
back (also after its worker died), and a segment rides with the intent of an effect."""

from __future__ import annotations

import time

import pytest

from jobtrail.clock import ManualClock
from jobtrail.errors import LeaseLost
from jobtrail.records import ErrorInfo, Status
from jobtrail.store import Store
from jobtrail.store.base import ClaimedJob, NewJob, Outcome, PathEvent, PathSegment, StepRecord
from tests.support import rawsql

WORKER = "w-1"


def claimed(store: Store, worker: str = WORKER) -> ClaimedJob:
    """Enqueue one job and claim it."""
    store.enqueue([NewJob("j", "default", "{}", 3)])
    (job,) = store.claim(worker, None, 1, 30.0)
    return job


def step(name: str, result: str | None = None, at: float | None = None,
         attrs: dict[str, object] | None = None) -> PathEvent:
    """A step entry, completed when it has a result."""
    return PathEvent("step", name, time.time() if at is None else at, 0.001, attrs, result)


def test_every_row_a_claim_writes_names_it(store: Store, clock: ManualClock) -> None:
    """Claimed, checkpoint, the segment of an effect, the outcome and what its path holds,
    a release and a lease that ran out carry the claim; the enqueue carries none."""
    job = claimed(store)
    store.checkpoint(WORKER, [PathSegment(job.id, 1, [step("a", "1")], job.claim)])
    store.begin_effect(job.id, job.claim, 1, "pay", "pay-1", False, [step("b", "2")])
    store.finish(WORKER, [Outcome(job.id, 1, Status.RETRYING, retry_delay=0, duration=0.5,
                                  events=[step("c", "3")], claim=job.claim)])
    (second,) = store.claim(WORKER, None, 1, 30.0)
    store.release(WORKER, [job.id])
    (third,) = store.claim(WORKER, None, 1, 30.0)
    clock.advance(60)
    assert store.reap_expired() == [job.id]
    found = [(e.name, e.claim) for e in store.events(job.id)]
    assert found == [
        ("enqueued", None), ("claimed", job.claim), ("started", job.claim), ("a", job.claim),
        ("b", job.claim), ("c", job.claim), ("retry_scheduled", job.claim),
        ("claimed", second.claim), ("released", second.claim),
        ("claimed", third.claim), ("lease_expired", third.claim)]


def test_steps_are_counted_by_occurrence_within_each_claim(store: Store) -> None:
    """A loop's calls are occurrences 0, 1, 2...; a claim after a release (same attempt
    number) counts from 0 again, its replays keep what the first completed and its own
    results come on top, with their arguments' digest."""
    job = claimed(store)
    store.checkpoint(WORKER, [PathSegment(job.id, 1, [
        step("fetch", "1", attrs={"args": "d0"}), step("save", '"x"'), step("fetch", "2"),
    ], job.claim)])
    store.release(WORKER, [job.id])
    (again,) = store.claim(WORKER, None, 1, 30.0)
    assert again.attempt == 1
    replayed: dict[str, object] = {"replayed": True}
    store.begin_effect(job.id, again.claim, 1, "pay", "pay-1", False, [
        step("fetch", attrs=replayed), step("save", attrs=replayed), step("fetch", attrs=replayed),
        step("fetch", "3", attrs={"args": "d2"})])
    store.finish(WORKER, [Outcome(job.id, 1, Status.RETRYING, retry_delay=0,
                                  events=[step("fetch", "4"), step("save", '"y"')],
                                  claim=again.claim)])
    assert store.completed_steps([job.id]) == {job.id: {
        "fetch": [StepRecord("1", "d0"), StepRecord("2"), StepRecord("3", "d2"), StepRecord("4")],
        "save": [StepRecord('"x"'), StepRecord('"y"')],
    }}


def test_the_path_a_claim_saved_reads_back_after_its_worker_died(
    store: Store, clock: ManualClock
) -> None:
    """Checkpoints and the segment written with an effect read back in order as the entries
    recorded, until another claim takes the job; other jobs' paths stay apart."""
    job = claimed(store)
    other = claimed(store, "w-2")
    now = time.time()
    first = [step("load", '{"rows":3}', now, {"args": "d"}),
             PathEvent("decide", "paid", now + 0.5, None, None, '"true"')]
    before_effect = [PathEvent("event", "billed", now + 1, None, {"n": 1})]
    store.checkpoint(WORKER, [PathSegment(job.id, 1, first, job.claim)])
    store.checkpoint("w-2", [PathSegment(other.id, 1, [step("x", "0")], other.claim)])
    assert store.begin_effect(job.id, job.claim, 1, "pay", "pay-1", False, before_effect) is None
    clock.advance(60)
    assert sorted(store.reap_expired()) == sorted([job.id, other.id])
    saved = store.saved_path(job.id)
    assert [(e.kind, e.name, e.attrs, e.result, e.duration) for e in saved] == [
        (e.kind, e.name, e.attrs, e.result, e.duration) for e in first + before_effect]
    assert all(abs(s.at - e.at) < 2e-6 for s, e in zip(saved, first + before_effect, strict=True))
    (next_claim,) = [j for j in store.claim(WORKER, None, 2, 30.0) if j.id == job.id]
    assert store.saved_path(job.id) == saved  # the next claim saved nothing yet
    store.finish(WORKER, [Outcome(job.id, 2, Status.SUCCEEDED, events=[
        step("load", attrs={"replayed": True}), step("check", "1"), step("done", "1")],
        claim=next_claim.claim)])
    assert [e.name for e in store.saved_path(job.id)] == ["load", "check", "done"]
    assert store.saved_path(10_000) == []


def test_a_segment_rides_with_the_intent_of_an_effect_whatever_is_decided(store: Store) -> None:
    """The segment is written with a new key, with a key found done or uncertain, not again
    with a claim's own key begun again (a retry whose first write carried it); an empty one
    writes nothing."""
    job = claimed(store)
    assert store.begin_effect(job.id, job.claim, 1, "pay", "k-new", False, [step("a", "1")]) is None
    store.end_effect("k-new", job.id, job.claim, '"ok"', None)
    done = store.begin_effect(job.id, job.claim, 1, "pay", "k-new", False, [step("b", "2")])
    assert done is not None and done.status == "done"
    assert store.begin_effect(job.id, job.claim, 1, "mail", "k-mail", False, ()) is None
    assert store.begin_effect(job.id, job.claim, 1, "mail", "k-mail", False, [step("c", "3")]) is None
    store.finish(WORKER, [Outcome(job.id, 1, Status.RETRYING, retry_delay=0, claim=job.claim)])
    (later,) = store.claim(WORKER, None, 1, 30.0)
    unsure = store.begin_effect(later.id, later.claim, 2, "mail", "k-mail", False, [step("d", "4")])
    assert unsure is not None and unsure.status == "started"
    assert [e.name for e in store.events(job.id) if e.kind == "step"] == ["a", "b", "d"]
    assert [e.name for e in store.saved_path(job.id)] == ["a", "b"]  # the furthest claim


def test_no_segment_is_written_when_the_claim_lost_its_job(store: Store) -> None:
    """begin_effect that raises LeaseLost writes neither the intent nor the segment."""
    job = claimed(store)
    store.finish(WORKER, [Outcome(job.id, 1, Status.RETRYING, retry_delay=0, claim=job.claim)])
    with pytest.raises(LeaseLost):
        store.begin_effect(job.id, job.claim, 1, "pay", "pay-1", False, [step("a", "1")])
    (later,) = store.claim(WORKER, None, 1, 30.0)
    store.begin_effect(later.id, later.claim, 2, "pay", "pay-2", False, [step("b", "2")])
    with pytest.raises(LeaseLost):  # another claim holds the job, and the key is taken
        store.begin_effect(job.id, job.claim, 1, "pay", "pay-2", False, [step("c", "3")])
    assert [e.name for e in store.events(job.id) if e.kind == "step"] == ["b"]
    assert [e.key for e in store.effects(job.id)] == ["pay-2"]


def test_a_start_follows_the_claimed_of_its_own_claim(store: Store) -> None:
    """After a release the finishing claim reuses the attempt number: its ``started`` is
    placed after its own ``claimed``, not the released claim's."""
    job = claimed(store)
    store.release(WORKER, [job.id])
    (again,) = store.claim(WORKER, None, 1, 30.0)
    store.finish(WORKER, [Outcome(job.id, 1, Status.SUCCEEDED, duration=0.01,
                                  events=[step("a", "1")], claim=again.claim)])
    assert [(e.name, e.claim) for e in store.events(job.id)] == [
        ("enqueued", None), ("claimed", job.claim), ("released", job.claim),
        ("claimed", again.claim), ("started", again.claim), ("a", again.claim),
        ("succeeded", again.claim)]


def test_rows_stored_without_a_claim_still_read_by_attempt(store: Store, db_url: str) -> None:
    """Path rows of before claims were stored (claim NULL) count steps and place starts by
    attempt number."""
    job = claimed(store)
    store.checkpoint(WORKER, [PathSegment(job.id, 1, [step("a", "1"), step("a", "2")], job.claim)])
    store.finish(WORKER, [Outcome(job.id, 1, Status.RETRYING, retry_delay=0, duration=0.01,
                                  error=ErrorInfo("E", "m"), claim=job.claim)])
    rawsql.execute(db_url, "UPDATE jobtrail_events SET claim = NULL")
    assert store.completed_steps([job.id]) == {job.id: {"a": [StepRecord("1"), StepRecord("2")]}}
    assert [e.name for e in store.events(job.id)][:3] == ["enqueued", "claimed", "started"]
    assert [e.result for e in store.saved_path(job.id)] == ["1", "2"]  # as one claim
