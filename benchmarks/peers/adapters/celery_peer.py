"""Celery with its Redis broker: one ``celery worker`` with 2 prefork child processes.

Defaults: ``--pool prefork --concurrency 2`` (the harness's 2 processes; Celery's default
is the number of CPUs), everything else as Celery ships it (prefetch multiplier 4, gossip,
mingle and heartbeats on). Tuned: ``--prefetch-multiplier 64`` (Celery's advice for many
short tasks is a higher multiplier than the default 4); gossip, mingle and worker heartbeats
off, as commonly run with Redis. Results are not stored (``task_ignore_result``, and no
result backend), as for a fire-and-forget job.
"""

from __future__ import annotations

from celery import Celery
from jobrecord import record, roundtrip

from adapters import SYNC_JOBS, Env, Workers, flush_redis

PREFETCH = 64  # tuned
DEFAULT_PREFETCH = 4
env = Env.current()
app = Celery("peers", broker=env.redis_url)
app.conf.update(task_ignore_result=True, task_default_queue="peers",
                broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)


@app.task(name="peer_noop")
def peer_noop(i: int) -> None:
    record(i)


@app.task(name="peer_roundtrip")
def peer_roundtrip(i: int) -> None:
    roundtrip(i)


TASKS = {"noop": peer_noop, "roundtrip": peer_roundtrip}


class Producer:
    many = None

    def __init__(self, job: str = "noop") -> None:
        self.task = TASKS[job]

    def one(self, i: int) -> None:
        self.task.delay(i)

    def close(self) -> None:
        pass


class Adapter:
    library, backend, family = "Celery", "Redis", "redis"
    jobs = SYNC_JOBS
    bulk = "no bulk API (a group() publishes one message per task)"

    def __init__(self, env: Env) -> None:
        self.env, self.key = env, env.key

    def version(self) -> str:
        import celery

        return celery.__version__

    def prepare(self) -> None:
        flush_redis(self.env.redis_url)

    def producer(self, job: str = "noop") -> Producer:
        return Producer(job)

    def workers(self, job: str) -> Workers:
        opts = ["--pool", "prefork", "--concurrency", str(self.env.processes)]
        if self.env.tuned:
            opts += ["--prefetch-multiplier", str(PREFETCH), "--without-gossip",
                     "--without-mingle", "--without-heartbeat"]
        cmd = [self.env.tool("celery"), "-A", "adapters.celery_peer", "worker", *opts,
               "--loglevel", "WARNING"]
        prefetch = PREFETCH if self.env.tuned else DEFAULT_PREFETCH
        return Workers([cmd], "celery worker " + " ".join(opts), f"1 (prefetch {prefetch})")

    def claim(self, depth: int, claims: int) -> None:
        return None
