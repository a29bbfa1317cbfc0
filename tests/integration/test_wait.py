"""``handle.wait`` and ``wait_async``: the finished job, or `WaitTimeout` on time, woken by
the store rather than by polling (on SQLite and PostgreSQL, with real worker processes)."""

from __future__ import annotations

import asyncio
import math
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from jobtrail import (
    App,
    Context,
    JobNotFound,
    Permanent,
    Retry,
    Status,
    StoreError,
    StoreLost,
    WaitTimeout,
    waiting,
)
from jobtrail.testing import run_until_idle
from tests.conftest import _empty_pg
from tests.support import rawsql
from tests.support.processes import start_worker
from tests.support.proxy import FlakyProxy


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    """Stop a worker process started by `start_worker` (SIGTERM, then SIGKILL)."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def declare(app: App) -> Any:
    """The test workload's ``work`` job (run by real workers), and a failing one."""

    @app.job(name="work", retry=Retry(max_attempts=20, base=0.01, cap=0.05))
    def work(ctx: Context, n: int, sleep: float = 0.0) -> int:
        time.sleep(sleep)
        return n

    @app.job(retry=Retry(max_attempts=1), redact=["card"])
    def decline(card: str) -> None:
        raise Permanent(f"card {card} declined")

    return work, decline


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    made = make_app()
    declare(made)
    return made


@pytest.fixture
def worker(db_url: str, tmp_path: Path) -> Iterator[None]:
    """A ``jobtrail worker`` process running the test workload on the database."""
    proc = start_worker(db_url, tmp_path / "runs.log", "--concurrency", "4")
    yield
    stop_worker(proc)


def waiting_in_thread(handle: Any, timeout: float) -> tuple[threading.Thread, list[Any]]:
    """Start ``handle.wait(timeout)`` on a thread; the list gets its record or error."""
    ended: list[Any] = []

    def wait() -> None:
        try:
            ended.append(handle.wait(timeout=timeout))
        except Exception as exc:
            ended.append(exc)

    thread = threading.Thread(target=wait)
    thread.start()
    return thread, ended


def listeners(backend: str, db_url: str) -> int:
    """How many watches of finished jobs are open: LISTEN connections on PostgreSQL,
    watcher threads on SQLite."""
    if backend == "sqlite":
        return sum(t.name == "jobtrail-sqlite-watch_finished" for t in threading.enumerate())
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                           " AND application_name = 'jobtrail-waiters'").fetchone()
    return int(row[0]) if row else 0


def test_a_job_finished_before_the_wait_returns_at_once(app: App) -> None:
    """Waiting for a job that already succeeded reads it and returns, with its path."""
    handle = app.job_named("work").enqueue(n=7)
    run_until_idle(app)
    started = time.monotonic()
    job = handle.wait(timeout=5)
    assert time.monotonic() - started < 0.5
    assert (job.status, job.result) == (Status.SUCCEEDED, 7)
    assert [e.name for e in job.path if e.kind == "lifecycle"][-1] == "succeeded"


def test_the_timeout_raises_wait_timeout_on_time(app: App) -> None:
    """A job nobody runs makes wait raise `WaitTimeout` after the timeout (not before, and
    soon after), naming the job, its status and the timeout; timeout=0 looks once."""
    handle = app.job_named("work").enqueue(n=1)
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as raised:
        handle.wait(timeout=0.6)
    took = time.monotonic() - started
    assert 0.6 <= took < 1.2, took
    error = raised.value
    assert (error.job_id, error.job_name, error.status, error.timeout) == (
        handle.id, "work", "queued", 0.6)
    assert str(error) == (f"job {handle.id} (work) did not finish within the 0.6s timeout: "
                          "it is still queued")
    started = time.monotonic()
    with pytest.raises(WaitTimeout, match="within the 0s timeout"):
        handle.wait(timeout=0)
    assert time.monotonic() - started < 0.5


