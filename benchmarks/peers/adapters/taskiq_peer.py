"""taskiq with taskiq-redis's ``RedisStreamBroker`` (the one its README recommends, with
acknowledgements): ``taskiq worker --workers 2 --max-async-tasks 32``."""

from __future__ import annotations

from jobrecord import record
from taskiq_redis import RedisStreamBroker

from adapters import Env, flush_redis

env = Env.current()
broker = RedisStreamBroker(url=env.redis_url or "redis://127.0.0.1:6379/15",
                           queue_name="peers")


@broker.task(task_name="peer_noop")
async def peer_noop(i: int) -> None:
    record(i)


class Producer:
    many = None

    async def open(self) -> Producer:
        await broker.startup()
        return self

    async def one(self, i: int) -> None:
        await peer_noop.kiq(i)

    async def close(self) -> None:
        await broker.shutdown()


class Adapter:
    library, backend, family = "taskiq", "Redis", "redis"
    bulk = "no bulk API (kiq() per task)"

    def __init__(self, env: Env) -> None:
        self.env, self.key = env, env.key

    def version(self) -> str:
        from importlib.metadata import version

        return f"{version('taskiq')} (taskiq-redis {version('taskiq-redis')})"

    def prepare(self) -> None:
        flush_redis(self.env.redis_url)

    async def producer(self) -> Producer:
        return await Producer().open()

    def workers(self, job: str) -> tuple[list[list[str]], str]:
        opts = ["--workers", str(self.env.processes), "--max-async-tasks",
                str(self.env.concurrency)]
        cmd = [self.env.tool("taskiq"), "worker", "adapters.taskiq_peer:broker", *opts,
               "--log-level", "WARNING"]
        return [cmd], "taskiq worker " + " ".join(opts) + ", RedisStreamBroker"

    def claim(self, depth: int, claims: int) -> None:
        return None
