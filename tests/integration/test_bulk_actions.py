"""Operators' actions on many jobs through the app (both backends): in batches, one
transaction each, observers told, every result masked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from jobtrail import ActionResult, ActionTally, App, ConfigurationError, Context, Retry, Status
from jobtrail.bulk import BATCH_SIZE
from jobtrail.observers import Observer
from jobtrail.records import ErrorInfo, JobRecord
from jobtrail.store import open_store
from jobtrail.store.actions import DeadLetterFilter
from jobtrail.store.base import NewJob, Outcome
from jobtrail.testing import run_until_idle

WORKER = "w-1"


def dead_letters(app: App, count: int, error: str = "NameError") -> list[int]:
    """*count* jobs stored, claimed and ended dead at once, as a worker would end them."""
    ids = app.store.enqueue([NewJob("deploy", "default", "{}", max_attempts=1)] * count)
    claimed = app.store.claim(WORKER, None, count, 30.0)
    app.store.finish(WORKER, [Outcome(job.id, 1, Status.DEAD, error=ErrorInfo(error, "x"),
                                      claim=job.claim) for job in claimed])
    return list(ids)


class Counting(Observer):
    """Counts, from a connection of its own, the dead letters left when each replay is told."""

    def __init__(self, url: str) -> None:
        self.store = open_store(url)
        self.left: list[int] = []

    def replayed(self, job: JobRecord) -> None:
        self.left.append(self.store.count_dead_letters(DeadLetterFilter()))


def test_replaying_every_dead_letter_commits_one_batch_at_a_time(
    make_app: Callable[..., App], db_url: str
) -> None:
    """1,200 dead letters are replayed in batches of 500: another connection sees each batch
    committed before the next begins, and each job is told to observers once."""
    app = make_app()
    ids = dead_letters(app, 1200)
    counting = Counting(db_url)
    app.observe(counting)
    batches: list[tuple[int, ActionTally]] = []
    try:
        tally = app.replay_dead_letters(
            on_batch=lambda results, so_far: batches.append((len(results), so_far)))
    finally:
        counting.store.close()
    assert tally == ActionTally(done=1200)
    assert [size for size, _ in batches] == [BATCH_SIZE, BATCH_SIZE, 200]
    assert [so_far.done for _, so_far in batches] == [500, 1000, 1200]
    assert sorted(set(counting.left)) == [0, 200, 700]
    assert counting.left.count(700) == counting.left.count(200) == BATCH_SIZE
    assert app.count_jobs(status="queued") == 1200 and app.count_dead_letters() == 0
    assert {app.get(job_id).status for job_id in ids} == {Status.QUEUED}


def test_bulk_actions_act_on_what_was_selected_before_they_began(
    make_app: Callable[..., App]
) -> None:
    """discard_dead_letters acts on what the filters selected when it began: a dead letter
    that matches and appears meanwhile is left for the next run; the others are untouched."""
    app = make_app()
    name_errors = dead_letters(app, 600)
    others = dead_letters(app, 2, error="billing.Declined")
    appeared: list[int] = []

    def on_batch(results: list[ActionResult], so_far: ActionTally) -> None:
        if not appeared:
            appeared.extend(dead_letters(app, 1))

    tally = app.discard_dead_letters(error_type="NameError", on_batch=on_batch)
    assert tally == ActionTally(done=600)
    assert {app.get(i).status for i in name_errors} == {Status.CANCELLED}
    assert app.dead_letter_ids() == [appeared[0], *reversed(others)]
    assert app.replay_dead_letters(error_type="Declined", since=datetime.now(UTC)
                                   + timedelta(hours=1)) == ActionTally()
    assert app.replay_dead_letters(error_type="Declined", job_name="deploy").done == 2
    assert app.dead_letter_ids(error_type="NameError", queue="default") == appeared
    with pytest.raises(ConfigurationError, match="an empty error class matches nothing"):
        app.count_dead_letters(error_type=" ")


def test_results_of_bulk_actions_never_show_a_sensitive_value(
    make_app: Callable[..., App]
) -> None:
    """A refused replay quotes the key of the uncertain effect: its card is masked there and
    in the job the result carries, as in every view."""
    app = make_app()
    card = "4111111111111111"

    @app.job(redact=["card"], retry=Retry(max_attempts=1))
    def charge(ctx: Context, card: str) -> None:
        ctx.effect("charge", lambda: None, key=f"charge-{card}")

    handle = charge.enqueue(card=card)
    (job,) = app.store.claim(WORKER, None, 1, 30.0)
    assert app.store.begin_effect(job.id, job.claim, 1, "charge", f"charge-{card}", False) is None
    app.store.finish(WORKER, [Outcome(job.id, 1, Status.DEAD, error=ErrorInfo("E", card),
                                      claim=job.claim)])
    results: list[ActionResult] = []
    tally = app.replay_dead_letters(on_batch=lambda batch, _: results.extend(batch))
    assert len(results) == 1
    (refused,) = app.replay_many([handle.id])
    assert tally == ActionTally(uncertain=1)
    for result in (*results, refused):
        assert result.verdict == "uncertain" and result.job is not None
        assert card not in repr(result)
        assert "charge-[redacted]" in str(result.message)
        assert result.job.args == {"card": "[redacted]"}
    assert app.get(handle.id).status is Status.DEAD


def test_cancel_many_cancels_what_waits_and_tells_observers(
    make_app: Callable[..., App]
) -> None:
    """cancel_many cancels the waiting jobs given, reports the finished and unknown ones,
    and tells observers of each job it cancelled, once."""
    app = make_app()
    told: list[int] = []

    class Told(Observer):
        def cancelled(self, job: JobRecord) -> None:
            told.append(job.id)

    app.observe(Told())

    @app.job
    def ping() -> None: ...

    done = ping.enqueue()
    run_until_idle(app)
    waiting = [ping.enqueue().id for _ in range(3)]
    results = app.cancel_many([*waiting, done.id, 10**6, waiting[0]])
    assert [(r.job_id, r.verdict) for r in results] == [
        *((i, "done") for i in waiting), (done.id, "status"), (10**6, "not_found")]
    assert sorted(told) == waiting
    assert app.count_jobs(status=Status.CANCELLED) == 3
