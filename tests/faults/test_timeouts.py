"""Timeouts that bound an attempt, and worker processes that die or freeze in a job."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from jobtrail import App, Retry, Status, Worker
from jobtrail.testing import run_until_idle
from tests.support import faulty
from tests.support.processes import start_worker, worker_errors

ONCE = Retry(max_attempts=1)
FAULTY = "tests.support.faulty:app"


def test_an_async_job_that_swallows_its_cancellation_still_times_out(
    make_app: Callable[..., App],
) -> None:
    """A job that catches CancelledError and goes on is abandoned past its timeout and
    recorded as JobTimeout, never as a success."""
    app = make_app()

    @app.job(timeout=0.3, retry=ONCE)
    async def stubborn() -> str:
        for _ in range(100):
            try:
                await asyncio.sleep(0.1)
            except asyncio.CancelledError:
                continue
        return "finished anyway"

    handle = stubborn.enqueue()
    started = time.monotonic()
    run_until_idle(app)
    record = handle.get()
    assert record.status is Status.DEAD and record.error is not None
    assert record.error.type == "jobtrail.errors.JobTimeout"
    assert "did not stop when cancelled" in record.error.message
    assert time.monotonic() - started < 5


def test_an_async_job_that_returns_after_its_timeout_has_timed_out(
    make_app: Callable[..., App],
) -> None:
    """A result that arrives past the deadline (the cancellation swallowed) is a JobTimeout."""
    app = make_app()

    @app.job(timeout=0.2, retry=ONCE)
    async def late() -> str:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(1)
        return "late"

    handle = late.enqueue()
    run_until_idle(app)
    record = handle.get()
    assert record.status is Status.DEAD and record.error is not None
    assert record.error.type == "jobtrail.errors.JobTimeout" and record.result is None


def test_a_sync_job_that_returns_after_its_timeout_has_timed_out(make_app: Callable[..., App]) -> None:
    """A sync job stuck in a C call past its deadline is recorded as JobTimeout even though
    it returns a value in the end."""
    app = make_app()

    @app.job(timeout=0.2, retry=ONCE)
    def slow() -> str:
        time.sleep(0.6)  # one C call: the timeout cannot interrupt it
        return "late"

    handle = slow.enqueue()
    run_until_idle(app)
    record = handle.get()
    assert record.status is Status.DEAD and record.error is not None
    assert record.error.type == "jobtrail.errors.JobTimeout" and record.result is None


def test_a_job_blocking_the_event_loop_times_out_and_new_async_jobs_move_on(
    make_app: Callable[..., App], caplog: pytest.LogCaptureFixture,
) -> None:
    """time.sleep inside async def blocks the loop: the job fails as JobTimeout at its
    deadline, the worker names where the loop is stuck, and later async jobs run on a fresh loop."""
    app = make_app()

    @app.job(timeout=0.5, retry=ONCE)
    async def blocking() -> None:
        time.sleep(6)  # blocks every coroutine of this loop

    @app.job
    async def quick(n: int) -> int:
        await asyncio.sleep(0.01)
        return n

    blocker = blocking.enqueue()
    worker = Worker(app, concurrency=4, install_signals=False)
    caplog.set_level(logging.WARNING, logger="jobtrail.worker")
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while app.get(blocker.id).status is not Status.DEAD:
            assert time.monotonic() < deadline, "the blocked job was not timed out"
            time.sleep(0.05)
        assert time.monotonic() < deadline
        later = [quick.enqueue(n=n) for n in range(3)]
        deadline = time.monotonic() + 5  # well before the blocker's 6 s are over
        while any(h.get().status is not Status.SUCCEEDED for h in later):
            assert time.monotonic() < deadline, [h.get().status for h in later]
            time.sleep(0.05)
    finally:
        worker.stop(now=True)
        thread.join(20)
    error = app.get(blocker.id).error
    assert error is not None and error.type == "jobtrail.errors.JobTimeout"
    assert any("blocked the event loop" in r.message and "test_timeouts.py" in r.message
               for r in caplog.records)


@pytest.mark.slow
def test_a_job_holding_the_interpreter_in_c_code_is_stopped_before_its_lease_runs_out(
    make_app: Callable[..., App], db_url: str, tmp_path: Path,
) -> None:
    """A catastrophic regex freezes its worker process (no heartbeat, no pulse): the
    supervisor kills it well within the lease and the job is dead-lettered as WorkerFrozen,
    having run once — never a second attempt beside the frozen one."""
    app = make_app()
    job = app.job(retry=faulty.ONCE)(faulty.backtracks.fn)
    handle = job.enqueue(length=40)
    log = tmp_path / "marks.log"
    proc = start_worker(db_url, log, app=FAULTY, lease=4.0)
    try:
        deadline = time.monotonic() + 30
        while app.get(handle.id).status is not Status.DEAD:
            assert time.monotonic() < deadline, worker_errors(log)
            time.sleep(0.1)
        # The supervisor ends the frozen process's leases, then says it restarts the slot:
        # stopped in between, it would rightly not restart it.
        while "restarting" not in worker_errors(log):
            assert time.monotonic() < deadline, worker_errors(log)
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(20)
    record = app.get(handle.id)
    assert record.error is not None and record.error.type == "WorkerFrozen", record.error
    assert "stopped answering" in record.error.message
    marks = log.read_text().split()
    assert marks.count("matching") == 1
    assert "killing it" in worker_errors(log)


@pytest.mark.slow
def test_a_job_calling_os_exit_is_named_and_its_neighbour_says_why_it_stopped(
    make_app: Callable[..., App], db_url: str, tmp_path: Path,
) -> None:
    """os._exit in a job ends its worker process: the job's dead letter says the process
    exited with that code, the job beside it is retried (and says why), and nothing waits
    for a lease to run out."""
    app = make_app()
    exits = app.job(retry=faulty.ONCE)(faulty.exits.fn)
    sleeper = app.job(retry=faulty.TWICE)(faulty.sleeper.fn)
    bystander = sleeper.enqueue(seconds=1.0)
    culprit = exits.enqueue(code=3)
    log = tmp_path / "marks.log"
    proc = start_worker(db_url, log, "--concurrency", "2", app=FAULTY, lease=30.0)
    try:
        deadline = time.monotonic() + 30  # far less than the 30 s lease
        while app.get(bystander.id).status is not Status.SUCCEEDED:
            assert time.monotonic() < deadline, worker_errors(log)
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(20)
    dead = app.get(culprit.id)
    assert dead.status is Status.DEAD and dead.error is not None
    assert dead.error.type == "WorkerExited" and "exited with code 3" in dead.error.message
    assert "os._exit()" in dead.error.message
    survivor = app.get(bystander.id)
    assert survivor.attempts == 2
    (expired,) = [e for e in survivor.path if e.name == "lease_expired"]
    assert expired.attrs["error"] == "WorkerExited"
