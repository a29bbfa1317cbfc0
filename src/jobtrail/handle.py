"""`JobHandle`: a cheap reference to an enqueued job, returned by every ``enqueue``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from jobtrail.records import JobRecord, Status


class Lookup(Protocol):
    """Where a handle reads its job from (an `App`)."""

    def get(self, job_id: int) -> JobRecord:
        """The job with this id, with its path."""
        ...

    def wait(self, job_id: int, *, timeout: float | None = None) -> JobRecord:
        """The job once it is in a final status."""
        ...

    async def wait_async(self, job_id: int, *, timeout: float | None = None) -> JobRecord:
        """`wait` without blocking the event loop."""
        ...


@dataclass(frozen=True, slots=True)
class JobHandle:
    """A reference to an enqueued job: it holds the id, not the job. ``deduplicated`` is
    true when the idempotency key matched a job stored earlier, whose id this is."""

    id: int
    job_name: str
    lookup: Lookup
    deduplicated: bool = False

    def get(self) -> JobRecord:
        """The job as the store holds it now."""
        return self.lookup.get(self.id)

    @property
    def status(self) -> Status:
        """The job's current status (one read of the store)."""
        return self.get().status

    def wait(self, timeout: float | None = None) -> JobRecord:
        """Block until the job is in a final status — ``succeeded``, ``dead``, ``orphaned``
        or ``cancelled`` — and return it as `App.get` does (masked, with its path): read
        ``.status``, ``.result``, ``.error`` and ``.outcome``. A job that failed for good
        is returned, not raised: its ``.error`` says why.

        *timeout* is in seconds; ``None`` waits for as long as it takes. When it runs out
        first, `WaitTimeout` names the job and its status then; a *timeout* that is not a
        number ≥ 0 is a `ValueError`; an id the store does not hold, `JobNotFound`. A job
        already finished returns at once. The first final status seen ends the wait: a
        ``replay`` afterwards is not waited for.

        The wait sleeps until the store signals that jobs finished (PostgreSQL: LISTEN/
        NOTIFY; SQLite: the watcher of idle workers); every wait of the app in this process
        shares one watch, and reads its job at least once a second in case a signal is
        lost. A store that fails meanwhile (a restart) is waited out; its error is raised
        when it still fails as time runs out (see `jobtrail.waiting`).

        Waiting inside a running job for another job can deadlock: the job waited for
        needs a free worker slot, and each waiting job holds one (and its lease, while its
        own timeout runs). Enqueue a follow-up job instead, or give the wait a timeout well
        under the job's own.
        """
        return self.lookup.wait(self.id, timeout=timeout)

    async def wait_async(self, timeout: float | None = None) -> JobRecord:
        """`wait` for asyncio: the event loop runs on while the store is read on a thread.
        It gives up on a read of the store at most a quarter of a second past *timeout*."""
        return await self.lookup.wait_async(self.id, timeout=timeout)

    def __repr__(self) -> str:
        return f"<JobHandle {self.job_name}#{self.id}>"
