"""Store contract for what is kept of a job and its runs (both backends): effects that may
have happened twice, the summary of a run whose worker died, the milestones a run reached
and the fields a job declares sensitive."""

from __future__ import annotations

from jobtrail.clock import ManualClock
from jobtrail.records import Divergence, DivergenceKind, ErrorInfo, Status
from jobtrail.store import Store
from jobtrail.store.base import (
    ClaimedJob,
    DivergenceFilter,
    JobFilter,
    NewJob,
    Outcome,
    RunSummary,
)
from tests.support import rawsql

WORKER = "w-1"


def claimed(store: Store, name: str = "j", max_attempts: int = 3) -> ClaimedJob:
    """Enqueue one job and claim it."""
    store.enqueue([NewJob(name, "default", '{"card": "4242", "n": 1}', max_attempts)])
    (job,) = store.claim(WORKER, None, 1, 30.0)
    return job


def retry(store: Store, job: ClaimedJob) -> ClaimedJob:
    """End *job*'s attempt with a retry due at once, and claim the next."""
    store.finish(WORKER, [Outcome(job.id, job.attempt, Status.RETRYING, retry_delay=0,
                                  error=ErrorInfo("E", "m"), claim=job.claim)])
    (again,) = store.claim(WORKER, None, 1, 30.0)
    return again


def test_a_repeat_safe_effect_begun_over_another_claims_start_is_repeated_for_good(
    store: Store,
) -> None:
    """Begun again over a ``started`` record of an earlier claim, it is marked repeated,
    and stays so once that attempt ends it done and when a later claim finds it failed."""
    job = claimed(store)
    assert store.begin_effect(job.id, job.claim, 1, "ping", "p-1", True) is None
    assert store.begin_effect(job.id, job.claim, 1, "ping", "p-1", True) is None  # its own
    assert not store.effects(job.id)[0].repeated
    second = retry(store, job)
    earlier = store.begin_effect(job.id, second.claim, 2, "ping", "p-1", True)
    assert earlier is not None and earlier.claim == job.claim and not earlier.repeated
    assert store.effects(job.id)[0].repeated
    store.end_effect("p-1", job.id, second.claim, '"pong"', None)
    (record,) = store.effects(job.id)
    assert (record.status, record.repeated) == ("done", True)


def test_an_effect_begun_again_for_other_reasons_is_not_repeated(store: Store) -> None:
    """A failed effect tried again, and an uncertain one not safe to repeat, are not marked."""
    job = claimed(store)
    store.begin_effect(job.id, job.claim, 1, "sync", "s-1", True)
    store.end_effect("s-1", job.id, job.claim, None, "TimeoutError")
    store.begin_effect(job.id, job.claim, 1, "mail", "m-1", False)
    second = retry(store, job)
    assert store.begin_effect(job.id, second.claim, 2, "sync", "s-1", True) is None
    unsure = store.begin_effect(job.id, second.claim, 2, "mail", "m-1", False)
    assert unsure is not None and unsure.status == "started"
    assert {e.key: e.repeated for e in store.effects(job.id)} == {"s-1": False, "m-1": False}


def findings() -> list[Divergence]:
    """Two divergences of a run."""
    return [Divergence(DivergenceKind.INCOMPLETE, "stopped after load", 1, None, ("charge",)),
            Divergence(DivergenceKind.UNEXPECTED, "step audit", 0, "audit")]


def test_the_summary_of_a_run_whose_worker_died_is_recorded_once(
    store: Store, clock: ManualClock
) -> None:
    """A job dead-lettered by an expired lease takes its variant, code version, milestones
    and divergences (at the store's time) once; a second summary changes nothing."""
    job = claimed(store, "order", max_attempts=1)
    clock.advance(3600)
    assert store.reap_expired() == [job.id]
    summary = RunSummary("order", "step:audit step:load", "v9", findings(),
                         (("signed_up", 0), ("loaded", 2)))
    assert store.record_run(job.id, 1, summary) is True
    (run,) = store.runs("order")
    assert (run.job_id, run.status, run.variant, run.code_version, run.milestones) == (
        job.id, Status.DEAD, "step:audit step:load", "v9", (("signed_up", 0), ("loaded", 2)))
    stored = store.divergences(DivergenceFilter(job_id=job.id))
    assert sorted((d.kind, d.attempt, d.position) for d in stored) == [
        ("incomplete", 1, 1), ("unexpected", 1, 0)]
    assert all(d.at is not None and abs(d.at.timestamp() - clock.now()) < 60 for d in stored)
    again = RunSummary("order", "other", "v10", findings())
    assert store.record_run(job.id, 1, again) is False
    assert store.runs("order")[0].variant == "step:audit step:load"
    assert len(store.divergences(DivergenceFilter(job_id=job.id))) == 2


