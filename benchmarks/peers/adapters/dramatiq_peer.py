"""Dramatiq with its Redis broker: ``dramatiq --processes 2``, with its default 8 threads
per process, or ``--threads 32`` when tuned; default middleware, no retries."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from jobrecord import record, roundtrip

from adapters import SYNC_JOBS, Env, Workers, flush_redis

DEFAULT_THREADS = 8  # dramatiq's default --threads
env = Env.current()
broker = RedisBroker(url=env.redis_url)
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name="peers", actor_name="peer_noop", max_retries=0)
def peer_noop(i: int) -> None:
    record(i)


@dramatiq.actor(queue_name="peers", actor_name="peer_roundtrip", max_retries=0)
def peer_roundtrip(i: int) -> None:
    roundtrip(i)


ACTORS = {"noop": peer_noop, "roundtrip": peer_roundtrip}


class Producer:
    many = None

    def __init__(self, job: str = "noop") -> None:
        self.actor = ACTORS[job]

    def one(self, i: int) -> None:
        self.actor.send(i)

    def close(self) -> None:
        broker.close()


class Adapter:
    library, backend, family = "Dramatiq", "Redis", "redis"
    jobs = SYNC_JOBS
    bulk = "no bulk API (send() per message; a group enqueues one by one)"

    def __init__(self, env: Env) -> None:
        self.env, self.key = env, env.key

    def version(self) -> str:
        return dramatiq.__version__

    def prepare(self) -> None:
        flush_redis(self.env.redis_url)

    def producer(self, job: str = "noop") -> Producer:
        return Producer(job)

    def workers(self, job: str) -> Workers:
        threads = self.env.concurrency if self.env.tuned else DEFAULT_THREADS
        opts = ["--processes", str(self.env.processes)]
        if self.env.tuned:
            opts += ["--threads", str(threads)]
        return Workers([[self.env.tool("dramatiq"), "adapters.dramatiq_peer", *opts]],
                       "dramatiq " + " ".join(opts), str(threads))

    def claim(self, depth: int, claims: int) -> None:
        return None
