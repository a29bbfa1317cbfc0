"""RQ: 2 ``rq worker`` processes (RQ's default worker forks a work horse for every job).

RQ has no setting for more jobs at once per worker: defaults and tuned are the same. A
round-trip job opens its Redis connection in the work horse, so once per job.
Bulk enqueue: ``Queue.enqueue_many`` (one Redis pipeline per batch).
"""

from __future__ import annotations

from jobrecord import record, roundtrip

from adapters import SYNC_JOBS, Env, Workers, flush_redis


def peer_noop(i: int) -> None:
    record(i)


def peer_roundtrip(i: int) -> None:
    roundtrip(i)


FUNCTIONS = {"noop": peer_noop, "roundtrip": peer_roundtrip}


class Producer:
    def __init__(self, url: str, job: str = "noop") -> None:
        from redis import Redis
        from rq import Queue

        self.fn = FUNCTIONS[job]
        self.redis = Redis.from_url(url)
        self.queue = Queue("peers", connection=self.redis)

    def one(self, i: int) -> None:
        self.queue.enqueue(self.fn, i)

    def many(self, items: list[int]) -> None:
        from rq import Queue

        self.queue.enqueue_many([Queue.prepare_data(self.fn, (i,)) for i in items])

    def close(self) -> None:
        self.redis.close()


class Adapter:
    library, backend, family = "RQ", "Redis", "redis"
    jobs = SYNC_JOBS
    tuned_is_defaults = True  # measured once, shown for both
    bulk = None

    def __init__(self, env: Env) -> None:
        self.env, self.key = env, env.key

    def version(self) -> str:
        import rq

        return rq.__version__

    def prepare(self) -> None:
        flush_redis(self.env.redis_url)

    def producer(self, job: str = "noop") -> Producer:
        return Producer(self.env.redis_url, job)

    def workers(self, job: str) -> Workers:
        cmd = [self.env.tool("rq"), "worker", "peers", "--url", self.env.redis_url,
               "--logging_level", "WARNING"]
        return Workers([cmd] * self.env.processes,
                       f"{self.env.processes} x rq worker (forking)", "1 (a fork per job)")

    def claim(self, depth: int, claims: int) -> None:
        return None
