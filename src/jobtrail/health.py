"""Health checks: is the queue system doing its job, right now?

`check` reads the store once per kind of fact and returns a `HealthReport`; ``jobtrail
health`` prints it and exits 0 when healthy, 1 when not. The checks, each a `Finding`
naming what is wrong and by how much:

- ``latency``: a declared queue whose oldest runnable job has waited longer than the
  queue's ``max_latency`` (``app.queue(name, max_latency=...)``);
- ``depth``: a declared queue holding as many waiting jobs as its ``max_depth`` (new
  enqueues are refused);
- ``stalled_worker``: a worker seen within the last hour whose heartbeat is older than
  three leases (it died without unregistering, or its machine stopped);
- ``overdue``: a running job past its job type's ``timeout`` (plus one lease for the
  worker to notice): a worker that no longer enforces it, or a clock gone wrong;
- ``dead_letters``: over the window, more than ``max_dead_share`` of the jobs workers
  ended went to the dead-letter queue (once at least ``min_finished`` ended).

Times are the store's clock; the window defaults to five minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from jobtrail.flow import Queue
from jobtrail.records import Status
from jobtrail.store.actions import DeadLetterFilter
from jobtrail.store.base import JobFilter, Store

Check = Literal["latency", "depth", "stalled_worker", "overdue", "dead_letters"]
CHECKS: tuple[Check, ...] = ("latency", "depth", "stalled_worker", "overdue", "dead_letters")
#: Workers not seen for longer than this are forgotten, not reported as stalled.
FORGET_WORKERS = 3600.0
#: Running jobs looked at for the overdue check, at most.
MAX_RUNNING = 10_000


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong: the check, what it is about (a queue, worker or job), the words."""

    check: Check
    subject: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "subject": self.subject, "message": self.message}


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The findings of one run of the checks, as of ``at``."""

    at: datetime
    window: float
    findings: tuple[Finding, ...] = field(default=())

    @property
    def healthy(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "window": self.window, "healthy": self.healthy,
                "checks": list(CHECKS), "findings": [f.to_json() for f in self.findings]}


class HealthHost(Protocol):
    """What the checks need of the app (an `App`)."""

    @property
    def store(self) -> Store: ...
    @property
    def lease(self) -> float: ...

    queues: dict[str, Queue]


def check(app: HealthHost, timeouts: Mapping[str, float], *, window: float = 300.0,
          max_dead_share: float = 0.1, min_finished: int = 10) -> HealthReport:
    """Run every check on *app*'s store; *timeouts* are the job types' timeouts by name."""
    store = app.store
    report = store.queue_stats(window)
    now = report.at
    findings: list[Finding] = []
    for stats in report.queues:
        policy = app.queues.get(stats.queue)
        if policy is None:
            continue
        waited = stats.oldest_ready
        if policy.max_latency is not None and waited is not None and waited > policy.max_latency:
            findings.append(Finding(
                "latency", stats.queue,
                f"queue {stats.queue!r}: its oldest runnable job has waited {waited:.1f}s, "
                f"more than its max_latency of {policy.max_latency:g}s"))
        waiting = stats.counts[Status.QUEUED] + stats.counts[Status.RETRYING]
        if policy.max_depth is not None and waiting >= policy.max_depth:
            findings.append(Finding(
                "depth", stats.queue,
                f"queue {stats.queue!r} is full: {waiting:,} jobs wait and its max_depth is "
                f"{policy.max_depth:,} (new enqueues are refused)"))
    stall = 3 * app.lease
    for worker in store.workers():
        silent = (now - worker.last_seen).total_seconds()
        if stall < silent <= FORGET_WORKERS:
            findings.append(Finding(
                "stalled_worker", worker.id,
                f"worker {worker.id} on {worker.hostname} (pid {worker.pid}) has not been "
                f"heard from for {silent:.1f}s (more than three leases of {app.lease:g}s)"))
    running = store.list_jobs(JobFilter(statuses=(Status.RUNNING,), limit=MAX_RUNNING))
    for job in running:
        timeout = timeouts.get(job.job_name)
        if timeout is None or job.started_at is None:
            continue
        ran = (now - job.started_at).total_seconds()
        if ran > timeout + app.lease:
            findings.append(Finding(
                "overdue", str(job.id),
                f"job {job.id} ({job.job_name}) has been running {ran:.1f}s, past its "
                f"timeout of {timeout:g}s"))
    finished = sum(stats.finished for stats in report.queues)
    if finished >= min_finished:
        since = now - timedelta(seconds=window)
        dead = store.count_dead_letters(DeadLetterFilter(since=since))
        if dead / finished > max_dead_share:
            findings.append(Finding(
                "dead_letters", "*",
                f"{dead:,} of the {finished:,} jobs ended in the last {window:g}s went to the "
                f"dead-letter queue ({dead / finished:.0%}, more than {max_dead_share:.0%})"))
    return HealthReport(now, window, tuple(findings))
