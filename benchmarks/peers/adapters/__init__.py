"""One adapter per library: how to empty its storage, enqueue, and start its workers.

Every adapter module defines its job (`jobrecord.record(i)` and nothing else) at module
level, so the library's own worker command can import it, and a class `Adapter` with:

- ``key``, ``library``, ``backend``, ``family`` (``sqlite``, ``postgres`` or ``redis``)
- ``bulk``: ``None`` when the library has a bulk enqueue API, else why the figure is n/a
- ``version()``; ``prepare()``: leave its storage empty and ready
- ``producer()``: an object with ``one(i)``, ``many(list_of_i)`` (or ``many = None``) and
  ``close()``, each plain or ``async``
- ``workers(job)``: the commands that start its 2 worker processes, and a one-line
  description of their settings
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
from typing import Any

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


@dataclass
class Env:
    key: str
    redis_url: str
    pg_url: str  # this library's own database
    sqlite_dir: str
    concurrency: int
    processes: int

    @classmethod
    def current(cls) -> Env:
        e = os.environ
        return cls(e.get("PEERS_KEY", ""), e.get("PEERS_REDIS_URL", ""), e.get("PEERS_PG_URL", ""),
                   e.get("PEERS_SQLITE_DIR", ""), int(e.get("PEERS_CONCURRENCY", "32")),
                   int(e.get("PEERS_PROCESSES", "2")))

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
