"""Store contract for execution paths: runs with their variants, divergences, children and
milestones (both backends)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from jobtrail.records import Divergence, DivergenceKind, Status
from jobtrail.store import Store
from jobtrail.store.base import DivergenceFilter, NewJob, Outcome, PathEvent, RunSummary

WORKER = "w-1"


def finish_one(store: Store, status: Status, run: RunSummary | None, **more: object) -> int:
    """Enqueue one job, claim it and finish it with *status* and *run*."""
    (job_id,) = store.enqueue([NewJob(run.job_name if run else "j", "default", "{}", 3)])
    (job,) = store.claim(WORKER, None, 1, 30.0)
    store.finish(WORKER, [Outcome(job_id, job.attempt, status, run=run, claim=job.claim, **more)])  # type: ignore[arg-type]
    return job_id


def test_a_final_outcome_stores_the_variant_code_version_and_divergences(store: Store) -> None:
    """The run summary is written with the outcome: variant, version and each finding."""
    findings = [Divergence(DivergenceKind.MISSING, "missing step ship", 2, None, ("ship",)),
                Divergence(DivergenceKind.SLOW, "step load took long", 0, "load")]
    job_id = finish_one(store, Status.SUCCEEDED, RunSummary("order", "load charge", "v7", findings),
                        duration=0.25, events=[PathEvent("step", "load", time.time(), 0.1, None, "1")])
    record = store.get(job_id)
    assert (record.variant, record.code_version) == ("load charge", "v7")
    found = store.divergences(DivergenceFilter(job_id=job_id))
    assert [(d.kind, d.position, d.found, d.expected) for d in found] == [
        ("slow", 0, "load", ()), ("missing", 2, None, ("ship",))]
    assert all(d.job_name == "order" and d.attempt == 1 for d in found)
    outcome_event = store.events(job_id)[-1]
    assert (outcome_event.name, outcome_event.duration) == ("succeeded", 0.25)
    assert [e.name for e in store.events(job_id)] == ["enqueued", "claimed", "started", "load", "succeeded"]


def test_divergences_are_filtered_counted_and_paged(store: Store) -> None:
    """Filters narrow by job name, kind and time; counts group by (job name, kind); before_id pages."""
    for name in ("a", "a", "b"):
        finish_one(store, Status.SUCCEEDED, RunSummary(name, "x", None, [Divergence(DivergenceKind.UNEXPECTED, "m", 0, "x")]))
    assert store.divergence_counts(DivergenceFilter()) == {("a", "unexpected"): 2, ("b", "unexpected"): 1}
    assert store.divergence_counts(DivergenceFilter(job_name="a", kind="missing")) == {}
    newest, *older = store.divergences(DivergenceFilter(job_name="a"))
    assert len(older) == 1 and newest.id is not None and older[0].id is not None and newest.id > older[0].id
    assert [d.id for d in store.divergences(DivergenceFilter(before_id=newest.id, job_name="a"))] == [older[0].id]
    assert store.divergences(DivergenceFilter(since=datetime.now(UTC) + timedelta(hours=1))) == []
    assert len(store.divergences(DivergenceFilter(limit=1))) == 1


def test_runs_are_final_outcomes_with_a_summary_oldest_first(store: Store) -> None:
    """A retrying outcome is not a run; dead and succeeded runs are, with their statuses."""
    first = finish_one(store, Status.SUCCEEDED, RunSummary("sync", "fetch push", "v1"))
    second = finish_one(store, Status.DEAD, RunSummary("sync", "fetch", "v2"), outcome="effect_uncertain")
    (retrying,) = store.enqueue([NewJob("sync", "default", "{}", 3)])
    (job,) = store.claim(WORKER, None, 1, 30.0)
    store.finish(WORKER, [Outcome(retrying, job.attempt, Status.RETRYING, retry_delay=60, claim=job.claim)])
    runs = store.runs("sync")
    assert [(r.job_id, r.status, r.variant, r.code_version, r.outcome) for r in runs] == [
        (first, Status.SUCCEEDED, "fetch push", "v1", None),
        (second, Status.DEAD, "fetch", "v2", "effect_uncertain"),
    ]
    assert runs[0].duration is not None and runs[0].duration >= 0
    assert store.runs("sync", datetime.now(UTC) + timedelta(hours=1)) == []
    assert store.runs("other") == []


def test_children_and_milestones_are_found_across_jobs(store: Store) -> None:
    """Children by parent and name; milestones by name from every stored path, since a time."""
    (parent,) = store.enqueue([NewJob("order", "default", "{}", 3)])
    store.enqueue([NewJob("ship", "default", "{}", 3, parent_job_id=parent),
                   NewJob("mail", "default", "{}", 3, parent_job_id=parent)])
    assert [c.job_name for c in store.children([parent], "ship")] == ["ship"]
    assert store.children([], "ship") == []
    (job,) = store.claim(WORKER, None, 1, 30.0)
    now = time.time()
    path = [PathEvent("event", "signed_up", now - 10, None, {"user": 7}),
            PathEvent("event", "signed_up_later", now - 5, None, {"user": 8}),
            PathEvent("step", "signed_up", now - 1, 0.1, None, "1")]
    store.finish(WORKER, [Outcome(job.id, job.attempt, Status.SUCCEEDED, events=path, claim=job.claim)])
    (found,) = store.milestones("signed_up")
    assert (found.job_id, found.attrs) == (job.id, {"user": 7})
    assert store.milestones("signed_up", datetime.fromtimestamp(now - 3, UTC)) == []
    assert store.milestones("never") == []
