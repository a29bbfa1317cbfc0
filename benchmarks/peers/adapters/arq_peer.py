"""arq: 2 ``arq`` worker processes.

arq polls its queue (a sorted set) every ``poll_delay``, takes at most
``queue_read_limit`` job ids per poll (5 times ``max_jobs``, at least 100) and starts them as
``max_jobs`` allows. Defaults: ``max_jobs`` 10, ``poll_delay`` 0.5 s, which caps a process
at about 200 jobs/s. Tuned: ``max_jobs`` 32, ``poll_delay`` 0.01 s.
"""

from __future__ import annotations

from typing import Any

from arq.connections import RedisSettings
from jobrecord import record, roundtrip, roundtrip_async

from adapters import ASYNC_JOBS, Env, Workers, flush_redis

env = Env.current()
POLL_DELAY = 0.01  # tuned
DEFAULT_MAX_JOBS, DEFAULT_POLL_DELAY = 10, 0.5  # arq's Worker defaults


async def peer_noop(ctx: dict[str, Any], i: int) -> None:
    record(i)


async def peer_roundtrip(ctx: dict[str, Any], i: int) -> None:
    roundtrip(i)  # blocking: holds the event loop meanwhile


async def peer_roundtrip_async(ctx: dict[str, Any], i: int) -> None:
    await roundtrip_async(i)


class WorkerSettings:
    functions = [peer_noop, peer_roundtrip, peer_roundtrip_async]
    redis_settings = RedisSettings.from_dsn(env.redis_url or "redis://127.0.0.1:6379/15")
    max_jobs = env.concurrency if env.tuned else DEFAULT_MAX_JOBS
    poll_delay = POLL_DELAY if env.tuned else DEFAULT_POLL_DELAY
    queue_name = "peers"


class Producer:
    many = None

    def __init__(self, job: str = "noop") -> None:
        self.function = f"peer_{job}"

    async def open(self) -> Producer:
        from arq import create_pool

        self.pool = await create_pool(WorkerSettings.redis_settings,
                                      default_queue_name="peers")
        return self

    async def one(self, i: int) -> None:
        await self.pool.enqueue_job(self.function, i)

    async def close(self) -> None:
        await self.pool.aclose()


class Adapter:
    library, backend, family = "arq", "Redis", "redis"
    jobs = ASYNC_JOBS
    bulk = "no bulk API (enqueue_job() per job)"

    def __init__(self, env: Env) -> None:
        self.env, self.key = env, env.key

    def version(self) -> str:
        from arq.version import VERSION

        return str(VERSION)

    def prepare(self) -> None:
        flush_redis(self.env.redis_url)

    async def producer(self, job: str = "noop") -> Producer:
        return await Producer(job).open()

    def workers(self, job: str) -> Workers:
        cmd = [self.env.tool("arq"), "adapters.arq_peer.WorkerSettings"]
        text = f"{self.env.processes} x arq"
        if self.env.tuned:
            text += f", max_jobs {WorkerSettings.max_jobs}, poll_delay {POLL_DELAY}"
        return Workers([cmd] * self.env.processes, text, str(WorkerSettings.max_jobs))

    def claim(self, depth: int, claims: int) -> None:
        return None
