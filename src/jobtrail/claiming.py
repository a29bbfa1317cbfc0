"""How a worker asks its store for jobs: the jobs flow limits apply to, then the others.

A worker with flow limits to respect (`jobtrail.flow`) makes two kinds of claim: the
limited claim (a few round trips under the limits' lock: `Store.claim_limited`) and the
usual one (`Store.claim`, which leaves limited jobs out). The limited claim comes first —
the limits bound how many it takes, so it cannot crowd the others out — and, costing more,
waits for several free slots while jobs run (`LIMITED_BATCH`). Either is not asked again
once it found nothing, until something may have changed that (`Claimer.rearm`: new work
reported, a timer, a slot freed under a limit); without limits, the usual claim alone runs,
as the worker's own bookkeeping decides.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from jobtrail.store.base import ClaimedJob, FlowLimits, Store

#: Free slots a limited claim waits for while jobs run (fewer when the worker has fewer).
LIMITED_BATCH = 8


class Claimer:
    """The claims of one worker (*worker_id*, serving *queues*, *concurrency* slots)."""

    def __init__(self, store: Store, worker_id: str, queues: Sequence[str] | None,
                 concurrency: int, flow: FlowLimits) -> None:
        self.store = store
        self.worker_id = worker_id
        self.queues = queues
        self.concurrency = concurrency
        self.flow = flow
        #: Monotonic time a rate limit next lets a job through (``None``: none held back).
        self.flow_due: float | None = None
        self._limited_dry = self._usual_dry = False

    def rearm(self, *, usual: bool = True) -> None:
        """Something changed: ask the limited claim again, and the usual one unless not
        *usual* (a freed concurrency slot changes nothing for it)."""
        self._limited_dry = False
        if usual:
            self._usual_dry = False

    def claim(self, free: int, lease: float, running: int) -> list[ClaimedJob]:
        """Lease up to *free* runnable jobs, *running* attempts being under way."""
        flow = self.flow
        claimed: list[ClaimedJob] = []
        if flow.limits and not self._limited_dry and (
                free >= min(LIMITED_BATCH, self.concurrency) or not running):
            limited = self.store.claim_limited(self.worker_id, self.queues, free, lease, flow)
            claimed = limited.jobs
            self._limited_dry = limited.candidates == 0
            self.flow_due = (None if limited.retry_after is None
                             else time.monotonic() + limited.retry_after)
        wanted = free - len(claimed)
        if wanted and not self._usual_dry:
            usual = self.store.claim(self.worker_id, self.queues, wanted, lease, flow)
            self._usual_dry = len(usual) < wanted and bool(flow.limits)
            claimed += usual
        return claimed
