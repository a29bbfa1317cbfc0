"""Huey on Redis (``RedisHuey``, blocking reads) and on SQLite (``SqliteHuey``, WAL).

Consumer: ``huey_consumer -w 2 -k process`` (2 worker processes). SQLite has no blocking
read, so the consumer polls: ``--delay 0.01 --max-delay 0.05`` (default 0.1 s backing off
to 10 s) so that idle workers notice a job within tens of milliseconds. The SQLite
connection uses ``synchronous=NORMAL``, as jobtrail's does (Huey's default is FULL).
"""

from __future__ import annotations

import os

from huey import RedisHuey, SqliteHuey
from huey.storage import SqliteStorage
from jobrecord import record

from adapters import Env, flush_redis

env = Env.current()
SQLITE = env.key == "huey-sqlite"
SQLITE_POLL = ["--delay", "0.01", "--max-delay", "0.05"]


class NormalSyncStorage(SqliteStorage):
    def _create_connection(self):  # type: ignore[no-untyped-def]
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


class NormalSyncHuey(SqliteHuey):
    storage_class = NormalSyncStorage


if SQLITE:
    huey = NormalSyncHuey("peers", filename=os.path.join(env.sqlite_dir or ".", "huey.db"))
else:
    huey = RedisHuey("peers", url=env.redis_url)


@huey.task(name="peer_noop")
def peer_noop(i: int) -> None:
    record(i)


class Producer:
    many = None

    def one(self, i: int) -> None:
        peer_noop(i)

    def close(self) -> None:
        pass


class Adapter:
    library, family = "Huey", ("sqlite" if SQLITE else "redis")
    backend = "SQLite" if SQLITE else "Redis"
    bulk = "no bulk API (task.map() enqueues one by one)"

    def __init__(self, env: Env) -> None:
        self.env, self.key = env, env.key

    def version(self) -> str:
        import huey as module

        return module.__version__

    def prepare(self) -> None:
        if SQLITE:
            huey.storage.close()
            for suffix in ("", "-wal", "-shm"):
                path = os.path.join(self.env.sqlite_dir, "huey.db" + suffix)
                if os.path.exists(path):
                    os.remove(path)
            huey.storage.initialize_schema()  # type: ignore[attr-defined]
        else:
            flush_redis(self.env.redis_url)

    def producer(self) -> Producer:
        return Producer()

    def workers(self, job: str) -> tuple[list[list[str]], str]:
        opts = ["-w", str(self.env.processes), "-k", "process", "-n", *(SQLITE_POLL * SQLITE)]
        cmd = [self.env.tool("huey_consumer"), "adapters.huey_peer.huey", *opts, "-q"]
        return [cmd], "huey_consumer " + " ".join(opts)

    def claim(self, depth: int, claims: int) -> None:
        return None
