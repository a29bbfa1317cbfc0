"""A real HTTP server on loopback that records what is POSTed to it, answering with the
statuses it is told to (one per request, then 200), or stalling when told to."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """``with Receiver() as hooks: ... hooks.url ... hooks.bodies``."""

    def __init__(self, statuses: list[int] | None = None, stall: float = 0.0) -> None:
        self.statuses = list(statuses or [])
        self.stall = stall
        self.bodies: list[dict[str, Any]] = []
        self.requests = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.requests += 1
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    stall, receiver.stall = receiver.stall, 0.0  # the first request only
                if stall:
                    time.sleep(stall)
                if status == 200:
                    with receiver._lock:
                        receiver.bodies.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        """The bodies once *count* have come (fails after *timeout* seconds)."""
        deadline = time.monotonic() + timeout
        while len(self.bodies) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.bodies)} of {count} alerts came: {self.bodies}")
            time.sleep(0.02)
        return list(self.bodies)
