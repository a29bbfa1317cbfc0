"""Dramatiq with its Redis broker: ``dramatiq --processes 2 --threads 8`` (its default
thread count), default middleware, no retries for the no-op."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from jobrecord import record

from adapters import Env, flush_redis

THREADS = 8
env = Env.current()
broker = RedisBroker(url=env.redis_url)
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name="peers", actor_name="peer_noop", max_retries=0)
def peer_noop(i: int) -> None:
    record(i)


class Producer:
    many = None

    def one(self, i: int) -> None:
        peer_noop.send(i)

    def close(self) -> None:
        broker.close()


class Adapter:
    library, backend, family = "Dramatiq", "Redis", "redis"
    bulk = "no bulk API (send() per message; a group enqueues one by one)"

    def __init__(self, env: Env) -> None:
        self.env, self.key = env, env.key

    def version(self) -> str:
        return dramatiq.__version__

    def prepare(self) -> None:
        flush_redis(self.env.redis_url)

    def producer(self) -> Producer:
        return Producer()

    def workers(self, job: str) -> tuple[list[list[str]], str]:
        opts = ["--processes", str(self.env.processes), "--threads", str(THREADS)]
        return [[self.env.tool("dramatiq"), "adapters.dramatiq_peer", *opts]], \
            "dramatiq " + " ".join(opts)

    def claim(self, depth: int, claims: int) -> None:
        return None
