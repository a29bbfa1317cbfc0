"""Runs inside the peers' environment: one library's workloads, results as JSON lines.

    python driver.py check CONFIG.json            which libraries can run here, and why not
    python driver.py run KEY WORKLOADS REP SETTINGS CONFIG.json
                                        e.g. run celery single,drain,roundtrip 0 tuned c.json
    python driver.py cleanup CONFIG.json          drop the harness's databases, flush its Redis db

Started by ``run.py``, which owns the plan, the repetitions and the report. Every line this
prints on standard output is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import adapters  # noqa: E402
import measure  # noqa: E402


def emit(**data: Any) -> None:
    print(json.dumps(data), flush=True)


def pg_url(base: str, suffix: str) -> str:
    """*base* (``postgresql://user@host:port/name``) with the database ``name_suffix``."""
    parts = urlsplit(base)
    name = parts.path.lstrip("/") or "jt_peers"
    return urlunsplit(parts._replace(path=f"/{name}_{suffix}"))


def set_environment(key: str, cfg: dict[str, Any], settings: str = "tuned") -> None:
    """Everything an adapter (and its worker processes) reads, as environment variables."""
    sqlite_dir = Path(cfg["run_dir"]) / "sqlite" / key
    sqlite_dir.mkdir(parents=True, exist_ok=True)
    suffix = adapters.PG_DATABASES.get(key)
    db = pg_url(cfg["pg_url"], suffix) if suffix else ""
    os.environ.update({
        "PEERS_KEY": key, "PEERS_REDIS_URL": cfg["redis_url"], "PEERS_PG_URL": db,
        "PEERS_SQLITE_DIR": str(sqlite_dir), "PEERS_CONCURRENCY": str(cfg["concurrency"]),
        "PEERS_PROCESSES": str(cfg["processes"]), "PEERS_RECORD_DIR": cfg["record_dir"],
        "PEERS_RUN_ID": cfg["run_id"], "PEERS_SETTINGS": settings,
        "JOBTRAIL_URL": db if db else f"sqlite:///{sqlite_dir / 'jobtrail.db'}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
    })


def check(cfg: dict[str, Any]) -> None:
    """Why each library cannot run here (None when it can), creating the databases."""
    redis_reason = pg_reason = None
    try:
        import redis

        redis.Redis.from_url(cfg["redis_url"], socket_connect_timeout=3).ping()
    except Exception as exc:
        redis_reason = f"Redis at {cfg['redis_url']} unreachable: {exc}"
    try:
        import psycopg
        from psycopg import conninfo

        admin = conninfo.make_conninfo(cfg["pg_url"], dbname="postgres")
        psycopg.connect(admin, connect_timeout=3).close()
    except Exception as exc:
        pg_reason = f"PostgreSQL at {cfg['pg_url']} unreachable: {str(exc).strip()}"
    for key in cfg["keys"]:
        set_environment(key, cfg)
        reason = None
        try:
            ad = adapters.adapter(key)
            if ad.family == "redis":
                reason = redis_reason
            elif ad.family == "postgres":
                reason = pg_reason
            version = ad.version()
            meta = {"library": ad.library, "backend": ad.backend, "family": ad.family,
                    "jobs": list(ad.jobs),
                    "tuned_is_defaults": getattr(ad, "tuned_is_defaults", False)}
        except Exception as exc:
            reason, version = f"cannot load its adapter: {type(exc).__name__}: {exc}", ""
            meta = {}
        emit(key=key, reason=reason, version=version if not reason else "", **meta)


class Context:
    def __init__(self, cfg: dict[str, Any], key: str, rep: int) -> None:
        self.records = measure.Records(cfg["record_dir"])
        self.logs = Path(cfg["run_dir"]) / "logs"
        self.logs.mkdir(exist_ok=True)
        self.key, self.rep, self.count = key, rep, 0

    def workers(self, commands: list[list[str]]) -> measure.WorkerGroup:
        self.count += 1
        log = self.logs / f"{self.key}-{self.rep}-{self.count}.log"
        return measure.WorkerGroup(commands, dict(os.environ), log)


#: Workloads that drain a queue of one job kind ("drain" is the no-op's).
DRAINS = ("drain", "roundtrip", "roundtrip_async", "steps", "effect")


async def workload(ad: Any, ctx: Context, name: str, cfg: dict[str, Any]) -> Any:
    s = cfg["sizes"]
    if name in ("single", "bulk"):
        if name == "bulk" and ad.bulk:
            return {"na": ad.bulk}
        await measure.maybe(ad.prepare())
        producer = await measure.maybe(ad.producer())
        try:
            if name == "single":
                return await measure.single_enqueue(producer, s["single"])
            return await measure.bulk_enqueue(producer, s["bulk"], s["batch"])
        finally:
            await measure.maybe(producer.close())
    if name in DRAINS:
        job = "noop" if name == "drain" else name
        return (await measure.drain(ad, ctx, s["drain"], s["drain_seconds"], job))[0]
    if name == "pickup":
        return await measure.fresh_pickup(ad, ctx, s["pickup"])
    if name == "claim":
        results = []
        for depth in s["claim_depths"]:
            r = await measure.maybe(ad.claim(depth, s["claims"]))
            if r is None:
                return {"na": "not measurable from outside the library"}
            results.append(r)
        return {"depths": results}
    raise ValueError(f"unknown workload {name!r}")


async def run(key: str, names: list[str], cfg: dict[str, Any], rep: int,
              settings: str) -> None:
    set_environment(key, cfg, settings)
    ad = adapters.adapter(key)
    ctx = Context(cfg, key, rep)
    for name in names:
        if name == "pickup" and "drain" in names:
            continue  # measured with the drain, on its workers once idle
        t0 = time.monotonic()
        try:
            if name == "drain" and "pickup" in names:
                s = cfg["sizes"]
                results = await measure.drain(ad, ctx, s["drain"], s["drain_seconds"],
                                              pickup=s["pickup"])
                emit(workload="drain", result=results[0], seconds=time.monotonic() - t0)
                emit(workload="pickup", result=results[1], seconds=time.monotonic() - t0)
                continue
            result = await workload(ad, ctx, name, cfg)
            emit(workload=name, result=result, seconds=time.monotonic() - t0)
        except Exception as exc:  # reported; the next workload runs
            detail = traceback.format_exc(limit=3)
            for failed in ([name, "pickup"] if name == "drain" and "pickup" in names
                           else [name]):
                emit(workload=failed, error=f"{type(exc).__name__}: {exc}", detail=detail)


def cleanup(cfg: dict[str, Any]) -> None:
    import psycopg
    from psycopg import conninfo, sql

    adapters.flush_redis(cfg["redis_url"])
    for suffix in adapters.PG_DATABASES.values():
        name = urlsplit(pg_url(cfg["pg_url"], suffix)).path.lstrip("/")
        with psycopg.connect(conninfo.make_conninfo(cfg["pg_url"], dbname="postgres"),
                             autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(str(name))))


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _interrupted)
    command, cfg = argv[0], json.loads(Path(argv[-1]).read_text())
    if command == "check":
        check(cfg)
    elif command == "run":
        asyncio.run(run(argv[1], argv[2].split(","), cfg, int(argv[3]), argv[4]))
    elif command == "cleanup":
        try:
            cleanup(cfg)
        except Exception as exc:
            emit(error=f"cleanup: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
