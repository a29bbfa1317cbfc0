"""jobtrail, on SQLite (its embedded default) and on PostgreSQL.

Workers: ``jobtrail worker adapters.jobtrail_peer:app --processes 2``, with its default
concurrency (read from its command line, so a new default shows) or ``--concurrency C``
when tuned. Sync jobs run on its worker threads; the ``async def`` round trip runs on the
worker's event loop, a thread waiting on each.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from jobrecord import record, roundtrip, roundtrip_async

from adapters import ASYNC_JOBS, Env, Workers, recreate_database
from jobtrail import App, Context

STEPS = 5
app = App(os.environ.get("JOBTRAIL_URL"))


def _noop(i: int) -> None:
    record(i)


def _roundtrip(i: int) -> None:
    roundtrip(i)


async def _roundtrip_async(i: int) -> None:
    await roundtrip_async(i)


peer_noop = app.job(name="peer_noop")(_noop)
peer_roundtrip = app.job(name="peer_roundtrip")(_roundtrip)
peer_roundtrip_async = app.job(name="peer_roundtrip_async")(_roundtrip_async)


STEP_NAMES = tuple(f"step-{k}" for k in range(STEPS))


@app.job(name="peer_steps")
def peer_steps(ctx: Context, i: int) -> None:
    """The no-op with five checkpointed steps (each result recorded on the path)."""
    record(i)
    for name in STEP_NAMES:
        ctx.step(name, int, i)


@app.job(name="peer_effect")
def peer_effect(ctx: Context, i: int) -> None:
    """The no-op around one keyed at-most-once effect (intent and result written)."""
    record(i)
    ctx.effect("touch", int, i, key=f"touch-{i}")


VARIANTS = {"steps": f", {STEPS} ctx.step() per job", "effect": ", 1 keyed ctx.effect() per job"}


JOBS: dict[str, Any] = {"noop": _noop, "roundtrip": _roundtrip,
                        "roundtrip_async": _roundtrip_async, "steps": peer_steps.fn,
                        "effect": peer_effect.fn}


def default_concurrency() -> int:
    """``jobtrail worker``'s own default ``--concurrency``."""
    from jobtrail.cli.worker import worker

    for param in worker.params:
        if param.name == "concurrency" and isinstance(param.default, int):
            return param.default
    raise RuntimeError("jobtrail worker has no --concurrency default")


class Producer:
    def __init__(self, job: str = "noop") -> None:
        self.app = App(os.environ.get("JOBTRAIL_URL"))  # a fresh one: prepare() replaced the db
        self.job = self.app.job(name=f"peer_{job}")(JOBS[job])

    def one(self, i: int) -> None:
        self.job.enqueue(i=i)

    def many(self, items: list[int]) -> None:
        self.job.enqueue_many([{"i": i} for i in items])

    def close(self) -> None:
        self.app.close()


class Adapter:
    library = "jobtrail"
    jobs = ASYNC_JOBS
    bulk = None

    def __init__(self, env: Env) -> None:
        self.env = env
        self.key = env.key
        self.sqlite = env.key.startswith("jobtrail-sqlite")
        self.backend = "SQLite" if self.sqlite else "PostgreSQL"
        self.family = "sqlite" if self.sqlite else "postgres"

    def version(self) -> str:
        from importlib.metadata import version

        return version("jobtrail")

    def prepare(self) -> None:
        if self.sqlite:
            path = Path(self.env.sqlite_dir) / "jobtrail.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        else:
            recreate_database(self.env.pg_url)
        app = App(os.environ["JOBTRAIL_URL"])
        try:
            app.upgrade()
        finally:
            app.close()

    def producer(self, job: str = "noop") -> Producer:
        return Producer(job)

    def workers(self, job: str) -> Workers:
        p = self.env.processes
        opts = ["--processes", str(p)]
        if self.env.tuned:
            opts += ["--concurrency", str(self.env.concurrency)]
        c = self.env.concurrency if self.env.tuned else default_concurrency()
        cmd = [self.env.python, "-m", "jobtrail", "worker", "adapters.jobtrail_peer:app", *opts,
               "--log-level", "warning"]
        variant = VARIANTS.get(job, "")
        return Workers([cmd], "jobtrail worker " + " ".join(opts) + variant, str(c))

    def claim(self, depth: int, claims: int) -> dict[str, Any] | None:
        """benchmarks/core.py's claim measurement (claim + finish of 10)."""
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        from corebench.backends import Backend, PostgresBackend, SQLiteBackend
        from corebench.claim import bench_claim
        from corebench.settings import CLAIM_LIMIT  # benchmarks/core.py's package

        backend: Backend
        if self.sqlite:
            backend = SQLiteBackend(self.env.sqlite_dir)
        else:
            recreate_database(self.env.pg_url)
            backend = PostgresBackend(self.env.pg_url)
        try:
            result: dict[str, Any] = bench_claim(backend, depth, claims)
        finally:
            backend.cleanup()
        return {"queued": depth, "median_us": result["median_us"],
                "what": f"store.claim of {CLAIM_LIMIT} + finish (benchmarks/core.py)"}
