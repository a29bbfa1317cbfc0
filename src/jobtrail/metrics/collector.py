"""`StoreCollector`: the gauges read from the store at each scrape.

What holds across every process and machine is in the store: the jobs by queue, job type
and status (finished ones included), each queue's oldest runnable job and running
attempts, the workers whose heartbeat is fresh, the effects by state, the breakers. So
these are not counted by the workers but read, in one `Store.gauges` call (and one of the
breakers, when the app declares some), each time Prometheus scrapes.

A scrape always answers: a store that fails, or does not answer within the timeout, gives
``jobtrail_store_up 0`` and none of the store's gauges (and a warning on
``jobtrail.metrics``), never an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from jobtrail.health import FORGET_WORKERS
from jobtrail.metrics.bounded import Bounded
from jobtrail.records import Status
from jobtrail.store.breakers import BreakerRecord
from jobtrail.store.gauges import EFFECT_STATES, StoreGauges

if TYPE_CHECKING:
    from jobtrail.app import App

log = logging.getLogger("jobtrail.metrics")

#: Seconds a scrape waits for the store before answering ``jobtrail_store_up 0``.
SCRAPE_TIMEOUT = 8.0
#: A worker is live while its last heartbeat is at most this many leases old (the
#: ``stalled_worker`` health check's threshold).
LIVE_LEASES = 3
BREAKER_STATES = ("closed", "open", "half_open")
STATUSES = tuple(status.value for status in Status)


class StoreCollector:
    """A prometheus_client collector of the gauges of *app*'s store (see the module
    docstring). Register it in a registry, or serve it with `jobtrail.metrics.asgi_app`."""

    def __init__(self, app: App, *, timeout: float = SCRAPE_TIMEOUT) -> None:
        self.app = app
        self._reads = Bounded("jobtrail-metrics-store", timeout)
        self._failing = False

    def _read(self) -> tuple[StoreGauges, dict[str, BreakerRecord]]:
        found = self.app.store.gauges()
        breakers = dict(self.app.breaker_registry.records()) \
            if self.app.breaker_registry.declared else {}
        return found, breakers

    def collect(self) -> Iterator[Metric]:
        """The gauges, read now (prometheus_client calls it at each scrape)."""
        started = time.perf_counter()
        try:
            found, breakers = self._reads.call(self._read)
        except Exception as exc:
            if not self._failing:  # once per outage, not once per scrape
                log.warning("metrics: the store could not be read (jobtrail_store_up 0): %s",
                            exc)
            self._failing = True
            yield _gauge("jobtrail_store_up", "1 when the last scrape could read the store, "
                         "else 0.", 0)
            yield _gauge("jobtrail_store_read_seconds", "How long reading the store took.",
                         time.perf_counter() - started)
            return
        if self._failing:
            log.warning("metrics: the store can be read again")
        self._failing = False
        yield _gauge("jobtrail_store_up", "1 when the last scrape could read the store, "
                     "else 0.", 1)
        yield _gauge("jobtrail_store_read_seconds", "How long reading the store took.",
                     time.perf_counter() - started)
        yield from self._jobs(found)
        yield from self._workers(found)
        yield from _effects(found)
        if breakers:
            yield _breakers(breakers)

    def _jobs(self, found: StoreGauges) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("jobtrail_jobs", "Jobs in the store, by queue, job type "
                                 "and status (every status, finished ones included).",
                                 labels=("queue", "job", "status"))
        pairs = sorted({(queue, job) for queue, job, _ in found.jobs})
        running: dict[str, int] = {}
        for queue, job in pairs:
            for status in Status:
                count = found.jobs.get((queue, job, status), 0)
                jobs.add_metric((queue, job, status.value), count)
                if status is Status.RUNNING:
                    running[queue] = running.get(queue, 0) + count
        yield jobs
        oldest = GaugeMetricFamily(
            "jobtrail_oldest_waiting_seconds", "How long the oldest job of the queue that "
            "may run now has waited since it could run (0 when none may run).",
            labels=("queue",))
        attempts = GaugeMetricFamily(
            "jobtrail_running_attempts", "Attempts running now, by queue.", labels=("queue",))
        for queue in sorted(running):
            oldest.add_metric((queue,), found.oldest.get(queue, 0.0))
            attempts.add_metric((queue,), running[queue])
        yield oldest
        yield attempts

    def _workers(self, found: StoreGauges) -> Iterator[Metric]:
        fresh = LIVE_LEASES * self.app.lease
        live = [w for w in found.workers if w.silent <= fresh]
        stalled = [w for w in found.workers if fresh < w.silent <= FORGET_WORKERS]
        workers = GaugeMetricFamily(
            "jobtrail_workers", "Worker processes: live (heartbeat within three leases) or "
            "stalled (silent longer, seen within the hour).", labels=("state",))
        workers.add_metric(("live",), len(live))
        workers.add_metric(("stalled",), len(stalled))
        yield workers
        yield _gauge("jobtrail_worker_slots", "Jobs the live workers can run at once (the "
                     "sum of their concurrency).", sum(w.concurrency for w in live))


def _effects(found: StoreGauges) -> Iterator[Metric]:
    effects = GaugeMetricFamily(
        "jobtrail_effects", "Effects recorded, by job type and state: done, failed, started "
        "(its attempt still runs) or uncertain (an operator must decide).",
        labels=("job", "state"))
    for job in sorted({job for job, _ in found.effects}):
        for state in EFFECT_STATES:
            effects.add_metric((job, state), found.effects.get((job, state), 0))
    yield effects


def _breakers(breakers: dict[str, BreakerRecord]) -> Metric:
    family = GaugeMetricFamily("jobtrail_breaker_state", "1 for the state each declared "
                               "circuit breaker is in.", labels=("breaker", "state"))
    for name, record in sorted(breakers.items()):
        for state in BREAKER_STATES:
            family.add_metric((name, state), 1 if record.state == state else 0)
    return family


def _gauge(name: str, documentation: str, value: float) -> Metric:
    return GaugeMetricFamily(name, documentation, value=value)
