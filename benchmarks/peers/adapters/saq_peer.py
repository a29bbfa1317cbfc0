"""SAQ on Redis: ``saq --workers 2``, concurrency 32 per worker."""

from __future__ import annotations

from typing import Any

from jobrecord import record
from saq import Queue

from adapters import Env, flush_redis

env = Env.current()
queue = Queue.from_url(env.redis_url or "redis://127.0.0.1:6379/15", name="peers")


async def peer_noop(ctx: dict[str, Any], *, i: int) -> None:
    record(i)


settings = {"queue": queue, "functions": [peer_noop], "concurrency": env.concurrency}


class Producer:
    many = None

    async def open(self) -> Producer:
        self.queue = Queue.from_url(env.redis_url, name="peers")
        await self.queue.connect()
        return self

    async def one(self, i: int) -> None:
        await self.queue.enqueue("peer_noop", i=i)

    async def close(self) -> None:
        await self.queue.disconnect()


class Adapter:
    library, backend, family = "SAQ", "Redis", "redis"
    bulk = "no bulk API (enqueue() per job)"

    def __init__(self, env: Env) -> None:
        self.env, self.key = env, env.key

    def version(self) -> str:
        from importlib.metadata import version

        return version("saq")

    def prepare(self) -> None:
        flush_redis(self.env.redis_url)

    async def producer(self) -> Producer:
        return await Producer().open()

    def workers(self, job: str) -> tuple[list[list[str]], str]:
        cmd = [self.env.tool("saq"), "adapters.saq_peer.settings", "--workers",
               str(self.env.processes), "--quiet"]
        return [cmd], f"saq --workers {self.env.processes}, concurrency {self.env.concurrency}"

    def claim(self, depth: int, claims: int) -> None:
        return None
