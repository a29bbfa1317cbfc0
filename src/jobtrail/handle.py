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

    def __repr__(self) -> str:
        return f"<JobHandle {self.job_name}#{self.id}>"
