"""taskiq with taskiq-redis's ``RedisStreamBroker`` (the one its README recommends, with
acknowledgements): ``taskiq worker --workers 2``, its default of 100 async tasks at once
per process, or ``--max-async-tasks 32`` when tuned."""

from __future__ import annotations

from jobrecord import record, roundtrip, roundtrip_async
from taskiq_redis import RedisStreamBroker

from adapters import ASYNC_JOBS, Env, Workers, flush_redis

env = Env.current()
DEFAULT_MAX_ASYNC_TASKS = 100  # taskiq worker's default --max-async-tasks
broker = RedisStreamBroker(url=env.redis_url or "redis://127.0.0.1:6379/15",
                           queue_name="peers")


@broker.task(task_name="peer_noop")
async def peer_noop(i: int) -> None:
    record(i)


@broker.task(task_name="peer_roundtrip")
async def peer_roundtrip(i: int) -> None:
    roundtrip(i)  # blocking: holds the event loop meanwhile


@broker.task(task_name="peer_roundtrip_async")
async def peer_roundtrip_async(i: int) -> None:
    await roundtrip_async(i)


TASKS = {"noop": peer_noop, "roundtrip": peer_roundtrip,
         "roundtrip_async": peer_roundtrip_async}


class Producer:
    many = None

    def __init__(self, job: str = "noop") -> None:
        self.task = TASKS[job]

    async def open(self) -> Producer:
        await broker.startup()
        return self

    async def one(self, i: int) -> None:
        await self.task.kiq(i)

    async def close(self) -> None:
        await broker.shutdown()


class Adapter:
    library, backend, family = "taskiq", "Redis", "redis"
    jobs = ASYNC_JOBS
    bulk = "no bulk API (kiq() per task)"

    def __init__(self, env: Env) -> None:
        self.env, self.key = env, env.key

    def version(self) -> str:
        from importlib.metadata import version

        return f"{version('taskiq')} (taskiq-redis {version('taskiq-redis')})"

    def prepare(self) -> None:
        flush_redis(self.env.redis_url)

    async def producer(self, job: str = "noop") -> Producer:
        return await Producer(job).open()

    def workers(self, job: str) -> Workers:
        opts = ["--workers", str(self.env.processes)]
        c = self.env.concurrency if self.env.tuned else DEFAULT_MAX_ASYNC_TASKS
        if self.env.tuned:
            opts += ["--max-async-tasks", str(c)]
        cmd = [self.env.tool("taskiq"), "worker", "adapters.taskiq_peer:broker", *opts,
               "--log-level", "WARNING"]
        return Workers([cmd], "taskiq worker " + " ".join(opts) + ", RedisStreamBroker",
                       str(c))

    def claim(self, depth: int, claims: int) -> None:
        return None
