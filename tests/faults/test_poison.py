"""One bad outcome never takes a worker down, nor holds up the jobs beside it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest

from jobtrail import App, Context, Retry, Status, Worker
from jobtrail.store import Store
from jobtrail.store.base import NewJob, Outcome, PathEvent
from jobtrail.writer import OutcomeWriter

ONCE = Retry(max_attempts=1)
SURROGATE = chr(0xD800)
WORKER = "w-poison"


def make_poison_app(make_app: Callable[..., App]) -> App:
    app = make_app()

    @app.job(retry=ONCE)
    def poison(ctx: Context, how: str) -> str:
        if how == "exit":
            ctx.exit("why" + SURROGATE)
        if how == "step":
            ctx.step("fetch\x00", int, 1)
        if how == "event":
            ctx.event("done" + SURROGATE)
        if how == "effect-key":
            ctx.effect("notify", int, key="notify-\x00")
        if how == "decide":
            ctx.decide("mood", "glad" + SURROGATE + "\x00")
        if how == "error":
            raise RuntimeError("bad\x00" + SURROGATE)
        if how == "result":
            return "odd" + SURROGATE
        return how

    @app.job
    def innocent(n: int) -> int:
        return n

    return app


def test_poison_recorded_by_jobs_never_stops_the_worker_or_its_neighbours(
    make_app: Callable[..., App],
) -> None:
    """Names that cannot be stored fail their own job with a ValueError naming the call;
    odd text in values and errors is stored escaped; innocent jobs claimed with them succeed."""
    app = make_poison_app(make_app)
    hows = ["exit", "step", "event", "effect-key", "decide", "error", "result"]
    poisoned = {}
    innocents = []
    for index, how in enumerate(hows):
        poisoned[how] = app.enqueue("poison", how=how).id
        innocents += [app.enqueue("innocent", n=index * 10 + k).id for k in range(3)]
    stats = Worker(app, concurrency=4, burst=True, install_signals=False).run()
    assert stats.finished == len(hows) + len(innocents)
    assert all(app.get(i).status is Status.SUCCEEDED for i in innocents)
    for how, problem in (("exit", "lone surrogate U+D800"), ("step", "NUL character"),
                         ("event", "lone surrogate U+D800"), ("effect-key", "NUL character")):
        record = app.get(poisoned[how])
        assert record.status is Status.DEAD, how
        assert record.error is not None and record.error.type == "ValueError", how
        assert "job 'poison'" in record.error.message and problem in record.error.message, how
    decided = app.get(poisoned["decide"])
    assert decided.status is Status.SUCCEEDED
    assert decided.variant == 'decide:mood="glad\\ud800\\x00"'
    failed = app.get(poisoned["error"])
    assert failed.status is Status.DEAD and failed.error is not None
    assert failed.error.message == "bad\\x00\\ud800"
    odd = app.get(poisoned["result"])
    assert odd.status is Status.SUCCEEDED and odd.result == "odd" + SURROGATE  # JSON keeps it


def test_an_outcome_the_database_refuses_is_dead_lettered_alone(store: Store) -> None:
    """The writer writes a refused batch one outcome at a time: the outcome that cannot be
    stored becomes a dead letter saying why, and the others are written as they were."""
    ids = store.enqueue([NewJob("j", "default", "{}", 3) for _ in range(3)])
    claimed = store.claim(WORKER, None, 3, 30.0)
    outcomes = [Outcome(job.id, job.attempt, Status.SUCCEEDED, result="1", claim=job.claim)
                for job in claimed]
    # Past every check a job's own calls make: text no backend can store.
    outcomes[1] = dataclasses.replace(outcomes[1], outcome="exit:why" + SURROGATE + "\x00")
    written: list[Outcome] = []
    writer = OutcomeWriter(store, WORKER, background=False,
                           on_written=lambda batch, lost: written.extend(batch),
                           on_error=lambda exc: None, wake=lambda: None)
    writer.add(outcomes)
    assert not writer.busy
    assert [store.get(i).status for i in ids] == [Status.SUCCEEDED, Status.DEAD, Status.SUCCEEDED]
    error = store.get(ids[1]).error
    assert error is not None and error.type == "UnstorableOutcome"
    assert "ended succeeded, but that outcome could not be stored" in error.message
    assert [o.status for o in written] == [Status.SUCCEEDED, Status.DEAD, Status.SUCCEEDED]


@pytest.mark.parametrize("background", [False, True])
def test_a_bug_met_while_writing_holds_up_no_other_outcome(store: Store, background: bool) -> None:
    """An unexpected error raised by one outcome's values (a bug) dead-letters that job
    alone, on the worker's thread or the writer's own."""
    ids = store.enqueue([NewJob("j", "default", "{}", 3) for _ in range(2)])
    claimed = store.claim(WORKER, None, 2, 30.0)

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("a value that breaks when written")

    good = Outcome(claimed[0].id, 1, Status.SUCCEEDED, result="1", claim=claimed[0].claim)
    bad = Outcome(claimed[1].id, 1, Status.SUCCEEDED, result="2", claim=claimed[1].claim,
                  events=[PathEvent("event", "x", 0.0, None, {"v": Unprintable()})])
    done: list[Outcome] = []
    writer = OutcomeWriter(store, WORKER, background=background,
                           on_written=lambda batch, lost: done.extend(batch),
                           on_error=lambda exc: None, wake=lambda: None)
    writer.add([good, bad])
    assert writer.close(timeout=10) == 0
    assert [store.get(i).status for i in ids] == [Status.SUCCEEDED, Status.DEAD]
    error = store.get(ids[1]).error
    assert error is not None and "a value that breaks" in error.message
    assert json.loads(json.dumps(error.message))  # stored as plain text
