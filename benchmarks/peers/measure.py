"""Shared measurement code, run by ``driver.py`` inside the peers' environment.

The workloads every library goes through, written once so they are the same for all:
enqueue one at a time, enqueue in bulk, drain N queued jobs of one kind (the no-op, the
Redis round trip) with the library's workers, and pick-up latency at a steady rate to idle
workers. Jobs report their start through `jobrecord.record` (a line in a per-process
file); `Records` reads those files.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jobrecord

HERE = Path(__file__).resolve().parent


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


async def maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class Records:
    """Start times written by `jobrecord.record`, read incrementally (only new bytes)."""

    def __init__(self, directory: str) -> None:
        self.dir = directory
        self.offsets: dict[str, int] = {}
        self.partial: dict[str, bytes] = {}
        self.starts: dict[int, float] = {}
        self.lines = 0

    def clear(self) -> None:
        for name in os.listdir(self.dir):
            os.remove(os.path.join(self.dir, name))
        self.offsets.clear()
        self.partial.clear()
        self.starts.clear()
        self.lines = 0

    def poll(self) -> int:
        for name in os.listdir(self.dir):
            path = os.path.join(self.dir, name)
            with open(path, "rb") as f:
                f.seek(self.offsets.get(name, 0))
                data = self.partial.pop(name, b"") + f.read()
                self.offsets[name] = f.tell()
            lines = data.split(b"\n")
            if lines[-1]:
                self.partial[name] = lines[-1]
            for line in lines[:-1]:
                i, t = line.split()
                self.lines += 1
                self.starts.setdefault(int(i), float(t))  # a job run twice keeps its first start
        return len(self.starts)

    def wait(self, keys: set[int] | int, timeout: float, workers: WorkerGroup | None,
             cap: float | None = None) -> bool:
        """Until *keys* (a set, or a count of jobs 0..n-1) have started: True. False when
        *cap* seconds passed since the first start before that."""
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            if isinstance(keys, int):
                started = [t for k, t in self.starts.items() if 0 <= k < keys]
                if len(started) >= keys:
                    return True
                if cap and started and time.time() - min(started) > cap:
                    return False
            elif keys <= self.starts.keys():
                return True
            if workers is not None and not workers.alive():
                raise RuntimeError(f"workers exited early:\n{workers.tail()}")
            if time.monotonic() > deadline:
                detail = f"\n{workers.tail()}" if workers else ""
                raise RuntimeError(
                    f"timed out after {timeout:.0f}s ({len(self.starts)} jobs started){detail}")
            time.sleep(0.05)


class WorkerGroup:
    """A library's worker processes under `procgroup.py`, in a process group of their own."""

    def __init__(self, commands: list[list[str]], env: dict[str, str], log: Path) -> None:
        self.log = open(log, "w+b")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "procgroup.py"), json.dumps(commands)],
            stdin=subprocess.PIPE, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True, env=env, cwd=HERE,
        )
        self.pgid = self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, chars: int = 3000) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-chars:]

    def stop(self, grace: float = 0.5) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(grace)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # whatever is left of the group
            self.proc.poll()  # reap the leader, or the group never looks empty
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                break
            time.sleep(0.05)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(1)
        with contextlib.suppress(OSError):
            self.proc.stdin.close()  # type: ignore[union-attr]
        self.log.close()

    def __enter__(self) -> WorkerGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- workloads ------------------------------------------------------------------------------


async def single_enqueue(producer: Any, n: int) -> dict[str, Any]:
    for i in range(20):  # open connections, warm caches
        await maybe(producer.one(-1 - i))
    times = []
    start = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        await maybe(producer.one(i))
        times.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    return {"jobs": n, "jobs_per_s": n / elapsed, "p50_us": percentile(times, 50) * 1e6}


async def bulk_enqueue(producer: Any, n: int, batch: int) -> dict[str, Any]:
    await maybe(producer.many([-1]))
    batches = [list(range(s, min(n, s + batch))) for s in range(0, n, batch)]
    start = time.perf_counter()
    for items in batches:
        await maybe(producer.many(items))
    elapsed = time.perf_counter() - start
    return {"jobs": n, "batch": batch, "jobs_per_s": n / elapsed}


async def fill(producer: Any, n: int, batch: int = 1000) -> None:
    """Queue jobs 0..n-1 (not timed): in bulk where the library can, else one by one."""
    for s in range(0, n, batch):
        items = list(range(s, min(n, s + batch)))
        if getattr(producer, "many", None) is not None:
            await maybe(producer.many(items))
        elif inspect.iscoroutinefunction(producer.one):
            await asyncio.gather(*(producer.one(i) for i in items))
        else:
            for i in items:
                producer.one(i)


PICKUP_BASE = 10_000_000  # pick-up jobs are numbered from here, after the drain's


