"""The queue the measurements work on: a fresh app, filled, read back, waited for."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench_app import make_app

from corebench.backends import Backend
from corebench.settings import FILL_BATCH
from jobtrail import App, Status


def fresh_app(backend: Backend) -> App:
    backend.reset()
    return make_app(backend.url)


def fill(app: App, count: int, batch: int = FILL_BATCH, job: str = "bench_noop") -> None:
    noop = app.job_named(job)
    for start in range(0, count, batch):
        noop.enqueue_many([{"i": i} for i in range(start, min(count, start + batch))])


def finished_records(app: App, job_name: str) -> list[Any]:
    """Every job of *job_name*, read page by page through the public API."""
    found: list[Any] = []
    before: int | None = None
    while True:
        page = app.jobs(job_name=job_name, limit=5_000, before_id=before)
        if not page:
            return found
        found.extend(page)
        before = page[-1].id


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def waiting_jobs(app: App) -> int:
    return sum(
        count for (_, status), count in app.counts().items()
        if status in (Status.QUEUED, Status.RETRYING, Status.RUNNING)
    )
