"""Prometheus metrics and a health endpoint (the ``prometheus`` extra: prometheus_client).

```python
app = App(url, metrics=True)              # or jobtrail.metrics.instrument(app)
routes = [Mount("/ops", app=jobtrail.metrics.asgi_app(app))]   # /metrics, /healthz, /livez
```

or, beside the workers, ``jobtrail worker tasks:app --metrics-port 9464``, or a server of
its own: ``jobtrail metrics serve --app tasks:app --port 9464``. docs/metrics.md lists
every metric. Two sources make a scrape:

- **worker-side** (`jobtrail.metrics.instruments`): counters and a histogram updated as
  each attempt's outcome is written — attempts by status and outcome, durations, retries,
  dead letters, divergences. Across worker processes through prometheus_client's
  multiprocess mode (`jobtrail.metrics.multiprocess`);
- **store-derived** (`jobtrail.metrics.collector`): gauges read from the store at each
  scrape — jobs by queue, job type and status, the oldest waiting job, running attempts,
  live workers, effects, breakers — right across every process and machine.

The server (`jobtrail.metrics.endpoints`) answers ``/metrics``, ``/healthz`` (the checks
of `jobtrail.health`: 200 or 503) and ``/livez``; `asgi_app` is it as an ASGI
application, `serve` over the standard library's HTTP server.

Importing this package needs no prometheus_client; using it does, and says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobtrail.metrics.dependency import INSTALL, require

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.registry import Collector

    from jobtrail.app import App
    from jobtrail.metrics.asgi import ASGIApp
    from jobtrail.metrics.instruments import AttemptMetrics

__all__ = ["INSTALL", "asgi_app", "instrument", "require", "serve"]


def instrument(app: App, registry: CollectorRegistry | None = None) -> AttemptMetrics:
    """Have *app*'s workers in this process (and those it forks) count their attempts in
    *registry* (prometheus_client's default one when ``None``); return the metrics.
    `ConfigurationError` without prometheus_client."""
    require()
    from jobtrail.metrics.instruments import attempt_metrics

    metrics = attempt_metrics(registry)
    app.metrics = metrics
    return metrics


def asgi_app(app: App, registry: Collector | None = None) -> ASGIApp:
    """The metrics server of *app* as an ASGI application: ``/metrics`` (the worker-side
    metrics of *registry* — by default every process's in multiprocess mode, else this
    process's — and the gauges read from *app*'s store), ``/healthz`` and ``/livez``."""
    require()
    from jobtrail.metrics.asgi import make_asgi
    from jobtrail.metrics.endpoints import Endpoints

    return make_asgi(Endpoints(app, registry))


def serve(app: App, host: str = "127.0.0.1", port: int = 9464,
          registry: Collector | None = None) -> None:
    """Serve `asgi_app`'s answers on *host*:*port* with the standard library's HTTP server
    until SIGTERM or Ctrl-C (call it from the main thread)."""
    require()
    from jobtrail.metrics.endpoints import Endpoints
    from jobtrail.metrics.server import serve as serve_http

    serve_http(Endpoints(app, registry), host, port)