ROUNDTRIP_JOBS = ("roundtrip", "roundtrip_async")


async def drain(adapter: Any, ctx: Any, n: int, cap: float, job: str = "noop",
                pickup: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """Drain *n* queued jobs of kind *job*: first start to last start. Draining stops
    being timed *cap* seconds after the first start (slow libraries drain part of the
    queue). With *pickup* (rate, seconds), the pick-up latency is measured next, on the now
    idle workers, when the drain finished; otherwise on freshly started ones."""
    await maybe(adapter.prepare())
    producer = await maybe(adapter.producer(job))
    results = []
    try:
        await fill(producer, n)
        workers = adapter.workers(job)
        settings = workers.settings
        ctx.records.clear()
        if job in ROUNDTRIP_JOBS:
            jobrecord.reset_roundtrips()
        t0 = time.perf_counter()
        with ctx.workers(workers.commands) as group:
            done = ctx.records.wait(n, max(60.0, n / 50), group, cap=cap)
            wall = time.perf_counter() - t0
            starts = sorted(t for i, t in ctx.records.starts.items() if 0 <= i < n)
            span = starts[-1] - starts[0]
            results.append({
                "job": job, "jobs": n, "measured_jobs": len(starts), "complete": done,
                "span_s": span,
                "jobs_per_s": (len(starts) - 1) / span if span > 0 else float("inf"),
                "wall_s": wall, "runs_recorded": ctx.records.lines, "settings": settings,
                "concurrency": workers.concurrency})
            if job in ROUNDTRIP_JOBS:
                results[0]["roundtrips"] = await _roundtrips(len(starts), group)
            if pickup and done:
                await asyncio.sleep(pickup["idle"])
                results.append(await _pickup(producer, ctx, group, pickup, settings))
    finally:
        await maybe(producer.close())
    if pickup and not results[0]["complete"]:
        results.append(await fresh_pickup(adapter, ctx, pickup))
    return results


async def fresh_pickup(adapter: Any, ctx: Any, pickup: dict[str, float]) -> dict[str, Any]:
    """Pick-up latency on freshly started workers, after a few unmeasured jobs."""
    await maybe(adapter.prepare())
    workers = adapter.workers("noop")
    settings = workers.settings
    ctx.records.clear()
    producer = await maybe(adapter.producer())
    try:
        with ctx.workers(workers.commands) as group:
            warmup = set(range(-1, -11, -1))  # every worker up and connected
            for i in sorted(warmup, reverse=True):
                await maybe(producer.one(i))
                await asyncio.sleep(0.02)
            ctx.records.wait(warmup, 90, group)
            await asyncio.sleep(pickup["idle"])
            result = await _pickup(producer, ctx, group, pickup, settings)
    finally:
        await maybe(producer.close())
    return result


async def _roundtrips(expected: int, group: WorkerGroup, timeout: float = 10.0) -> int:
    """The round trips the jobs made, once *expected* have (the last jobs to start may
    still be on their way): proof that the job did make them."""
    deadline = time.monotonic() + timeout
    while (count := jobrecord.roundtrips()) < expected:
        if time.monotonic() > deadline or not group.alive():
            raise RuntimeError(f"the jobs made {count} Redis round trips, {expected} "
                               f"expected:\n{group.tail()}")
        await asyncio.sleep(0.05)
    return count


async def _pickup(producer: Any, ctx: Any, group: WorkerGroup, pickup: dict[str, float],
                  settings: str) -> dict[str, Any]:
    """One job at a time at a steady rate; latency = start - time just before enqueue."""
    rate = pickup["rate"]
    count = round(rate * pickup["seconds"])
    interval = 1.0 / rate
    sent: dict[int, float] = {}
    returned: dict[int, float] = {}
    late = 0
    begin = time.perf_counter()
    for k in range(count):
        pause = begin + k * interval - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        elif pause < -interval:
            late += 1
        i = PICKUP_BASE + k
        sent[i] = time.time()
        await maybe(producer.one(i))
        returned[i] = time.time()
    ctx.records.wait(set(sent), 60, group)
    ms = [(ctx.records.starts[i] - t) * 1000 for i, t in sent.items()]
    after = [(ctx.records.starts[i] - t) * 1000 for i, t in returned.items()]  # minus enqueue
    call = [(returned[i] - t) * 1000 for i, t in sent.items()]  # the enqueue call itself
    return {"jobs": count, "rate": rate, "late_sends": late, "p50_ms": percentile(ms, 50),
            "p95_ms": percentile(ms, 95), "p99_ms": percentile(ms, 99), "max_ms": max(ms),
            "after_enqueue_p50_ms": percentile(after, 50),
            "after_enqueue_p99_ms": percentile(after, 99),
            "enqueue_p50_ms": percentile(call, 50), "enqueue_p99_ms": percentile(call, 99),
            "settings": settings}
