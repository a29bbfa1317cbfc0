"""Store contract for the dashboard's bounded reads (both backends): the newest runs of a
job type (`Store.runs` with a limit), and a job's children
(`JobFilter.parent_id`)."""

from __future__ import annotations

from jobtrail.records import ErrorInfo, Status
from jobtrail.store import Store
from jobtrail.store.base import JobFilter, NewJob, Outcome, RunSummary

WORKER = "w-1"


def ended(store: Store, name: str, variant: str, status: Status = Status.SUCCEEDED,
          parent: int | None = None) -> int:
    """Enqueue one job of *name*, claim it and end it for good with *variant*."""
    (job_id,) = store.enqueue([NewJob(name, "default", "{}", 1, parent_job_id=parent)])
    job = store.claim_job(WORKER, job_id, 30.0)
    assert job is not None
    error = None if status is Status.SUCCEEDED else ErrorInfo("E", "m")
    store.finish(WORKER, [Outcome(job.id, 1, status, error=error, claim=job.claim,
                                  run=RunSummary(name, variant))])
    return job_id


def test_recent_runs_are_the_newest_ended_runs_of_one_job_type(store: Store) -> None:
    """With a limit, runs of the job type that ended for good are the newest *limit*,
    oldest first; other types and jobs not ended are left out."""
    first = ended(store, "bill", "load")
    ended(store, "ship", "pack")
    second = ended(store, "bill", "load charge", Status.DEAD)
    store.enqueue([NewJob("bill", "default", "{}", 1)])  # waiting: no run yet
    third = ended(store, "bill", "load charge save")
    found = store.runs("bill", limit=10)
    assert [(run.job_id, run.variant, run.status) for run in found] == [
        (first, "load", Status.SUCCEEDED), (second, "load charge", Status.DEAD),
        (third, "load charge save", Status.SUCCEEDED)]
    assert [run.job_id for run in store.runs("bill", limit=2)] == [second, third]
    assert store.runs("nobody", limit=10) == []


def test_a_jobs_children_are_listed_newest_first_and_paged(store: Store) -> None:
    """JobFilter.parent_id selects the jobs a job enqueued, with the other filters and
    the keyset cursor; count_jobs counts them all."""
    parent = ended(store, "bill", "load")
    other = ended(store, "bill", "load")
    children = store.enqueue([NewJob("mail", "default", "{}", 1, parent_job_id=parent)
                              for _ in range(3)])
    store.enqueue([NewJob("mail", "default", "{}", 1, parent_job_id=other),
                   NewJob("sms", "default", "{}", 1, parent_job_id=parent)])
    sms = store.list_jobs(JobFilter(job_name="sms"))[0].id
    listed = store.list_jobs(JobFilter(parent_id=parent))
    assert [job.id for job in listed] == [sms, *reversed(children)]
    assert all(job.parent_job_id == parent for job in listed)
    page = store.list_jobs(JobFilter(parent_id=parent, job_name="mail", limit=2))
    assert [job.id for job in page] == [children[2], children[1]]
    rest = store.list_jobs(JobFilter(parent_id=parent, job_name="mail", before_id=children[1]))
    assert [job.id for job in rest] == [children[0]]
    assert store.count_jobs(JobFilter(parent_id=parent)) == 4
    assert store.list_jobs(JobFilter(parent_id=children[0])) == []


def test_from_id_narrows_a_list_and_its_count_to_later_jobs(store: Store) -> None:
    """JobFilter.from_id keeps the jobs with that id or a later one, with the other
    filters and the cursor, and count_jobs counts only those."""
    ids = store.enqueue([NewJob("mail" if n % 2 else "sms", "default", "{}", 1)
                         for n in range(6)])
    assert [job.id for job in store.list_jobs(JobFilter(from_id=ids[3]))] == ids[:2:-1]
    mail = store.list_jobs(JobFilter(job_name="mail", from_id=ids[2]))
    assert [job.id for job in mail] == [ids[5], ids[3]]
    page = store.list_jobs(JobFilter(from_id=ids[2], before_id=ids[4]))
    assert [job.id for job in page] == [ids[3], ids[2]]
    assert store.count_jobs(JobFilter(from_id=ids[2])) == 4
    assert store.count_jobs(JobFilter(job_name="sms", from_id=ids[2])) == 2