def test_no_summary_is_recorded_for_a_job_not_final_or_already_summarised(store: Store) -> None:
    """A running or retrying job, and a run that finished with its summary, are left as
    they are, their divergences unwritten."""
    summary = RunSummary("order", "x", "v1", findings(), (("m", 0),))
    running = claimed(store, "order")
    assert store.record_run(running.id, 1, summary) is False
    store.finish(WORKER, [Outcome(running.id, 1, Status.RETRYING, retry_delay=60,
                                  claim=running.claim)])
    assert store.record_run(running.id, 1, summary) is False
    done = claimed(store, "order")
    store.finish(WORKER, [Outcome(done.id, 1, Status.SUCCEEDED, claim=done.claim,
                                  run=RunSummary("order", "y", "v2"))])
    assert store.record_run(done.id, 1, summary) is False
    assert store.get(running.id).variant is None and store.get(done.id).variant == "y"
    assert store.divergences(DivergenceFilter()) == []
    assert [run.milestones for run in store.runs("order")] == [()]


def test_a_run_keeps_the_milestones_it_reached_until_a_replay(store: Store, db_url: str) -> None:
    """finish stores the run's milestones with its variant; a replay clears both."""
    job = claimed(store, "order", max_attempts=1)
    run = RunSummary("order", "step:a", None, (), (("paid", 1), ("shipped", 3)))
    store.finish(WORKER, [Outcome(job.id, 1, Status.DEAD, error=ErrorInfo("E", "m"), run=run,
                                  claim=job.claim)])
    assert store.runs("order")[0].milestones == (("paid", 1), ("shipped", 3))
    store.replay(job.id)
    assert rawsql.fetch(db_url, "SELECT variant, milestones FROM jobtrail_jobs WHERE id = ?",
                        (job.id,)) == [(None, None)]


def test_damaged_milestones_read_as_none(store: Store, db_url: str) -> None:
    """A milestones value that is not a list of (name, position) pairs reads as no milestones."""
    job = claimed(store, "order")
    store.finish(WORKER, [Outcome(job.id, 1, Status.SUCCEEDED, claim=job.claim,
                                  run=RunSummary("order", "x", None, (), (("m", 0),)))])
    rawsql.execute(db_url, "UPDATE jobtrail_jobs SET milestones = '[[\"m\"]]'")
    assert store.runs("order")[0].milestones == ()


def test_the_fields_a_job_declares_sensitive_are_kept_with_it(store: Store) -> None:
    """enqueue stores ``redact`` (with or without an idempotency key), and every record of
    the job carries it: get, list_jobs, children and what operators get back."""
    (parent,) = store.enqueue([NewJob("p", "default", "{}", 1)])
    plain, keyed, child = store.enqueue([
        NewJob("j", "default", '{"card": "1"}', 1, redact=("card", "cvv", "card")),
        NewJob("j", "default", '{"card": "2"}', 1, redact=("card",), idempotency_key="k",
               payload_hash="h"),
        NewJob("c", "default", "{}", 1, parent_job_id=parent, redact=("token",)),
    ])
    assert store.get(plain).redact == frozenset({"card", "cvv"})
    assert store.get(keyed).redact == frozenset({"card"})
    assert store.get(parent).redact == frozenset()
    assert {r.id: r.redact for r in store.list_jobs(JobFilter(job_name="j"))} == {
        plain: frozenset({"card", "cvv"}), keyed: frozenset({"card"})}
    assert [(r.id, r.redact) for r in store.children([parent], "c")] == [
        (child, frozenset({"token"}))]
    assert store.cancel(plain).redact == frozenset({"card", "cvv"})
    assert store.replay(plain).redact == frozenset({"card", "cvv"})
    (job,) = [job for job in store.claim(WORKER, None, 4, 30.0) if job.id == plain]
    store.finish(WORKER, [Outcome(plain, 1, Status.DEAD, error=ErrorInfo("E", "m"),
                                  claim=job.claim)])
    assert store.discard(plain).redact == frozenset({"card", "cvv"})


def test_a_damaged_list_of_sensitive_fields_masks_every_field(store: Store, db_url: str) -> None:
    """When the stored names cannot be read, every field of the arguments counts as sensitive."""
    (job_id,) = store.enqueue([NewJob("j", "default", '{"card": "1", "n": 2}', 1,
                                      redact=("card",))])
    rawsql.execute(db_url, "UPDATE jobtrail_jobs SET redact = '{not json'")
    assert store.get(job_id).redact == frozenset({"card", "n"})
    rawsql.execute(db_url, "UPDATE jobtrail_jobs SET redact = '[1]'")
    assert store.get(job_id).redact == frozenset({"card", "n"})

