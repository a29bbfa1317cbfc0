"""The summary of a run whose worker died on its last attempt.

A run that ends on a worker gets its summary (variant, divergences, milestones) with its
final outcome. A run whose worker died — SIGKILLed, out of memory, the machine gone —
ends when its lease is taken back (the reaper of another worker, or the supervisor of the
dead process) and, when its attempts are spent, becomes a dead letter with no worker left
to summarise it. `Postmortem`, an observer of expired leases, does it from what the run
saved: its checkpoints and the entries written with its effects. Such a run is
``incomplete`` against its ``expect=`` (it stopped at the point it reached), and its
variant is counted by variants and funnels as any other.

What it cannot know is what the run did after its last write: steps and events recorded
since the last checkpoint or effect died with the process.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from jobtrail.errors import JobNotFound, StoreError
from jobtrail.observers import Observer
from jobtrail.paths.alerts import DivergenceSink, send
from jobtrail.store.base import Store

if TYPE_CHECKING:
    from jobtrail.expect import Expectation
    from jobtrail.paths.runs import Summarizer

log = logging.getLogger("jobtrail.paths")


class Postmortem(Observer):
    """Summarises the runs that ended for good with their worker, as their leases are
    taken back, and sends their divergences to the alert sinks."""

    def __init__(self, store: Callable[[], Store], summarizer: Summarizer,
                 expectation_of: Callable[[str], Expectation | None],
                 sinks: Sequence[DivergenceSink]) -> None:
        self._store = store
        self.summarizer = summarizer
        self.expectation_of = expectation_of
        self.sinks = sinks

    def lease_expired(self, job_ids: Sequence[int]) -> None:
        store = self._store()
        for job_id in job_ids:
            try:
                self.summarize(store, job_id)
            except JobNotFound:  # discarded meanwhile
                continue
            except StoreError as exc:  # the run stays without a summary; nothing is lost
                log.warning("could not summarise the run of job %s, whose worker died: %s",
                            job_id, exc)

    def summarize(self, store: Store, job_id: int) -> bool:
        """Write the summary of job *job_id* when its run ended for good without one;
        True when it did."""
        job = store.get(job_id)
        if not job.is_final or job.variant is not None:
            return False
        summary = self.summarizer.summarize_path(
            job.job_name, store.saved_path(job_id), None, completed=False,
            expectation=self.expectation_of(job.job_name))
        if not store.record_run(job_id, job.attempts, summary):
            return False
        if self.sinks:
            send(self.sinks, [
                dataclasses.replace(f, job_id=job_id, job_name=job.job_name,
                                    attempt=job.attempts)
                for f in summary.findings])
        return True
