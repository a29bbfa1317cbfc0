"""A queue at its max_depth refuses new jobs with QueueFull (or waits for room), exactly,
with producers racing, in the caller's transaction too, losing nothing (both backends)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from jobtrail import App, QueueFull, Status
from jobtrail.testing import run_until_idle


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    app = make_app()
    app.queue("mail", max_depth=3)

    @app.job(queue="mail", idempotency_key=lambda to: f"mail-{to}")
    def send(to: str) -> str:
        return to

    @app.job(queue="mail")
    def note(n: int) -> int:
        return n

    return app


def test_the_queue_refuses_past_its_depth_naming_it_and_keeps_what_it_holds(app: App) -> None:
    note = app.job_named("note")
    for n in range(3):
        note.enqueue(n=n)
    with pytest.raises(QueueFull) as raised:
        note.enqueue(n=3)
    assert (raised.value.queue, raised.value.depth, raised.value.max_depth) == ("mail", 3, 3)
    assert str(raised.value).startswith(
        "queue 'mail' is full: 3 jobs wait to run and its max_depth is 3; 1 job not enqueued")
    assert len(app.jobs(queue="mail")) == 3
    run_until_idle(app)
    note.enqueue(n=4)  # room again once they ran
    assert len(app.jobs(queue="mail", status="queued")) == 1


def test_a_batch_that_would_overfill_is_refused_whole(app: App) -> None:
    note = app.job_named("note")
    note.enqueue(n=0)
    with pytest.raises(QueueFull, match="3 jobs not enqueued"):
        note.enqueue_many([{"n": 1}, {"n": 2}, {"n": 3}])
    assert len(app.jobs(queue="mail")) == 1
    note.enqueue_many([{"n": 1}, {"n": 2}])


def test_an_enqueue_its_key_already_holds_is_answered_even_when_full(app: App) -> None:
    send = app.job_named("send")
    first = send.enqueue(to="ada")
    send.enqueue(to="bob")
    send.enqueue(to="cy")
    again = send.enqueue(to="ada")
    assert again.id == first.id and again.deduplicated


def test_wait_blocks_until_a_worker_makes_room(app: App) -> None:
    note = app.job_named("note")
    note.enqueue_many([{"n": n} for n in range(3)])
    drained = threading.Timer(0.3, run_until_idle, args=(app,))
    drained.start()
    began = time.monotonic()
    handle = note.options(wait=10).enqueue(n=9)
    drained.join()
    assert 0.25 < time.monotonic() - began < 10
    assert app.get(handle.id).status in (Status.QUEUED, Status.SUCCEEDED)
    with pytest.raises(QueueFull):
        note.enqueue_many([{"n": n} for n in range(4)], wait=0.2)


def test_racing_producers_fill_the_queue_exactly(make_app: Callable[..., App]) -> None:
    """Eight threads enqueue twenty jobs each into a queue of depth 50: 50 stored, 110 refused."""
    app = make_app()
    app.queue("busy", max_depth=50)

    @app.job(queue="busy")
    def item(n: int) -> int:
        return n

    refused: list[int] = []
    barrier = threading.Barrier(8)

    def produce(offset: int) -> None:
        barrier.wait()
        for n in range(20):
            try:
                item.enqueue(n=offset + n)
            except QueueFull:
                refused.append(offset + n)

    threads = [threading.Thread(target=produce, args=(k * 100,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(app.jobs(queue="busy", limit=500)) == 50 and len(refused) == 110


def test_a_full_queue_undoes_only_the_enqueue_in_the_callers_transaction(
        app: App, backend: str, db_url: str) -> None:
    """The caller's own write in the same transaction survives the refused enqueue."""
    note = app.job_named("note")
    note.enqueue_many([{"n": n} for n in range(3)])
    if backend == "sqlite":
        import sqlite3

        lite = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        lite.execute("CREATE TABLE orders (id INTEGER)")
        lite.execute("INSERT INTO orders VALUES (1)")
        with pytest.raises(QueueFull):
            note.enqueue(n=3, connection=lite)
        lite.commit()
        assert lite.execute("SELECT count(*) FROM orders").fetchone() == (1,)
        lite.close()
    else:
        import psycopg

        with psycopg.connect(db_url) as conn:
            conn.execute("CREATE TABLE orders (id integer)")
            conn.execute("INSERT INTO orders VALUES (1)")
            with pytest.raises(QueueFull):
                note.enqueue(n=3, connection=conn)
            conn.commit()
            assert conn.execute("SELECT count(*) FROM orders").fetchone() == (1,)
            conn.execute("DROP TABLE orders")
            conn.commit()
    assert len(app.jobs(queue="mail")) == 3


@pytest.mark.parametrize(("options", "message"), [
    ({"max_depth": 0}, "max_depth must be a positive int"),
    ({"max_depth": True}, "max_depth must be a positive int"),
    ({"concurrency_limit": -1}, "concurrency_limit must be a positive int"),
    ({"rate_limit": "fast"}, "rate_limit 'fast' is not a rate"),
    ({"rate_limit": "0/s"}, "must let at least some jobs through"),
    ({"rate_limit": 100}, "is not a rate"),
    ({"max_latency": -5}, "max_latency must be a positive number of seconds"),
    ({"paused": "yes"}, "paused must be True or False"),
])
def test_bad_queue_options_are_refused_naming_the_queue(make_app: Callable[..., App],
                                                         options: dict[str, object],
                                                         message: str) -> None:
    from jobtrail.errors import ConfigurationError

    app = make_app()
    with pytest.raises(ConfigurationError, match=f"queue 'q': .*{message}"):
        app.queue("q", **options)  # type: ignore[arg-type]
    assert "q" not in app.queues


def test_bad_job_limits_and_waits_are_refused_naming_the_job(make_app: Callable[..., App]
                                                             ) -> None:
    from jobtrail.errors import ArgumentError, JobDefinitionError

    app = make_app()
    for options, message in (
        ({"concurrency_limit": 0}, "concurrency_limit must be a positive int"),
        ({"rate_limit": "10/fortnight"}, "is not a rate"),
        ({"concurrency_key": lambda n: str(n)}, "concurrency_key= needs concurrency_limit="),
        ({"concurrency_limit": 2, "concurrency_key": "tenant"}, "must be a function"),
    ):
        with pytest.raises(JobDefinitionError, match=f"job 'bad': .*{message}"):
            app.job(name="bad", **options)(lambda n: n)

    def key(n: int) -> str:
        return "" if n else str(1 / 0)

    @app.job(concurrency_limit=1, concurrency_key=key)
    def keyed(n: int) -> None: ...

    with pytest.raises(ArgumentError, match="concurrency_key function failed"):
        keyed.enqueue(n=0)
    with pytest.raises(ArgumentError, match="gave a bad key"):
        keyed.enqueue(n=1)
    with pytest.raises(ArgumentError, match="wait must be seconds"):
        keyed.enqueue(n=1, wait=-1)  # type: ignore[call-arg]
    assert app.jobs() == []
