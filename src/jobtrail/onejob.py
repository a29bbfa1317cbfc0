"""Running one stored job in this process, as a worker would: `run_here` (``jobtrail run``).

The job is stored as any enqueue stores it, then leased by id (`Store.claim_job`) to a
worker of this process that runs that job alone: one attempt, with the app's middlewares,
heartbeats, timeout and path recording, its outcome written as a worker writes it. The
job is stored to run no sooner than a lease from now, so a worker elsewhere cannot take it
first — and takes it after that delay if this process dies before its claim. Child jobs it
enqueues, and a retry of a failed attempt, are left to the app's workers.

A job is not run here when its idempotency key matched a job stored earlier that is no
longer waiting: that job runs, or ran, elsewhere, and running it again could repeat its
effects (one still waiting is run here). `RunHere.refused` then says so.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

from jobtrail.app import App
from jobtrail.jobs import JobDef
from jobtrail.records import JobRecord
from jobtrail.store.base import ClaimedJob, EffectRecord
from jobtrail.worker import Worker, WorkerHost, WorkerStats


@dataclass(frozen=True, slots=True)
class RunHere:
    """What `run_here` did: the job as stored afterwards (masked, with its path), whether
    its key matched a job stored earlier, the worker's stats, ``refused``: why the job
    was not run here (``None`` when it was), and the job's effects (masked)."""

    job: JobRecord
    deduplicated: bool
    stats: WorkerStats | None
    refused: str | None = None
    effects: tuple[EffectRecord, ...] = ()

    @property
    def ran(self) -> bool:
        """True when this process ran an attempt of the job."""
        return self.refused is None and self.stats is not None and self.stats.claimed == 1

    @property
    def stopped(self) -> bool:
        """True when a stop signal ended the attempt before it finished: it was released
        (it waits for a worker again) or left to its lease."""
        stats = self.stats
        return stats is not None and bool(stats.released or stats.abandoned)


class OneJobWorker(Worker):
    """A worker that claims one job, by id, once, and recovers nobody else's leases."""

    reaps = False

    def __init__(self, app: WorkerHost, job_id: int, *, install_signals: bool = True) -> None:
        super().__init__(app, concurrency=1, burst=True, install_signals=install_signals,
                         worker_id=f"run:{socket.gethostname()}:{os.getpid()}:"
                                   f"{uuid.uuid4().hex[:8]}")
        self.job_id = job_id
        self._tried = False

    def _claim_jobs(self, free: int, lease: float) -> list[ClaimedJob]:
        if self._tried:
            return []
        self._tried = True
        claimed = self.host.store.claim_job(self.id, self.job_id, lease)
        return [claimed] if claimed is not None else []


def run_here(app: App, definition: JobDef[Any, Any], values: dict[str, Any], *,
             priority: int | None = None, install_signals: bool = True) -> RunHere:
    """Store one *definition* job with the arguments *values* and run one attempt of it in
    this process (see the module docstring)."""
    handle = definition.options(delay=app.lease, priority=priority).enqueue(**values)
    status = app.store.get(handle.id).status
    if handle.deduplicated and not status.is_waiting:
        why = "not run again" if status.is_final else "not run here: a worker runs it"
        return RunHere(app.get(handle.id), True, None, why)
    worker = OneJobWorker(app, handle.id, install_signals=install_signals)
    stats = worker.run()
    refused = "not run here: another worker took it first" if stats.claimed == 0 else None
    return RunHere(app.get(handle.id), handle.deduplicated, stats, refused,
                   tuple(app.effects(handle.id)))
