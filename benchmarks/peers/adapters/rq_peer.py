"""RQ: 2 ``rq worker`` processes (RQ's default worker forks a work horse for every job).

Bulk enqueue: ``Queue.enqueue_many`` (one Redis pipeline per batch).
"""

from __future__ import annotations

from jobrecord import record

from adapters import Env, flush_redis


def peer_noop(i: int) -> None:
    record(i)


class Producer:
    def __init__(self, url: str) -> None:
        from redis import Redis
        from rq import Queue

        self.redis = Redis.from_url(url)
        self.queue = Queue("peers", connection=self.redis)

    def one(self, i: int) -> None:
        self.queue.enqueue(peer_noop, i)

    def many(self, items: list[int]) -> None:
        from rq import Queue

        self.queue.enqueue_many([Queue.prepare_data(peer_noop, (i,)) for i in items])

    def close(self) -> None:
        self.redis.close()


class Adapter:
    library, backend, family = "RQ", "Redis", "redis"
    bulk = None

    def __init__(self, env: Env) -> None:
        self.env, self.key = env, env.key

    def version(self) -> str:
        import rq

        return rq.__version__

    def prepare(self) -> None:
        flush_redis(self.env.redis_url)

    def producer(self) -> Producer:
        return Producer(self.env.redis_url)

    def workers(self, job: str) -> tuple[list[list[str]], str]:
        cmd = [self.env.tool("rq"), "worker", "peers", "--url", self.env.redis_url,
               "--logging_level", "WARNING"]
        return [cmd] * self.env.processes, f"{self.env.processes} x rq worker (forking)"

    def claim(self, depth: int, claims: int) -> None:
        return None
