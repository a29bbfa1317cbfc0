"""What a PostgreSQL store remembers of the claims it handed to each worker of this
process, so that a claim whose answer was lost is handed over again, and nothing else."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable


class HeldClaims:
    """Per worker: the (job, claim) pairs handed over and not yet finished or released,
    and until when a claim that failed may have committed leases it never reported.

    A worker calls `Store.claim` and `Store.release` from its control thread and
    `Store.finish` from its outcome writer, at the same time: every method takes this
    object's one lock, so no thread sees another's change half made, and none is lost.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, set[tuple[int, int]]] = {}
        self._unsure_until: dict[str, float] = {}

    def unsure(self, worker_id: str) -> list[tuple[int, int]] | None:
        """The claims *worker_id* holds, while a claim of its that failed may have left
        leases behind (the next claim then hands over the worker's running jobs but
        these); ``None`` when none may have."""
        with self._lock:
            if self._unsure_until.get(worker_id, 0.0) <= time.monotonic():
                return None
            return sorted(self._held.get(worker_id, ()))

    def failed(self, worker_id: str, lease: float) -> None:
        """A claim of *worker_id* failed: it may have committed leases of *lease* seconds,
        its answer lost on the way."""
        with self._lock:
            self._unsure_until[worker_id] = time.monotonic() + lease

    def handed(self, worker_id: str, claims: Iterable[tuple[int, int]]) -> None:
        """*claims* were handed to *worker_id*."""
        with self._lock:
            self._held.setdefault(worker_id, set()).update(claims)

    def finished(self, worker_id: str, claims: Iterable[tuple[int, int]]) -> None:
        """*worker_id* is done with *claims*, whether their outcome applied or not."""
        with self._lock:
            held = self._held.get(worker_id)
            if held is not None:
                held.difference_update(claims)

    def released(self, worker_id: str, job_ids: Iterable[int]) -> None:
        """*worker_id* gave the jobs *job_ids* back, whatever their claims."""
        gone = set(job_ids)
        with self._lock:
            held = self._held.get(worker_id)
            if held is not None:
                held.difference_update([pair for pair in held if pair[0] in gone])

    def held(self, worker_id: str) -> set[tuple[int, int]]:
        """A copy of the claims *worker_id* holds."""
        with self._lock:
            return set(self._held.get(worker_id, ()))
