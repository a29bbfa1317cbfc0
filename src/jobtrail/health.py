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
  ended went to the dead-letter queue (once at least ``min_finished`` ended);
- ``retries``: over the window, a job type whose successes took more than
  ``max_attempts_per_success`` attempts each on average (once ``min_finished`` succeeded);
- ``failure_cluster``: over the window, at least ``cluster_size`` dead letters with the
  same error class and the same message once its numbers and quoted values are blanked
  (``card 4242 declined`` and ``card 1881 declined`` are one shape): one cause, many jobs.

Times are the store's clock; the window defaults to five minutes. What the window checks
read is bounded, so that a check costs the same however many jobs the store keeps: the
queues at a glance (`Store.queue_glance`), and at most the newest
`jobtrail.store.glance.SAMPLE` jobs ended and retries scheduled.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from jobtrail.flow import Queue
from jobtrail.records import Status
from jobtrail.retries import analyse
from jobtrail.store.actions import DeadLetterFilter
from jobtrail.store.base import JobFilter, Store
from jobtrail.store.glance import SAMPLE, Glance
from jobtrail.store.values import WorkerRecord

Check = Literal["latency", "depth", "stalled_worker", "overdue", "dead_letters", "retries",
                "failure_cluster"]
CHECKS: tuple[Check, ...] = ("latency", "depth", "stalled_worker", "overdue", "dead_letters",
                             "retries", "failure_cluster")
#: Dead letters read for the failure clusters, at most (the newest).
MAX_CLUSTERED = 5000
_NUMBERS = re.compile(r"\d+(?:\.\d+)?")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
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
          max_dead_share: float = 0.1, min_finished: int = 10,
          max_attempts_per_success: float = 3.0, cluster_size: int = 5) -> HealthReport:
    """Run every check on *app*'s store; *timeouts* are the job types' timeouts by name."""
    store = app.store
    return check_glance(app, store.queue_glance(window), timeouts,
                        max_dead_share=max_dead_share, min_finished=min_finished,
                        max_attempts_per_success=max_attempts_per_success,
                        cluster_size=cluster_size)


def check_glance(app: HealthHost, glance: Glance, timeouts: Mapping[str, float], *,
                 workers: Sequence[WorkerRecord] | None = None,
                 max_dead_share: float = 0.1, min_finished: int = 10,
                 max_attempts_per_success: float = 3.0, cluster_size: int = 5) -> HealthReport:
    """`check`, from a glance at the queues already read (the dashboard's overview shows
    the same glance), and the *workers* when they were read too."""
    store = app.store
    now, window = glance.at, glance.window
    findings: list[Finding] = []
    for stats in glance.queues:
        policy = app.queues.get(stats.queue)
        if policy is None:
            continue
        waited = stats.oldest_ready
        if policy.max_latency is not None and waited is not None and waited > policy.max_latency:
            findings.append(Finding(
                "latency", stats.queue,
                f"queue {stats.queue!r}: its oldest runnable job has waited {waited:.1f}s, "
                f"more than its max_latency of {policy.max_latency:g}s"))
        if policy.max_depth is not None and stats.waiting >= policy.max_depth:
            findings.append(Finding(
                "depth", stats.queue,
                f"queue {stats.queue!r} is full: {stats.waiting:,} jobs wait and its max_depth "
                f"is {policy.max_depth:,} (new enqueues are refused)"))
    stall = 3 * app.lease
    for worker in store.workers() if workers is None else workers:
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
    finished = sum(stats.window_ended for stats in glance.queues)
    if finished >= min_finished:
        dead = sum(stats.window_failed for stats in glance.queues)
        if dead / finished > max_dead_share:
            findings.append(Finding(
                "dead_letters", "*",
                f"{dead:,} of the {finished:,} jobs ended in the last {glance.covered:g}s went "
                f"to the dead-letter queue ({dead / finished:.0%}, more than "
                f"{max_dead_share:.0%})"))
    since = now - timedelta(seconds=window)
    findings += _retries(store, since, min_finished, max_attempts_per_success, window)
    findings += _clusters(store, since, cluster_size, window)
    return HealthReport(now, window, tuple(findings))


def _retries(store: Store, since: datetime, min_finished: int, most: float,
             window: float) -> list[Finding]:
    outcomes, scheduled = store.retry_stats(since.timestamp(), SAMPLE)
    return [
        Finding("retries", stats.job_name,
                f"job {stats.job_name!r}: {stats.attempts_per_success:.1f} attempts per "
                f"success over the last {window:g}s (more than {most:g}); its retries are "
                f"caused by {', '.join(stats.errors) or 'unknown errors'}")
        for stats in analyse(outcomes, scheduled)
        if stats.succeeded >= min_finished and (stats.attempts_per_success or 0) > most
    ]


def _clusters(store: Store, since: datetime, size: int, window: float) -> list[Finding]:
    letters = store.dead_letters(DeadLetterFilter(since=since, limit=MAX_CLUSTERED))
    shapes: Counter[tuple[str, str]] = Counter()
    for job in letters:
        if job.error is not None:
            shapes[(job.error.type, shape(job.error.message))] += 1
    return [
        Finding("failure_cluster", error_type,
                f"{count:,} dead letters in the last {window:g}s failed alike: {error_type}: "
                f"{text}")
        for (error_type, text), count in shapes.most_common() if count >= size
    ]


def shape(message: str) -> str:
    """*message* with its numbers and quoted values blanked: the shape of an error."""
    return _NUMBERS.sub("#", _QUOTED.sub("'…'", message))[:200]
