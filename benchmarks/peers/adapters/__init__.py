"""One adapter per library: how to empty its storage, enqueue, and start its workers.

Every adapter module defines its jobs at module level, so the library's own worker
command can import them: ``peer_noop`` (`jobrecord.record(i)` and nothing else),
``peer_roundtrip`` (`jobrecord.roundtrip(i)`: the start, then one round trip to Redis with
a blocking client) and, in a library that runs ``async def`` jobs, ``peer_roundtrip_async``
(`jobrecord.roundtrip_async(i)`, the asyncio client). And a class `Adapter` with:

- ``key``, ``library``, ``backend``, ``family`` (``sqlite``, ``postgres`` or ``redis``)
- ``jobs``: the job kinds it has (`SYNC_JOBS` or `ASYNC_JOBS`)
- ``tuned_is_defaults`` (optional, default false): nothing to tune, measure it once
- ``bulk``: ``None`` when the library has a bulk enqueue API, else why the figure is n/a
- ``version()``; ``prepare()``: leave its storage empty and ready
- ``producer(job="noop")``: an object that enqueues that job kind, with ``one(i)``,
  ``many(list_of_i)`` (or ``many = None``) and ``close()``, each plain or ``async``
- ``workers(job)``: `Workers` -- the commands that start its 2 worker processes with the
  settings of ``Env.settings`` (``defaults`` or ``tuned``), described
- ``claim(depth, claims)``: claim cost with ``depth`` jobs queued, or ``None`` (n/a)

Settings come from ``PEERS_*`` environment variables (see `Env`), so the worker processes
see the same ones as the harness.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any, NamedTuple

#: key -> adapter module (under adapters/), in the order the tables list them.
MODULES: dict[str, str] = {
    "jobtrail-sqlite": "jobtrail_peer",
    "huey-sqlite": "huey_peer",
    "jobtrail-postgres": "jobtrail_peer",
    "pgqueuer": "pgqueuer_peer",
    "procrastinate": "procrastinate_peer",
    "celery": "celery_peer",
    "rq": "rq_peer",
    "dramatiq": "dramatiq_peer",
    "huey-redis": "huey_peer",
    "arq": "arq_peer",
    "saq": "saq_peer",
    "taskiq": "taskiq_peer",
}


#: key -> the PostgreSQL database the harness creates for it: ``<database of --pg-url>_<suffix>``.
PG_DATABASES = {"jobtrail-postgres": "jobtrail", "pgqueuer": "pgqueuer",
                "procrastinate": "procrastinate"}


#: The job kinds: a library that runs only plain functions, one that runs ``async def``.
SYNC_JOBS = ("noop", "roundtrip")
ASYNC_JOBS = ("noop", "roundtrip", "roundtrip_async")
#: The worker settings an adapter knows: the library's own defaults, or tuned for throughput.
SETTINGS = ("defaults", "tuned")


class Workers(NamedTuple):
    """How a library's workers are started for one measurement."""

    commands: list[list[str]]
    settings: str  # what runs, on one line (the command line and what else is set)
    concurrency: str  # jobs at once in each worker process, as the library bounds them


@dataclass
class Env:
    key: str
    redis_url: str
    pg_url: str  # this library's own database
    sqlite_dir: str
    concurrency: int  # jobs at once per process, with the tuned settings
    processes: int
    settings: str  # "defaults" or "tuned"

    @classmethod
    def current(cls) -> Env:
        e = os.environ
        return cls(e.get("PEERS_KEY", ""), e.get("PEERS_REDIS_URL", ""), e.get("PEERS_PG_URL", ""),
                   e.get("PEERS_SQLITE_DIR", ""), int(e.get("PEERS_CONCURRENCY", "32")),
                   int(e.get("PEERS_PROCESSES", "2")), e.get("PEERS_SETTINGS", "tuned"))

    @property
    def tuned(self) -> bool:
        return self.settings == "tuned"

    @property
    def python(self) -> str:
        return sys.executable

    def tool(self, name: str) -> str:
        """A console script of the peers' environment (next to its python)."""
        return os.path.join(os.path.dirname(sys.executable), name)


def load(key: str) -> ModuleType:
    """The adapter module of *key*, (re)imported under the current environment."""
    name = f"adapters.{MODULES[key]}"
    if name in sys.modules:
        return importlib.reload(sys.modules[name])
    return importlib.import_module(name)


def adapter(key: str) -> Any:
    return load(key).Adapter(Env.current())


def flush_redis(url: str) -> None:
    """Empty the harness's own Redis database (the one in the URL), nothing else."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def recreate_database(url: str) -> None:
    """Drop and create the PostgreSQL database named in *url* (the harness's own)."""
    import psycopg
    from psycopg import conninfo, sql

    info = conninfo.conninfo_to_dict(url)
    name = info.get("dbname")
    if not name or str(name).rsplit("_", 1)[-1] not in PG_DATABASES.values():
        raise RuntimeError(f"refusing to recreate database {name!r}: not the harness's")
    admin = conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(str(name))))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(name))))


def vacuum_analyze(url: str) -> None:
    """Fresh planner statistics after a fill, as ``benchmarks/core.py`` takes them."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
