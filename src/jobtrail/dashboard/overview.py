"""The overview page (``/``): the queues at a glance, the workers, health, the breakers.

Everything it shows is read from indexes (`Store.queue_glance`): the waiting, running and
dead jobs of each queue, and the newest jobs that ended — at most `jobtrail.store.glance.
SAMPLE` of them — for the throughput, the failures and the waits. The glance is read once
and serves the health checks too; the page never counts every job, so it answers as fast
with a million finished jobs as with ten. (``jobtrail queues`` counts them all.)
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from jobtrail.app import App
from jobtrail.cli.output import iso
from jobtrail.dashboard.rendering import render
from jobtrail.dashboard.visits import visit
from jobtrail.health import check_glance
from jobtrail.store.glance import HISTORY_BUCKETS, Glance, QueueGlance
from jobtrail.store.values import WorkerRecord

__all__ = ["WINDOW", "glance_json", "overview"]

#: How far back the overview's rates and waits look, in seconds (its sparklines show 12
#: times as far).
WINDOW = 300.0
#: The sparkline of a declared queue that holds no job yet.
NONE_ENDED = (0,) * HISTORY_BUCKETS


def overview(request: Request) -> Response:
    """``/``: each queue's waiting, running and dead jobs, its throughput, failures and
    waits (with sparklines of the last hour); the live workers; the health checks'
    findings; the circuit breakers."""
    current = visit(request)
    app: App = request.app.state.jobtrail
    found = app.store.queue_glance(WINDOW)
    seen = {queue.queue for queue in found.queues}
    idle = [QueueGlance(name, ended=NONE_ENDED, failed=NONE_ENDED)
            for name in app.queues if name not in seen]
    timeouts = {name: job.timeout for name, job in app.registry.items()
                if job.timeout is not None}
    workers = app.store.workers()
    health = check_glance(app, found, timeouts, workers=workers)
    data = {**glance_json(found, idle),
            "workers": [worker_json(worker) for worker in workers],
            "health": health.to_json(),
            "breakers": [{"name": b.name, "state": b.state, "failures": len(b.failures)}
                         for b in app.breakers()]}
    return render(request, "overview.html", data, current)


def glance_json(found: Glance, idle: list[QueueGlance] | None = None) -> dict[str, Any]:
    """The glance as JSON: when, over what window and buckets (seconds), from when its
    figures are whole, and every queue (then the *idle* declared ones)."""
    queues = sorted([*found.queues, *(idle or [])], key=lambda queue: queue.queue)
    return {
        "at": iso(found.at), "window": found.window, "bucket": found.bucket,
        "times": [start.timestamp() for start in found.bucket_starts()],
        "whole_since": iso(found.whole_since),
        "sampled": found.sampled, "sample": found.sample, "truncated": found.truncated,
        "queues": [queue_json(found, queue) for queue in queues],
    }


def queue_json(found: Glance, queue: QueueGlance) -> dict[str, Any]:
    """One queue of the glance as JSON."""
    return {
        "queue": queue.queue, "ready": queue.ready, "scheduled": queue.scheduled,
        "oldest_ready": queue.oldest_ready, "running": queue.running, "dead": queue.dead,
        "orphaned": queue.orphaned, "ended_per_minute": found.per_minute(queue),
        "window_ended": queue.window_ended, "window_failed": queue.window_failed,
        "p95_wait": queue.p95_wait, "waits_measured": queue.started,
        "ended": list(queue.ended), "failed": list(queue.failed),
    }


def worker_json(worker: WorkerRecord) -> dict[str, Any]:
    """A live worker as JSON, with its process's CPU time and peak memory."""
    return {"id": worker.id, "hostname": worker.hostname, "pid": worker.pid,
            "queues": None if worker.queues is None else list(worker.queues),
            "concurrency": worker.concurrency, "started_at": iso(worker.started_at),
            "last_seen": iso(worker.last_seen), "cpu_seconds": worker.cpu_seconds,
            "max_rss": worker.max_rss}