def test_a_worker_process_finishing_the_job_wakes_the_wait(
        app: App, worker: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A job run by a real worker process ends the wait soon after it finishes: woken by
    the store (the safety poll is set far away), with the result."""
    work = app.job_named("work")
    work.enqueue(n=0).wait(timeout=30)  # the worker is up, and knows this process waits
    monkeypatch.setattr(waiting, "SAFETY_POLL", 60.0)
    handle = work.enqueue(n=42, sleep=0.5)
    started = time.monotonic()
    job = handle.wait(timeout=30)
    took = time.monotonic() - started
    assert (job.status, job.result) == (Status.SUCCEEDED, 42)
    assert 0.5 <= took < 5, took
    assert job.worker_id is not None and not job.worker_id.startswith("run:")


def test_wait_async_lets_the_loop_run_and_waits_for_many_at_once(
        app: App, worker: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many ``wait_async`` on one event loop end with their results, woken by the store,
    while the loop keeps running other tasks; one times out with `WaitTimeout`."""
    work = app.job_named("work")
    work.enqueue(n=0).wait(timeout=30)  # the worker is up, and knows this process waits
    monkeypatch.setattr(waiting, "SAFETY_POLL", 60.0)
    handles = [work.enqueue(n=n, sleep=0.2) for n in range(8)]
    nobody = app.job_named("decline").options(delay=3600).enqueue(card="4000")

    async def main() -> tuple[list[Any], int, BaseException | None]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        jobs = await asyncio.gather(*(h.wait_async(timeout=30) for h in handles))
        try:
            await nobody.wait_async(timeout=0.3)
            timed_out = None
        except WaitTimeout as exc:
            timed_out = exc
        ticker.cancel()
        return jobs, ticks, timed_out

    started = time.monotonic()
    jobs, ticks, timed_out = asyncio.run(main())
    assert time.monotonic() - started < 15
    assert [(j.status, j.result) for j in jobs] == [(Status.SUCCEEDED, n) for n in range(8)]
    assert ticks > 10
    assert isinstance(timed_out, WaitTimeout) and timed_out.status == "queued"


def test_a_finish_nobody_signals_is_found_by_the_safety_read(app: App, db_url: str) -> None:
    """A job ended behind the store's back (no notification: as if it were lost) still ends
    the wait, found by the read of every waited job each second."""
    handle = app.job_named("work").enqueue(n=1)
    thread, ended = waiting_in_thread(handle, 30)
    time.sleep(0.5)
    rawsql.execute(db_url, "UPDATE jobtrail_jobs SET status = 'cancelled' WHERE id = ?",
                   (handle.id,))
    finished = time.monotonic()
    thread.join(30)
    assert time.monotonic() - finished < 2.5
    assert ended[0].status is Status.CANCELLED


def test_dead_and_cancelled_jobs_are_returned_not_raised(app: App) -> None:
    """A job that failed for good comes back dead with its (masked) error; a cancelled one
    comes back cancelled: both are final, and neither is an exception."""
    dead = app.job_named("decline").enqueue(card="4111222233334444")
    run_until_idle(app)
    job = dead.wait(timeout=5)
    assert job.status is Status.DEAD and job.error is not None
    assert job.error.message == "card [redacted] declined"
    cancelled = app.job_named("work").enqueue(n=3)
    threading.Timer(0.3, app.cancel, args=(cancelled.id,)).start()
    started = time.monotonic()
    assert cancelled.wait(timeout=10).status is Status.CANCELLED
    assert time.monotonic() - started < 2


def test_unknown_ids_and_bad_timeouts_are_refused(app: App) -> None:
    """An id the store does not hold is `JobNotFound`; a timeout that is not a number ≥ 0
    is a `ValueError` saying what a timeout is."""
    with pytest.raises(JobNotFound, match="no job with id 999"):
        app.wait(999, timeout=1)
    with pytest.raises(JobNotFound):
        asyncio.run(app.wait_async(-5))
    handle = app.job_named("work").enqueue(n=1)
    for bad in (-1, "5", math.nan, True, [1], "x" * 100_000):
        with pytest.raises(ValueError, match="the timeout is the seconds to wait") as raised:
            handle.wait(timeout=bad)  # type: ignore[arg-type]
        assert len(str(raised.value)) < 400
    with pytest.raises(ValueError):
        asyncio.run(handle.wait_async(timeout=-0.5))


def test_a_job_waiting_for_a_job_that_needs_its_slot_times_out(app: App) -> None:
    """The deadlock the docs warn of: a running job waits for a child that needs the only
    worker slot, which the waiting job holds. With a timeout it fails with `WaitTimeout`
    (it is not left holding the slot); the child runs afterwards."""

    @app.job(retry=Retry(max_attempts=1))
    def parent(ctx: Context) -> int:
        child = ctx.enqueue("work", n=9)
        result: int = child.wait(timeout=0.5).result
        return result

    handle = parent.enqueue()
    run_until_idle(app, concurrency=1)
    job = handle.get()
    assert job.status is Status.DEAD and job.error is not None
    assert job.error.type == "jobtrail.errors.WaitTimeout"
    assert job.error.message.endswith("(work) did not finish within the 0.5s timeout: "
                                      "it is still queued")
    (child,) = app.jobs(job_name="work")
    assert (child.status, child.result, child.parent_job_id) == (Status.SUCCEEDED, 9, job.id)


def test_a_timeout_of_infinity_or_a_huge_int_waits_like_none(app: App) -> None:
    """``math.inf`` and an int no float can hold wait as long as it takes, like ``None``."""
    for forever in (math.inf, 10**400, None):
        handle = app.job_named("work").enqueue(n=2)
        threading.Timer(0.2, run_until_idle, args=(app,)).start()
        assert handle.wait(timeout=forever).result == 2


def test_many_waits_in_a_process_share_one_watch(
        app: App, backend: str, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Twenty threads waiting on twenty jobs use one listener (one LISTEN connection, one
    watcher thread); it closes a while after the last wait ends."""
    monkeypatch.setattr(waiting, "LINGER", 0.5)
    work = app.job_named("work")
    handles = [work.enqueue(n=n) for n in range(20)]
    results: dict[int, Any] = {}
    threads = [threading.Thread(target=lambda h=h: results.update({h.id: h.wait(timeout=30)}))
               for h in handles]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while listeners(backend, db_url) == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert listeners(backend, db_url) == 1
    run_until_idle(app, concurrency=4)
    for thread in threads:
        thread.join(30)
    assert sorted(job.result for job in results.values()) == list(range(20))
    deadline = time.monotonic() + 10
    while listeners(backend, db_url):
        assert time.monotonic() < deadline, "the watch outlived its waits"
        time.sleep(0.1)


def test_a_database_file_deleted_under_a_wait_ends_it_with_store_lost(tmp_path: Path) -> None:
    """SQLite: the file deleted while a wait goes on ends it at once with `StoreLost`, long
    before its timeout."""
    sqlite_app = App(f"sqlite:///{tmp_path / 'lost.db'}")
    work, _ = declare(sqlite_app)
    handle = work.enqueue(n=1)
    thread, ended = waiting_in_thread(handle, 60)
    time.sleep(0.3)
    started = time.monotonic()
    (tmp_path / "lost.db").unlink()
    thread.join(30)
    assert not thread.is_alive() and time.monotonic() - started < 5
    assert isinstance(ended[0], StoreLost), ended
    sqlite_app.close()


@pytest.fixture
def proxy(pg_url: str) -> Iterator[tuple[FlakyProxy, str]]:
    """A proxy to the test database that tests can cut, and the URL through it."""
    parts = urlsplit(pg_url)
    flaky = FlakyProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    yield flaky, urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{flaky.port}"))
    flaky.close()


@pytest.mark.postgres
def test_the_wait_outlives_a_database_restart(
        pg_url: str, proxy: tuple[FlakyProxy, str], tmp_path: Path) -> None:
    """Every connection of the waiting process is cut while the job finishes (its
    notification lost) and comes back: the wait reconnects and returns the result."""
    _empty_pg(pg_url)
    flaky, via_proxy = proxy
    waiter = App(via_proxy)
    work, _ = declare(waiter)
    handle = work.enqueue(n=5, sleep=1.0)
    proc = start_worker(pg_url, tmp_path / "runs.log")
    try:
        thread, ended = waiting_in_thread(handle, 60)
        time.sleep(0.3)
        flaky.cut()
        direct = App(pg_url)
        deadline = time.monotonic() + 30
        while direct.store.get(handle.id).status is not Status.SUCCEEDED:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        direct.close()
        time.sleep(0.5)
        assert thread.is_alive()  # still waiting: the database is away
        flaky.restore()
        restored = time.monotonic()
        thread.join(30)
        assert not thread.is_alive() and time.monotonic() - restored < 8
    finally:
        stop_worker(proc)
        waiter.close()
    assert (ended[0].status, ended[0].result) == (Status.SUCCEEDED, 5)


@pytest.mark.postgres
def test_a_database_gone_past_the_timeout_is_a_store_error_on_time(
        pg_url: str, proxy: tuple[FlakyProxy, str]) -> None:
    """A database that stays unreachable ends a wait with its store error, not a hang and
    not a misleading `WaitTimeout`, soon after the timeout."""
    _empty_pg(pg_url)
    flaky, via_proxy = proxy
    waiter = App(via_proxy)
    work, _ = declare(waiter)
    handle = work.enqueue(n=5)
    try:
        thread, ended = waiting_in_thread(handle, 2)
        time.sleep(0.3)
        flaky.cut()
        started = time.monotonic()
        thread.join(30)
        took = time.monotonic() - started
    finally:
        waiter.close()
    assert not thread.is_alive() and took < 8, took
    assert isinstance(ended[0], StoreError) and not isinstance(ended[0], WaitTimeout), ended


def test_a_bulk_cancel_elsewhere_wakes_the_wait(
        app: App, db_url: str, make_app: Callable[..., App],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs cancelled in a batch by another app (an operator's `jobtrail cancel`) end the
    waits on them at once, woken by the store: the safety read is set far away."""
    monkeypatch.setattr(waiting, "SAFETY_POLL", 60.0)
    later = app.job_named("decline").options(delay=3600)
    handles = [later.enqueue(card=f"40{n:02d}") for n in range(3)]
    waits = [waiting_in_thread(handle, 30) for handle in handles]
    time.sleep(0.5)  # the waits are asleep on the store's watch
    operator = make_app()
    try:
        started = time.monotonic()
        results = operator.cancel_many([handle.id for handle in handles])
        assert [result.verdict for result in results] == ["done"] * 3
        for thread, _ in waits:
            thread.join(timeout=10)
        took = time.monotonic() - started
    finally:
        operator.close()
    assert [ended[0].status for _, ended in waits] == [Status.CANCELLED] * 3
    assert took < 5, took


def test_a_wait_outlasts_a_graceful_release(app: App, db_url: str, tmp_path: Path) -> None:
    """A job released by a worker's graceful stop (its grace ran out mid-job) goes back to
    the queue: the wait goes on through the release, and ends with the job another worker
    then finishes."""
    first = start_worker(db_url, tmp_path / "first.log", "--concurrency", "1", "--grace", "0")
    handle = app.job_named("work").enqueue(n=7, sleep=3)
    thread, ended = waiting_in_thread(handle, 60)
    try:
        deadline = time.monotonic() + 30
        while handle.status is not Status.RUNNING:
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.05)
    finally:
        stop_worker(first)  # SIGTERM with no grace: the running job is released
    assert not handle.get().is_final
    time.sleep(1.0)
    assert not ended, "the wait ended at the release"
    second = start_worker(db_url, tmp_path / "second.log", "--concurrency", "1")
    try:
        thread.join(timeout=30)
    finally:
        stop_worker(second)
    (job,) = ended
    assert (job.status, job.result) == (Status.SUCCEEDED, 7)


def test_a_lease_expiring_on_the_last_attempt_wakes_the_wait(
        app: App, make_app: Callable[..., App], monkeypatch: pytest.MonkeyPatch) -> None:
    """A job whose worker died on its last attempt ends dead when another process recovers
    its lease, and that ends the waits on it at once, woken by the store (the recovery's
    own notice: the safety read is set far away)."""
    monkeypatch.setattr(waiting, "SAFETY_POLL", 60.0)
    handle = app.job_named("decline").enqueue(card="4000")
    (claimed,) = app.store.claim("a-worker-that-dies", None, 1, 0.3)  # and never finishes
    assert claimed.id == handle.id and claimed.max_attempts == 1
    thread, ended = waiting_in_thread(handle, 30)
    time.sleep(0.6)  # the lease has run out; the wait is asleep on the store's watch
    recovering = make_app()
    try:
        started = time.monotonic()
        assert recovering.store.reap_expired() == [handle.id]
        thread.join(timeout=10)
        took = time.monotonic() - started
    finally:
        recovering.close()
    assert [record.status for record in ended] == [Status.DEAD]
    assert took < 5, took
