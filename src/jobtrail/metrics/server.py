"""Serving the metrics endpoints over HTTP with the standard library alone
(``jobtrail metrics serve``): a threading `http.server` answering as
`jobtrail.metrics.endpoints.Endpoints` does, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

from jobtrail.metrics.endpoints import Endpoints

log = logging.getLogger("jobtrail.metrics")
#: Seconds between two looks at whether the server should stop.
POLL = 0.2


class MetricsServer(ThreadingHTTPServer):
    """An HTTP server of *endpoints*, one thread per request."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], endpoints: Endpoints) -> None:
        self.endpoints = endpoints
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer
    server_version = "jobtrail-metrics"

    def do_GET(self) -> None:
        self._answer("GET")

    def do_HEAD(self) -> None:
        self._answer("HEAD")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        response = self.server.endpoints.respond(method, self.path,
                                                 self.headers.get("Accept", ""))
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def serve(endpoints: Endpoints, host: str, port: int, *,
          ready: Callable[[MetricsServer], None] | None = None,
          parent: int | None = None) -> None:
    """Answer HTTP requests on *host*:*port* until SIGTERM or SIGINT (or, given *parent*,
    until the process that started this one is gone); *ready* is called once listening.
    `OSError` when the address cannot be bound."""
    server = MetricsServer((host, port), endpoints)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL},
                              name="jobtrail-metrics-http", daemon=True)
    try:
        thread.start()
        if ready is not None:
            ready(server)
        while not stop.wait(POLL):
            if parent is not None and os.getppid() != parent:
                log.warning("metrics: the process that started this server is gone: stopping")
                break
    finally:
        server.shutdown()
        server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
