"""Store contract for selecting dead letters and counting what a listing matches (both
backends): by job, queue, the class of their error and when they ended, newest first, paged
by id."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from jobtrail.clock import ManualClock
from jobtrail.records import ErrorInfo, Status
from jobtrail.store import Store
from jobtrail.store.actions import DeadLetterFilter
from jobtrail.store.base import JobFilter, NewJob, Outcome
from tests.support import rawsql

WORKER = "w-1"


def ended(store: Store, error: str = "NameError", name: str = "deploy", queue: str = "default",
          status: Status = Status.DEAD, message: str = "m") -> int:
    """A new job of *name* on *queue*, run once and ended *status* with an error of class
    *error* (nothing else waits to run, so the claim takes it)."""
    (job_id,) = store.enqueue([NewJob(name, queue, '{"n": 1}', max_attempts=1)])
    (job,) = store.claim(WORKER, None, 1, 30.0)
    assert job.id == job_id
    store.finish(WORKER, [Outcome(job_id, 1, status, error=ErrorInfo(error, message),
                                  claim=job.claim)])
    return job_id


def ids(store: Store, **where: object) -> list[int]:
    return [job.id for job in store.dead_letters(DeadLetterFilter(**where))]  # type: ignore[arg-type]


def count(store: Store, **where: object) -> int:
    return store.count_dead_letters(DeadLetterFilter(**where))  # type: ignore[arg-type]


def test_dead_letters_are_dead_and_orphaned_jobs_newest_first_paged_by_id(store: Store) -> None:
    """Only dead and orphaned jobs are dead letters; they come newest first, a page below
    the last id of the one before, and the count is of them all, page aside."""
    dead = [ended(store) for _ in range(3)]
    orphan = ended(store, status=Status.ORPHANED)
    (waiting,) = store.enqueue([NewJob("deploy", "default", "{}", max_attempts=1)])
    done = store.claim(WORKER, None, 1, 30.0)[0]
    store.finish(WORKER, [Outcome(waiting, 1, Status.SUCCEEDED, result="1", claim=done.claim)])
    assert ids(store) == [orphan, *reversed(dead)]
    assert ids(store, limit=2) == [orphan, dead[2]]
    assert ids(store, limit=2, before_id=dead[2]) == [dead[1], dead[0]]
    assert ids(store, before_id=dead[0]) == []
    assert count(store) == count(store, limit=1, before_id=dead[0]) == 4


def test_dead_letters_narrow_by_job_queue_and_when_they_ended(store: Store,
                                                               clock: ManualClock) -> None:
    """--job, --queue and --since narrow the selection, alone and together; since bounds
    when the job ended, not when it was created."""
    (early,) = store.enqueue([NewJob("sync", "mail", "{}", max_attempts=1, delay=3600)])
    old = [ended(store, name="deploy"), ended(store, name="sync", queue="mail")]
    clock.advance(7200)
    cut = datetime.fromtimestamp(clock.now(), UTC) - timedelta(seconds=60)
    (job,) = store.claim(WORKER, None, 1, 30.0)  # created before the cut, ends after it
    store.finish(WORKER, [Outcome(early, 1, Status.DEAD, error=ErrorInfo("E", "m"),
                                  claim=job.claim)])
    new = [ended(store, name="deploy"), ended(store, name="deploy", queue="mail")]
    assert ids(store, job_name="deploy") == [new[1], new[0], old[0]]
    assert ids(store, queue="mail") == [new[1], old[1], early]
    assert ids(store, since=cut) == [new[1], new[0], early]
    assert ids(store, job_name="deploy", queue="mail", since=cut) == [new[1]]
    assert ids(store, job_name="sync", since=cut) == [early]
    assert count(store, job_name="deploy", queue="mail", since=cut) == 1
    assert ids(store, job_name="nobody") == ids(store, queue="q\n'; DROP TABLE x") == []
    assert ids(store, since=datetime.max.replace(tzinfo=UTC)) == []
    assert len(ids(store, since=datetime.min.replace(tzinfo=UTC))) == 5


HOSTILE = ['quote"d', "back\\slash", 'x", "message": "y', "ünïcødé.Érreur", "emoji😀Error",
           "new\nline", "%_like_*"]


def test_dead_letters_narrow_by_the_class_of_their_error(store: Store) -> None:
    """An error class matches as stored, or by its last dotted parts; never by a prefix, a
    part of a name, or the text of a message — whatever characters the name holds."""
    name_error = ended(store, "NameError")
    declined = ended(store, "billing.errors.Declined", message="NameError: Declined")
    hostile = {name: ended(store, name) for name in HOSTILE}
    assert ids(store, error_type="NameError") == [name_error]
    assert ids(store, error_type="billing.errors.Declined") == [declined]
    assert ids(store, error_type="errors.Declined") == [declined]
    assert ids(store, error_type="Declined") == [declined]
    for partial in ("Error", "Name", "ors.Declined", "billing", "billing.errors", ".Declined",
                    "declined", "m"):
        assert ids(store, error_type=partial) == [], partial
    for name, job_id in hostile.items():
        assert ids(store, error_type=name) == [job_id], name
        assert count(store, error_type=name) == 1
    assert ids(store, error_type="Érreur") == [hostile["ünïcødé.Érreur"]]
    assert ids(store, error_type='y') == []


def test_a_damaged_error_never_matches_a_class_and_never_fails_the_selection(
    store: Store, db_url: str
) -> None:
    """Errors that are not what jobtrail writes (cut short, not JSON, empty) match no class
    and leave the rest of the selection working."""
    sound = ended(store, "NameError")
    damaged = [ended(store, "NameError") for _ in range(4)]
    for job_id, text in zip(damaged, ['{"type": "NameError', "NameError", "",
                                      '{"type": "NameError"}'], strict=True):
        rawsql.execute(db_url, "UPDATE jobtrail_jobs SET error = ? WHERE id = ?", (text, job_id))
    assert ids(store, error_type="NameError") == [sound]
    assert count(store, error_type="NameError") == 1
    assert len(ids(store)) == 5


def test_counting_jobs_counts_what_the_listing_matches_page_aside(store: Store) -> None:
    """count_jobs takes the listing's filters and ignores its limit and cursor."""
    first = store.enqueue([NewJob("a", "q1", "{}", 3), NewJob("b", "q2", "{}", 3),
                           NewJob("a", "q2", "{}", 3)])
    assert store.count_jobs(JobFilter()) == 3
    assert store.count_jobs(JobFilter(job_name="a", limit=1, before_id=first[0])) == 2
    assert store.count_jobs(JobFilter(queue="q2", job_name="a")) == 1
    assert store.count_jobs(JobFilter(statuses=(Status.QUEUED, Status.DEAD))) == 3
    assert store.count_jobs(JobFilter(statuses=(Status.RUNNING,))) == 0


def test_the_stored_error_begins_with_its_class() -> None:
    """What dead letters are selected by: a stored error's text begins with its class,
    JSON-escaped, before its message."""
    from jobtrail.store.policy import ERROR_TYPE_END, ERROR_TYPE_HEAD, error_type_text

    for name in ["NameError", *HOSTILE]:
        text = ErrorInfo(name, 'msg", "message": "x', "tb").to_json()
        assert text.startswith(ERROR_TYPE_HEAD + error_type_text(name) + ERROR_TYPE_END)
        assert json.loads(text)["type"] == name


@pytest.mark.parametrize("limit", [1, 500])
def test_a_selection_pages_through_every_dead_letter_once(store: Store, limit: int) -> None:
    """Following before_id from page to page meets each dead letter exactly once."""
    dead = [ended(store) for _ in range(7)]
    seen: list[int] = []
    cursor = None
    while page := ids(store, limit=limit, before_id=cursor):
        seen += page
        cursor = page[-1]
    assert seen == list(reversed(dead))
