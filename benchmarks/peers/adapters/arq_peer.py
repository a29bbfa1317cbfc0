"""arq: 2 ``arq`` worker processes, ``max_jobs`` 32.

arq polls its queue (a sorted set) every ``poll_delay`` and starts at most ``max_jobs``
jobs per poll: its default 0.5 s would cap a process at 20 jobs/s, so ``poll_delay`` is
0.01 s here.
"""

from __future__ import annotations

from typing import Any

from arq.connections import RedisSettings
from jobrecord import record

from adapters import Env, flush_redis

env = Env.current()
POLL_DELAY = 0.01


async def peer_noop(ctx: dict[str, Any], i: int) -> None:
    record(i)


class WorkerSettings:
    functions = [peer_noop]
    redis_settings = RedisSettings.from_dsn(env.redis_url or "redis://127.0.0.1:6379/15")
    max_jobs = env.concurrency
    poll_delay = POLL_DELAY
    queue_name = "peers"


class Producer:
    many = None

    async def open(self) -> Producer:
        from arq import create_pool

        self.pool = await create_pool(WorkerSettings.redis_settings,
                                      default_queue_name="peers")
        return self

    async def one(self, i: int) -> None:
        await self.pool.enqueue_job("peer_noop", i)

    async def close(self) -> None:
        await self.pool.aclose()


class Adapter:
    library, backend, family = "arq", "Redis", "redis"
    bulk = "no bulk API (enqueue_job() per job)"

    def __init__(self, env: Env) -> None:
        self.env, self.key = env, env.key

    def version(self) -> str:
        from arq.version import VERSION

        return str(VERSION)

    def prepare(self) -> None:
        flush_redis(self.env.redis_url)

    async def producer(self) -> Producer:
        return await Producer().open()

    def workers(self, job: str) -> tuple[list[list[str]], str]:
        cmd = [self.env.tool("arq"), "adapters.arq_peer.WorkerSettings"]
        return [cmd] * self.env.processes, (
            f"{self.env.processes} x arq, max_jobs {self.env.concurrency}, "
            f"poll_delay {POLL_DELAY}")

    def claim(self, depth: int, claims: int) -> None:
        return None
