"""How a worker asks its store for jobs: the jobs flow limits apply to, then the others.

A worker with flow limits to respect (`jobtrail.flow`) makes two kinds of claim: the
limited claim (a few round trips under the limits' lock: `Store.claim_limited`) and the
usual one (`Store.claim`, which leaves limited jobs out). The limited claim comes first —
the limits bound how many it takes, so it cannot crowd the others out — and, costing more,
is made for several free slots at once while jobs run (`LIMITED_BATCH`), or once
`LIMITED_PAUSE` has passed since the last. Either is not asked again
once it found nothing, until something may have changed that (`Claimer.rearm`: new work
reported, a timer, a slot freed under a limit); without limits, the usual claim alone runs,
as the worker's own bookkeeping decides.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from jobtrail.store.base import ClaimedJob, FlowLimits, Store

#: Free slots a limited claim is made for at once while jobs run (fewer when the worker
#: has fewer) — or after `LIMITED_PAUSE` seconds, for however many are free.
LIMITED_BATCH = 8
LIMITED_PAUSE = 0.02
#: Once a limited claim found nothing, a change reported by the store (which may concern
#: any job: on SQLite, any commit) asks it again at most this often, in seconds.
LIMITED_RECHECK = 0.05


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
        self._limited_at = 0.0  # monotonic time of the last limited claim
        self._reported = False  # a change the store reported since the limited claim was dry
        self._paced = False  # a limited claim put off for `LIMITED_PAUSE`

    def rearm(self, *, usual: bool = True, reported: bool = False) -> None:
        """Something changed: ask the limited claim again, and the usual one unless not
        *usual* (a freed concurrency slot changes nothing for it). A change the store
        *reported* asks a dry limited claim again only after `LIMITED_RECHECK`."""
        if usual:
            self._usual_dry = False
        if reported and self._limited_dry:
            self._reported = True
        else:
            self._limited_dry = False

    def recheck_in(self, now: float) -> float | None:
        """Seconds until the limited claim is due again: a change reported while it was
        dry, or a claim put off while jobs run; ``None`` when neither waits."""
        waits = []
        if self._reported:
            waits.append(self._limited_at + LIMITED_RECHECK - now)
        if self._paced:
            waits.append(self._limited_at + LIMITED_PAUSE - now)
        return max(0.0, min(waits)) if waits else None

    def claim(self, free: int, lease: float, running: int) -> list[ClaimedJob]:
        """Lease up to *free* runnable jobs, *running* attempts being under way."""
        flow = self.flow
        claimed: list[ClaimedJob] = []
        now = time.monotonic()
        if self._reported and now >= self._limited_at + LIMITED_RECHECK:
            self._reported = self._limited_dry = False
        self._paced = False
        if flow.limits and not self._limited_dry and not (
                free >= min(LIMITED_BATCH, self.concurrency) or not running
                or now >= self._limited_at + LIMITED_PAUSE):
            self._paced = True  # looked at again in a moment (`recheck_in`)
        elif flow.limits and not self._limited_dry:
            limited = self.store.claim_limited(self.worker_id, self.queues, free, lease, flow)
            claimed = limited.jobs
            self._limited_at = now
            self._limited_dry = limited.candidates == 0
            self.flow_due = (None if limited.retry_after is None
                             else time.monotonic() + limited.retry_after)
        wanted = free - len(claimed)
        if wanted and not self._usual_dry:
            usual = self.store.claim(self.worker_id, self.queues, wanted, lease, flow)
            self._usual_dry = len(usual) < wanted and bool(flow.limits)
            claimed += usual
        return claimed
