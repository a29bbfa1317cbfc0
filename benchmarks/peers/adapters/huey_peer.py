"""Huey on Redis (``RedisHuey``, blocking reads) and on SQLite (``SqliteHuey``, WAL).

Consumer: ``huey_consumer -w 2 -k process`` (2 worker processes, one job at a time each;
Huey's default is one worker thread). Defaults: everything else as Huey ships it -- on
SQLite, which has no blocking read, the consumer polls every 0.1 s, backing off to 10 s,
and the connection keeps SQLite's ``synchronous=FULL``. Tuned: ``-n`` (no periodic-task
scheduling) and, on SQLite, ``--delay 0.01 --max-delay 0.05`` so that idle workers notice
a job within tens of milliseconds, with ``synchronous=NORMAL`` as jobtrail opens SQLite.
"""

from __future__ import annotations

import os

from huey import RedisHuey, SqliteHuey
from huey.storage import SqliteStorage
from jobrecord import record, roundtrip

from adapters import SYNC_JOBS, Env, Workers, flush_redis

env = Env.current()
SQLITE = env.key == "huey-sqlite"
SQLITE_POLL = ["--delay", "0.01", "--max-delay", "0.05"]  # tuned


class NormalSyncStorage(SqliteStorage):
    def _create_connection(self):  # type: ignore[no-untyped-def]
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


class NormalSyncHuey(SqliteHuey):
    storage_class = NormalSyncStorage


if SQLITE:
    huey_class = NormalSyncHuey if env.tuned else SqliteHuey
    huey = huey_class("peers", filename=os.path.join(env.sqlite_dir or ".", "huey.db"))
else:
    huey = RedisHuey("peers", url=env.redis_url)


@huey.task(name="peer_noop")
def peer_noop(i: int) -> None:
    record(i)


@huey.task(name="peer_roundtrip")
def peer_roundtrip(i: int) -> None:
    roundtrip(i)


TASKS = {"noop": peer_noop, "roundtrip": peer_roundtrip}


class Producer:
    many = None

    def __init__(self, job: str = "noop") -> None:
        self.task = TASKS[job]

    def one(self, i: int) -> None:
        self.task(i)

    def close(self) -> None:
        pass


class Adapter:
    library, family = "Huey", ("sqlite" if SQLITE else "redis")
    backend = "SQLite" if SQLITE else "Redis"
    jobs = SYNC_JOBS
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

    def producer(self, job: str = "noop") -> Producer:
        return Producer(job)

    def workers(self, job: str) -> Workers:
        opts = ["-w", str(self.env.processes), "-k", "process"]
        if self.env.tuned:
            opts += ["-n", *(SQLITE_POLL * SQLITE)]
        cmd = [self.env.tool("huey_consumer"), "adapters.huey_peer.huey", *opts, "-q"]
        text = "huey_consumer " + " ".join(opts)
        if SQLITE:
            text += ", synchronous=" + ("NORMAL" if self.env.tuned else "FULL (default)")
        return Workers([cmd], text, "1")

    def claim(self, depth: int, claims: int) -> None:
        return None
