"""Procrastinate on PostgreSQL: 2 ``procrastinate worker`` processes, its default
concurrency (1 job at a time) or ``--concurrency 32`` when tuned (LISTEN/NOTIFY on, its
default). Bulk enqueue: ``batch_defer_async``. Claim cost: its
``fetch_job`` (one job per call) + ``finish_job``, 10 times."""

from __future__ import annotations

import time
from typing import Any

from jobrecord import record, roundtrip, roundtrip_async
from procrastinate import App, PsycopgConnector

from adapters import ASYNC_JOBS, Env, Workers, recreate_database, vacuum_analyze

env = Env.current()
DEFAULT_CONCURRENCY = 1  # procrastinate worker's default --concurrency
CLAIM_BUDGET = 15.0  # seconds of claiming per depth, at most (10 claims at least)
app = App(connector=PsycopgConnector(conninfo=env.pg_url))


@app.task(name="peer_noop", queue="peers")
async def peer_noop(i: int) -> None:
    record(i)


@app.task(name="peer_roundtrip", queue="peers")
async def peer_roundtrip(i: int) -> None:
    roundtrip(i)  # blocking: holds the event loop meanwhile


@app.task(name="peer_roundtrip_async", queue="peers")
async def peer_roundtrip_async(i: int) -> None:
    await roundtrip_async(i)


TASKS = {"noop": peer_noop, "roundtrip": peer_roundtrip,
         "roundtrip_async": peer_roundtrip_async}


class Producer:
    def __init__(self, job: str = "noop") -> None:
        self.task = TASKS[job]

    async def open(self) -> Producer:
        await app.open_async()
        return self

    async def one(self, i: int) -> None:
        await self.task.defer_async(i=i)

    async def many(self, items: list[int]) -> None:
        await self.task.batch_defer_async(*({"i": i} for i in items))

    async def close(self) -> None:
        await app.close_async()


class Adapter:
    library, backend, family = "Procrastinate", "PostgreSQL", "postgres"
    jobs = ASYNC_JOBS
    bulk = None

    def __init__(self, env: Env) -> None:
        self.env, self.key = env, env.key

    def version(self) -> str:
        from importlib.metadata import version

        return version("procrastinate")

    async def prepare(self) -> None:
        recreate_database(self.env.pg_url)
        async with app.open_async():
            await app.schema_manager.apply_schema_async()

    async def producer(self, job: str = "noop") -> Producer:
        return await Producer(job).open()

    def workers(self, job: str) -> Workers:
        c = self.env.concurrency if self.env.tuned else DEFAULT_CONCURRENCY
        opts = ["--concurrency", str(c)] if self.env.tuned else []
        cmd = [self.env.tool("procrastinate"), "--app", "adapters.procrastinate_peer.app",
               "worker", *opts]
        return Workers([cmd] * self.env.processes,
                       " ".join([f"{self.env.processes} x procrastinate worker", *opts]), str(c))

    async def claim(self, depth: int, claims: int) -> dict[str, Any]:
        from procrastinate.jobs import Status

        await self.prepare()
        producer = await self.producer()
        try:
            for s in range(0, depth, 5000):
                await producer.many(list(range(s, min(depth, s + 5000))))
            vacuum_analyze(self.env.pg_url)  # as benchmarks/core.py does after its fill
            manager = app.job_manager
            worker_id = await manager.register_worker()
            totals = []
            warm = min(20, claims // 4)
            begin = time.perf_counter()
            for k in range(claims + warm):
                if len(totals) >= 10 and time.perf_counter() - begin > CLAIM_BUDGET:
                    break  # enough samples of a slow claim
                t0 = time.perf_counter()
                for _ in range(10):
                    job = await manager.fetch_job(None, worker_id)
                    assert job is not None
                    await manager.finish_job(job, Status.SUCCEEDED, delete_job=False)
                if k >= warm:
                    totals.append((time.perf_counter() - t0) * 1e6)
                await producer.many(list(range(10)))  # keep the depth (not timed)
        finally:
            await producer.close()
        totals.sort()
        return {"queued": depth, "median_us": totals[len(totals) // 2],
                "what": "10 x (fetch_job + finish_job)"}
