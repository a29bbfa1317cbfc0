"""Store contract for the bounded reads of paths that pages make: a job's newest runs, the
job names with runs, counts of the newest divergences, milestones among the newest events
(both backends)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from jobtrail.records import Divergence, DivergenceKind, Status
from jobtrail.store import Store
from jobtrail.store.base import DivergenceFilter, NewJob, Outcome, PathEvent, RunSummary
from tests.store.test_paths_store import WORKER, finish_one


def finish_with_path(store: Store, job_name: str, path: list[PathEvent]) -> int:
    """Enqueue a job of *job_name*, claim it and finish it having recorded *path*."""
    (job_id,) = store.enqueue([NewJob(job_name, "default", "{}", 3)])
    (job,) = store.claim(WORKER, None, 1, 30.0)
    store.finish(WORKER, [Outcome(job_id, job.attempt, Status.SUCCEEDED, events=path,
                                  claim=job.claim, run=RunSummary(job_name, "x", None))])
    return job_id


def test_a_limit_reads_only_the_newest_runs_oldest_first(store: Store) -> None:
    """runs(limit=N) gives the N runs that ended last, in the order they ended, since a time
    when given; without a limit, every run."""
    ids = [finish_one(store, Status.SUCCEEDED, RunSummary("sync", f"step:{n}", "v1"))
           for n in range(5)]
    finish_one(store, Status.SUCCEEDED, RunSummary("other", "step:x", "v1"))
    assert [run.job_id for run in store.runs("sync", limit=2)] == ids[3:]
    assert [run.variant for run in store.runs("sync", limit=2)] == ["step:3", "step:4"]
    assert [run.job_id for run in store.runs("sync", limit=99)] == ids
    assert [run.job_id for run in store.runs("sync")] == ids
    later = datetime.now(UTC) + timedelta(hours=1)
    assert store.runs("sync", later, limit=2) == []
    assert store.runs("nothing", limit=2) == []


def test_the_names_with_runs_come_by_name_with_their_newest_end(store: Store) -> None:
    """run_names lists each job name that has a finished run once, by name, with the time
    its newest run ended; a job still waiting does not count, and the limit is kept."""
    finish_one(store, Status.SUCCEEDED, RunSummary("beta", "a", None))
    finish_one(store, Status.DEAD, RunSummary("alpha", "a", None))
    newest = finish_one(store, Status.SUCCEEDED, RunSummary("beta", "b", None))
    store.enqueue([NewJob("gamma", "default", "{}", 3)])
    found = store.run_names(10)
    assert [name for name, _ in found] == ["alpha", "beta"]
    assert dict(found)["beta"] == store.get(newest).finished_at
    assert [name for name, _ in store.run_names(1)] == ["alpha"]


def test_counts_of_the_newest_divergences_leave_older_ones_out(store: Store) -> None:
    """divergence_counts(newest=N) counts only the N newest divergences matching the filter."""
    for name, kind in (("a", DivergenceKind.MISSING), ("a", DivergenceKind.UNEXPECTED),
                       ("b", DivergenceKind.UNEXPECTED)):
        finish_one(store, Status.SUCCEEDED,
                   RunSummary(name, "x", None, [Divergence(kind, "m", 0, "x")]))
    assert store.divergence_counts(DivergenceFilter(), newest=2) == {
        ("a", "unexpected"): 1, ("b", "unexpected"): 1}
    assert store.divergence_counts(DivergenceFilter(kind="unexpected"), newest=1) == {
        ("b", "unexpected"): 1}
    assert store.divergence_counts(DivergenceFilter(job_name="a"), newest=10) == {
        ("a", "missing"): 1, ("a", "unexpected"): 1}


def test_milestones_within_the_newest_events_and_their_horizon(store: Store) -> None:
    """milestones(within=N) reads only the newest N rows of events, and events_horizon(N)
    says since when that read is whole (None while the store holds no more rows)."""
    now = time.time()
    first = finish_with_path(store, "signup", [PathEvent("event", "joined", now, None, {"user": 1})])
    second = finish_with_path(store, "signup", [PathEvent("event", "joined", now, None, {"user": 2})])
    assert [e.job_id for e in store.milestones("joined")] == [first, second]
    assert [e.job_id for e in store.milestones("joined", within=1)] == [second]
    assert [e.job_id for e in store.milestones("joined", within=10_000)] == [first, second]
    assert store.events_horizon(10_000) is None
    horizon = store.events_horizon(1)
    assert horizon is not None
    assert horizon == store.events(second)[-1].at
