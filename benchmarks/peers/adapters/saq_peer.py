"""SAQ on Redis: ``saq --workers 2``, its default concurrency (10 jobs at once per worker)
or 32 when tuned."""

from __future__ import annotations

from typing import Any

from jobrecord import record, roundtrip, roundtrip_async
from saq import Queue

from adapters import ASYNC_JOBS, Env, Workers, flush_redis

env = Env.current()
DEFAULT_CONCURRENCY = 10  # saq's Worker default
queue = Queue.from_url(env.redis_url or "redis://127.0.0.1:6379/15", name="peers")


async def peer_noop(ctx: dict[str, Any], *, i: int) -> None:
    record(i)


async def peer_roundtrip(ctx: dict[str, Any], *, i: int) -> None:
    roundtrip(i)  # blocking: holds the event loop meanwhile


async def peer_roundtrip_async(ctx: dict[str, Any], *, i: int) -> None:
    await roundtrip_async(i)


settings: dict[str, Any] = {"queue": queue,
                            "functions": [peer_noop, peer_roundtrip, peer_roundtrip_async]}
if env.tuned:
    settings["concurrency"] = env.concurrency


class Producer:
    many = None

    def __init__(self, job: str = "noop") -> None:
        self.function = f"peer_{job}"

    async def open(self) -> Producer:
        self.queue = Queue.from_url(env.redis_url, name="peers")
        await self.queue.connect()
        return self

    async def one(self, i: int) -> None:
        await self.queue.enqueue(self.function, i=i)

    async def close(self) -> None:
        await self.queue.disconnect()


class Adapter:
    library, backend, family = "SAQ", "Redis", "redis"
    jobs = ASYNC_JOBS
    bulk = "no bulk API (enqueue() per job)"

    def __init__(self, env: Env) -> None:
        self.env, self.key = env, env.key

    def version(self) -> str:
        from importlib.metadata import version

        return version("saq")

    def prepare(self) -> None:
        flush_redis(self.env.redis_url)

    async def producer(self, job: str = "noop") -> Producer:
        return await Producer(job).open()

    def workers(self, job: str) -> Workers:
        cmd = [self.env.tool("saq"), "adapters.saq_peer.settings", "--workers",
               str(self.env.processes), "--quiet"]
        c = settings.get("concurrency", DEFAULT_CONCURRENCY)
        text = f"saq --workers {self.env.processes}"
        if self.env.tuned:
            text += f", concurrency {c}"
        return Workers([cmd], text, str(c))

    def claim(self, depth: int, claims: int) -> None:
        return None
