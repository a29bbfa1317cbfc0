"""Procrastinate on PostgreSQL: 2 ``procrastinate worker`` processes, concurrency 32 each
(LISTEN/NOTIFY on, its default). Bulk enqueue: ``batch_defer_async``. Claim cost: its
``fetch_job`` (one job per call) + ``finish_job``, 10 times."""

from __future__ import annotations

import time
from typing import Any

from jobrecord import record
from procrastinate import App, PsycopgConnector

from adapters import Env, recreate_database, vacuum_analyze

env = Env.current()
CLAIM_BUDGET = 15.0  # seconds of claiming per depth, at most (10 claims at least)
app = App(connector=PsycopgConnector(conninfo=env.pg_url))


@app.task(name="peer_noop", queue="peers")
async def peer_noop(i: int) -> None:
    record(i)


class Producer:
    async def open(self) -> Producer:
        await app.open_async()
        return self

    async def one(self, i: int) -> None:
        await peer_noop.defer_async(i=i)

    async def many(self, items: list[int]) -> None:
        await peer_noop.batch_defer_async(*({"i": i} for i in items))

    async def close(self) -> None:
        await app.close_async()


class Adapter:
    library, backend, family = "Procrastinate", "PostgreSQL", "postgres"
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

    async def producer(self) -> Producer:
        return await Producer().open()

    def workers(self, job: str) -> tuple[list[list[str]], str]:
        c = self.env.concurrency
        cmd = [self.env.tool("procrastinate"), "--app", "adapters.procrastinate_peer.app",
               "worker", "--concurrency", str(c)]
        return [cmd] * self.env.processes, f"{self.env.processes} x procrastinate worker " \
            f"--concurrency {c}"

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
