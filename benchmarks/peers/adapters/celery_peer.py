"""Celery with its Redis broker: one ``celery worker`` with 2 prefork child processes.

``--prefetch-multiplier 64``: Celery's advice for many short tasks is a higher multiplier
than the default 4; results are not stored (``task_ignore_result``), as for a fire-and-
forget job; gossip, mingle and worker heartbeats off, as commonly run with Redis.
"""

from __future__ import annotations

from celery import Celery
from jobrecord import record

from adapters import Env, flush_redis

PREFETCH = 64
env = Env.current()
app = Celery("peers", broker=env.redis_url)
app.conf.update(task_ignore_result=True, task_default_queue="peers",
                broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)


@app.task(name="peer_noop")
def peer_noop(i: int) -> None:
    record(i)


class Producer:
    many = None

    def one(self, i: int) -> None:
        peer_noop.delay(i)

    def close(self) -> None:
        pass


class Adapter:
    library, backend, family = "Celery", "Redis", "redis"
    bulk = "no bulk API (a group() publishes one message per task)"

    def __init__(self, env: Env) -> None:
        self.env, self.key = env, env.key

    def version(self) -> str:
        import celery

        return celery.__version__

    def prepare(self) -> None:
        flush_redis(self.env.redis_url)

    def producer(self) -> Producer:
        return Producer()

    def workers(self, job: str) -> tuple[list[list[str]], str]:
        p = self.env.processes
        opts = ["--pool", "prefork", "--concurrency", str(p), "--prefetch-multiplier",
                str(PREFETCH), "--without-gossip", "--without-mingle", "--without-heartbeat"]
        cmd = [self.env.tool("celery"), "-A", "adapters.celery_peer", "worker", *opts,
               "--loglevel", "WARNING"]
        return [cmd], "celery worker " + " ".join(opts)

    def claim(self, depth: int, claims: int) -> None:
        return None
