"""`Endpoints`: what the metrics server answers, whatever serves it (ASGI, or the stdlib
server of ``jobtrail metrics serve``).

- ``/metrics``: the Prometheus text format (OpenMetrics when the scraper asks for it):
  the worker-side metrics of the registry given (every worker process's, added up, in
  multiprocess mode) and the gauges read from the store (`StoreCollector`);
- ``/healthz``: jobtrail's health checks (`jobtrail.health`): 200 and the report as JSON
  when healthy; 503 and the report, its findings naming what is wrong, when not — or when
  the store cannot be read in time (a finding of check ``store``);
- ``/livez``: 200 while the server runs, for a liveness probe that must not depend on the
  database.

Each answer is computed in the calling thread; the store is read under a timeout
(`jobtrail.metrics.bounded`), so every request is answered.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric

from jobtrail.health import CHECKS, check
from jobtrail.metrics import multiprocess
from jobtrail.metrics.bounded import Bounded
from jobtrail.metrics.collector import SCRAPE_TIMEOUT, StoreCollector

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

    from jobtrail.app import App

#: Seconds ``/healthz`` waits for the health checks before answering 503.
HEALTH_TIMEOUT = 8.0
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
PATHS = ("/metrics", "/healthz", "/livez")


@dataclass(frozen=True, slots=True)
class Response:
    """One answer: its status, content type and body."""

    status: int
    content_type: str
    body: bytes


class _Scrape:
    """The collectors of one scrape, in order (a registry's interface, without keeping
    them registered anywhere)."""

    def __init__(self, collectors: Iterable[Collector]) -> None:
        self.collectors = tuple(collectors)

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def default_registry() -> Collector:
    """Where the worker-side metrics are read: every process's files in multiprocess
    mode (``PROMETHEUS_MULTIPROC_DIR``), else this process's default registry."""
    path = multiprocess.directory()
    return multiprocess.registry_for(path) if path else REGISTRY


class Endpoints:
    """The answers of the metrics server of *app* (see the module docstring).
    *registry* holds the worker-side metrics (`default_registry` when ``None``)."""

    def __init__(self, app: App, registry: Collector | None = None, *,
                 scrape_timeout: float = SCRAPE_TIMEOUT,
                 health_timeout: float = HEALTH_TIMEOUT) -> None:
        self.app = app
        self.collector = StoreCollector(app, timeout=scrape_timeout)
        source = default_registry() if registry is None else registry
        self.scrape = _Scrape((source, self.collector))
        self._checks = Bounded("jobtrail-health", health_timeout)

    def respond(self, method: str, path: str, accept: str = "") -> Response:
        """The answer to *method* *path* (its query string ignored), the client accepting
        *accept* (its ``Accept`` header)."""
        path = path.split("?", 1)[0].rstrip("/") or "/"
        if path not in PATHS:
            listing = "".join(f"{known}\n" for known in PATHS)
            return Response(404 if path != "/" else 200, TEXT, listing.encode())
        if method not in ("GET", "HEAD"):
            return Response(405, TEXT, b"only GET and HEAD\n")
        if path == "/metrics":
            encoder, content_type = choose_encoder(accept)
            return Response(200, content_type, encoder(self.scrape))
        if path == "/livez":  # the process id tells this server from another on the port
            return Response(200, TEXT, f"ok {os.getpid()}\n".encode())
        return self.health()

    def health(self) -> Response:
        """``/healthz``: 200 and the report when healthy, 503 and it when not."""
        try:
            report = self._checks.call(self._check).to_json()
        except Exception as exc:
            report = {"at": None, "window": None, "healthy": False, "checks": list(CHECKS),
                      "findings": [{"check": "store", "subject": "store",
                                    "message": f"the store could not be read: {exc}"}]}
        body = (json.dumps(report, ensure_ascii=False) + "\n").encode()
        return Response(200 if report["healthy"] else 503, JSON, body)

    def _check(self) -> Any:
        timeouts = {name: job.timeout for name, job in self.app.registry.items()
                    if job.timeout is not None}
        return check(self.app, timeouts)
