"""PgQueuer on PostgreSQL (asyncpg): 2 ``pgq run`` processes, its default batch size
(10 jobs per dequeue) or ``--batch-size`` 32 when tuned. Jobs are asyncio tasks, with no
limit on how many run at once (``--max-concurrent-tasks`` unset, its default).

Bulk enqueue: ``Queries.enqueue`` with lists (one statement). Claim cost: ``dequeue`` of
a batch of 10 + ``log_jobs`` of the 10 (what a worker does per batch).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
from jobrecord import record, roundtrip, roundtrip_async
from pgqueuer import AsyncpgDriver, PgQueuer, Queries
from pgqueuer.models import Job

from adapters import ASYNC_JOBS, Env, Workers, recreate_database, vacuum_analyze

env = Env.current()
CLAIM_BUDGET = 15.0  # seconds of claiming per depth, at most (10 claims at least)
BATCH = 32  # tuned
DEFAULT_BATCH = 10  # pgq run's default --batch-size


@asynccontextmanager
async def main() -> AsyncIterator[PgQueuer]:
    """The factory ``pgq run adapters.pgqueuer_peer:main`` starts."""
    conn = await asyncpg.connect(env.pg_url)
    pgq = PgQueuer(AsyncpgDriver(conn))

    @pgq.entrypoint("peer_noop")
    async def peer_noop(job: Job) -> None:
        record(int(job.payload or b"0"))

    @pgq.entrypoint("peer_roundtrip")
    async def peer_roundtrip(job: Job) -> None:
        roundtrip(int(job.payload or b"0"))  # blocking: holds the event loop meanwhile

    @pgq.entrypoint("peer_roundtrip_async")
    async def peer_roundtrip_async(job: Job) -> None:
        await roundtrip_async(int(job.payload or b"0"))

    try:
        yield pgq
    finally:
        await conn.close()


class Producer:
    def __init__(self, job: str = "noop") -> None:
        self.entrypoint = f"peer_{job}"

    async def open(self) -> Producer:
        self.conn = await asyncpg.connect(env.pg_url)
        self.queries = Queries(AsyncpgDriver(self.conn))
        return self

    async def one(self, i: int) -> None:
        await self.queries.enqueue(self.entrypoint, b"%d" % i)

    async def many(self, items: list[int]) -> None:
        n = len(items)
        await self.queries.enqueue([self.entrypoint] * n, [b"%d" % i for i in items], [0] * n)

    async def close(self) -> None:
        await self.conn.close()


class Adapter:
    library, backend, family = "PgQueuer", "PostgreSQL", "postgres"
    jobs = ASYNC_JOBS
    bulk = None

    def __init__(self, env: Env) -> None:
        self.env, self.key = env, env.key

    def version(self) -> str:
        from importlib.metadata import version

        return version("pgqueuer")

    async def prepare(self) -> None:
        recreate_database(self.env.pg_url)
        conn = await asyncpg.connect(env.pg_url)
        try:
            await Queries(AsyncpgDriver(conn)).install()
        finally:
            await conn.close()

    async def producer(self, job: str = "noop") -> Producer:
        return await Producer(job).open()

    def workers(self, job: str) -> Workers:
        opts = ["--batch-size", str(BATCH)] if self.env.tuned else []
        cmd = [self.env.tool("pgq"), "run", "adapters.pgqueuer_peer:main", *opts,
               "--log-level", "WARNING"]
        batch = BATCH if self.env.tuned else DEFAULT_BATCH
        return Workers([cmd] * self.env.processes,
                       " ".join([f"{self.env.processes} x pgq run", *opts]),
                       f"no limit (batches of {batch})")

    async def claim(self, depth: int, claims: int) -> dict[str, Any]:
        from pgqueuer.ports.repository import EntrypointExecutionParameter
        from pgqueuer.types import QueueEntrypoint, QueueManagerId

        await self.prepare()
        producer = await self.producer()
        q = producer.queries
        entry = {QueueEntrypoint("peer_noop"): EntrypointExecutionParameter(concurrency_limit=0)}
        manager = QueueManagerId(uuid.uuid4())
        try:
            for s in range(0, depth, 5000):
                await producer.many(list(range(s, min(depth, s + 5000))))
            vacuum_analyze(self.env.pg_url)  # as benchmarks/core.py does after its fill
            totals = []
            warm = min(20, claims // 4)
            begin = time.perf_counter()
            for k in range(claims + warm):
                if len(totals) >= 10 and time.perf_counter() - begin > CLAIM_BUDGET:
                    break  # enough samples of a slow claim
                t0 = time.perf_counter()
                jobs = await q.dequeue(10, entry, manager, None, timedelta(seconds=30))
                await q.log_jobs([(job, "successful", None) for job in jobs])
                if k >= warm:
                    totals.append((time.perf_counter() - t0) * 1e6)
                assert len(jobs) == 10
                await producer.many(list(range(10)))
        finally:
            await producer.close()
        totals.sort()
        return {"queued": depth, "median_us": totals[len(totals) // 2],
                "what": "dequeue of 10 + log_jobs"}

