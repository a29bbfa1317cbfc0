"""`AttemptMetrics`: the worker-side metrics, counted where attempts end.

A worker hands each attempt whose outcome it wrote to `AttemptMetrics.written`, on its
outcome writer's thread, as it hands it to the attempt log (`jobtrail.observe.attempts`):
the same job, queue, status and outcome as the ``jobtrail.attempts`` line. Per attempt
that is one dict lookup for the label children bound the first time a (job, queue,
status, outcome) was seen, two or three increments and one histogram observation.

Under several worker processes, prometheus_client's multiprocess mode (a directory in
``PROMETHEUS_MULTIPROC_DIR``, see `jobtrail.metrics.multiprocess`) keeps each process's
values in a file of its own, and a scrape adds them up.

A registry holds one set of these metrics: `attempt_metrics` gives every app of a process
the one of its registry (prometheus_client refuses the same name twice in one registry).
"""

from __future__ import annotations

import logging
import weakref
from contextlib import suppress
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

from jobtrail.observe.events import TIMEOUT_ERROR
from jobtrail.records import Status
from jobtrail.store.base import ClaimedJob, Outcome

#: The upper bounds of the attempt duration histogram, in seconds: from a few
#: milliseconds (a no-op job) to an hour (a report).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
           300.0, 900.0, 3600.0)
#: The statuses whose attempts put the job in the dead-letter queue.
DEAD = frozenset({Status.DEAD, Status.ORPHANED})

log = logging.getLogger("jobtrail.metrics")


class _Bound:
    """The label children one (job, queue, status, outcome) updates."""

    __slots__ = ("also", "attempts", "duration", "job", "queue")

    def __init__(self, job: str, queue: str, attempts: Any, duration: Any,
                 also: Any) -> None:
        self.job = job
        self.queue = queue
        self.attempts = attempts
        self.duration = duration
        self.also = also  # the retry or dead-letter counter it also counts in, if any


class AttemptMetrics:
    """The counters and histogram of finished attempts, in *registry* (see the module
    docstring and docs/metrics.md for each metric)."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY) -> None:
        self.attempts = Counter(
            "jobtrail_attempts", "Attempts ended, by the job's next status and how the "
            "attempt ended (outcome: timed_out, exit, effect_uncertain, deferred; "
            "empty when there is no more to say).",
            ("job", "queue", "status", "outcome"), registry=registry)
        self.duration = Histogram(
            "jobtrail_attempt_duration_seconds", "How long attempts ran.",
            ("job", "queue"), buckets=BUCKETS, registry=registry)
        self.retries = Counter(
            "jobtrail_retries", "Retries scheduled: attempts that failed and will run "
            "again.", ("job", "queue"), registry=registry)
        self.dead_letters = Counter(
            "jobtrail_dead_letters", "Jobs a worker's attempt put in the dead-letter "
            "queue (status dead or orphaned).", ("job", "queue", "status"),
            registry=registry)
        self.divergences = Counter(
            "jobtrail_divergences", "Divergences found in runs that ended for good, by "
            "kind.", ("job", "queue", "kind"), registry=registry)
        self._bound: dict[tuple[str, str, str, str, bool], _Bound] = {}
        #: Attempts that could not be counted (only the first is reported).
        self.failures = 0

    def written(self, claimed: ClaimedJob, outcome: Outcome, *, lost: bool = False) -> None:
        """Count *outcome*, the end of an attempt of *claimed*; *lost* when its lease moved
        on before it was written (counted with status ``lost``). Never raises."""
        try:
            how = outcome.outcome
            if how is not None and how.startswith("exit:"):
                how = "exit"  # the reason is the code's to say (logs, traces): not a label
            if outcome.uncounted:
                how = "deferred"
            elif how is None and outcome.error is not None and \
                    outcome.error.type == TIMEOUT_ERROR:
                how = "timed_out"
            key = (claimed.job_name, claimed.queue, outcome.status, how or "", lost)
            bound = self._bound.get(key)
            if bound is None:
                bound = self._bind(key)
            bound.attempts.inc()
            if outcome.duration is not None:
                bound.duration.observe(outcome.duration)
            if bound.also is not None:
                bound.also.inc()
            run = outcome.run
            if run is not None and run.findings:
                for found in run.findings:
                    self.divergences.labels(bound.job, bound.queue, str(found.kind)).inc()
        except Exception:  # a full disk under the multiprocess files: the job is done
            self.failures += 1
            if self.failures == 1:
                with suppress(Exception):
                    log.exception("could not count the end of attempt %d of job %s (later "
                                  "failures are not reported)", outcome.attempt,
                                  outcome.job_id)

    def _bind(self, key: tuple[str, str, str, str, bool]) -> _Bound:
        job, queue, status, how, lost = key
        shown = "lost" if lost else str(status)
        also = None
        if not lost and status == Status.RETRYING and how != "deferred":
            also = self.retries.labels(job, queue)
        elif not lost and status in DEAD:
            also = self.dead_letters.labels(job, queue, shown)
        bound = _Bound(job, queue, self.attempts.labels(job, queue, shown, how),
                       self.duration.labels(job, queue), also)
        self._bound[key] = bound
        return bound


_of_registry: weakref.WeakKeyDictionary[CollectorRegistry, AttemptMetrics] = (
    weakref.WeakKeyDictionary())


def attempt_metrics(registry: CollectorRegistry | None = None) -> AttemptMetrics:
    """The `AttemptMetrics` of *registry* (prometheus_client's default one when
    ``None``), made the first time it is asked for."""
    chosen = REGISTRY if registry is None else registry
    found = _of_registry.get(chosen)
    if found is None:
        found = _of_registry[chosen] = AttemptMetrics(chosen)
    return found
