"""jobtrail, on SQLite (its embedded default) and on PostgreSQL.

Workers: ``jobtrail worker adapters.jobtrail_peer:app --processes 2 --concurrency C``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from jobrecord import record

from adapters import Env, recreate_database
from jobtrail import App, Context

STEPS = 5
app = App(os.environ.get("JOBTRAIL_URL"))


def _noop(i: int) -> None:
    record(i)


peer_noop = app.job(name="peer_noop")(_noop)


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


class Producer:
    def __init__(self, job: str = "noop") -> None:
        self.app = App(os.environ.get("JOBTRAIL_URL"))  # a fresh one: prepare() replaced the db
        fn = {"noop": _noop, "steps": peer_steps.fn, "effect": peer_effect.fn}[job]
        self.job = self.app.job(name=f"peer_{job}")(fn)

    def for_job(self, job: str) -> Producer:
        """A producer of the *job* variant ("steps", "effect") instead of the no-op."""
        self.close()
        return Producer(job)

    def one(self, i: int) -> None:
        self.job.enqueue(i=i)

    def many(self, items: list[int]) -> None:
        self.job.enqueue_many([{"i": i} for i in items])

    def close(self) -> None:
        self.app.close()


class Adapter:
    library = "jobtrail"
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

    def producer(self) -> Producer:
        return Producer()

    def workers(self, job: str) -> tuple[list[list[str]], str]:
        p, c = self.env.processes, self.env.concurrency
        cmd = [self.env.python, "-m", "jobtrail", "worker", "adapters.jobtrail_peer:app",
               "--processes", str(p), "--concurrency", str(c), "--log-level", "warning"]
        variant = VARIANTS.get(job, "")
        return [cmd], f"jobtrail worker --processes {p} --concurrency {c}{variant}"

    def claim(self, depth: int, claims: int) -> dict[str, Any] | None:
        """benchmarks/core.py's claim measurement (claim + finish of 10)."""
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        import core  # benchmarks/core.py

        backend: core.Backend
        if self.sqlite:
            backend = core.SQLiteBackend(self.env.sqlite_dir)
        else:
            recreate_database(self.env.pg_url)
            backend = core.PostgresBackend(self.env.pg_url)
        try:
            result: dict[str, Any] = core.bench_claim(backend, depth, claims)
        finally:
            backend.cleanup()
        return {"queued": depth, "median_us": result["median_us"],
                "what": f"store.claim of {core.CLAIM_LIMIT} + finish (benchmarks/core.py)"}
