"""What each attempt uses (CPU time, peak memory) is recorded with it, and workers report
theirs with their heartbeat — on both backends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from jobtrail import App, Context, Retry
from jobtrail.store.base import WorkerInfo
from jobtrail.testing import run_until_idle

MIB = 2**20


def ended_attrs(app: App, job_id: int) -> dict[str, Any]:
    (event,) = [e for e in app.events(job_id) if e.kind == "lifecycle" and e.name == "succeeded"]
    return dict(event.attrs)


def _burn(seconds: float) -> int:
    until, n = time.thread_time() + seconds, 0
    while time.thread_time() < until:
        n += 1
    return n


def test_an_attempt_records_its_cpu_time_and_the_peak_memory(
        make_app: Callable[..., App]) -> None:
    """A sync attempt that computes records about its CPU time, one that sleeps records
    little, one that allocates 256 MiB ends at a peak above that, and an async one (whose
    thread others share) records no CPU time."""
    app = make_app()

    @app.job
    def compute(ctx: Context) -> None:
        ctx.step("burn", _burn, 0.2)

    @app.job
    def doze() -> None:
        time.sleep(0.2)

    @app.job
    def hoard() -> int:
        block = bytearray(256 * MIB)
        block[::4096] = b"x" * len(block[::4096])  # touch every page: resident, not reserved
        return len(block)

    @app.job
    async def wait() -> None:
        await asyncio.sleep(0.05)

    ids = [job.enqueue().id for job in (compute, doze, hoard, wait)]
    run_until_idle(app)
    burnt, dozed, hoarded, waited = (ended_attrs(app, job_id) for job_id in ids)
    assert 0.15 <= burnt["cpu"] <= 1.0
    assert dozed["cpu"] < 0.05
    assert hoarded["max_rss"] >= 256 * MIB
    assert "cpu" not in waited and waited["max_rss"] > 0
    for attrs in (burnt, dozed, hoarded, waited):
        assert attrs["max_rss"] > 10 * MIB


def test_heartbeats_carry_what_the_worker_process_used(make_app: Callable[..., App]) -> None:
    """A worker's heartbeat stores its process's CPU time and peak memory; the next one
    replaces them."""
    app = make_app()
    store = app.store
    worker = WorkerInfo("w-usage", "host", 42, None, 4, cpu_seconds=1.5, max_rss=64 * MIB)
    store.heartbeat(worker, [], 30.0)
    (seen,) = [w for w in store.workers() if w.id == "w-usage"]
    assert (seen.cpu_seconds, seen.max_rss) == (1.5, 64 * MIB)
    store.heartbeat(WorkerInfo("w-usage", "host", 42, None, 4, cpu_seconds=2.5,
                               max_rss=80 * MIB), [], 30.0)
    (seen,) = [w for w in store.workers() if w.id == "w-usage"]
    assert (seen.cpu_seconds, seen.max_rss) == (2.5, 80 * MIB)


def test_an_attempt_the_watchdog_ends_records_no_cpu_of_another_thread(
        make_app: Callable[..., App]) -> None:
    """The outcome of an attempt past its timeout is made by the watchdog, not the job's
    thread: it records no CPU time (the watchdog's would be wrong), still its peak memory."""
    app = make_app()

    @app.job(timeout=0.2, retry=Retry(max_attempts=1))
    def stuck() -> None:
        _burn(0.6)

    handle = stuck.enqueue()
    run_until_idle(app)
    (event,) = [e for e in app.events(handle.id) if e.kind == "lifecycle" and e.name == "dead"]
    assert "cpu" not in event.attrs and event.attrs["max_rss"] > 0
    error = app.get(handle.id).error
    assert error is not None and error.type.endswith("JobTimeout")
