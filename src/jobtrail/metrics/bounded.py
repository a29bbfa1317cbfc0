"""`Bounded`: a call to the store that a scrape waits for only so long.

A scrape must answer within Prometheus's scrape timeout, and a probe within the
orchestrator's, whatever the database does (a lock, a network partition, a server that
stopped answering). Each `Bounded` runs its calls one at a time on a thread of its own
(so a SQLite store keeps one connection for it), and its caller waits at most *timeout*
seconds. A call still running when the next is asked for is not joined by a second: the
caller is told at once (`Busy`), rather than piling reads on a database that is slow.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

T = TypeVar("T")


class Busy(TimeoutError):
    """The store did not answer in time (or is still answering an earlier call)."""


class Bounded:
    """Runs calls on one thread of its own; `call` waits for each at most *timeout* s."""

    def __init__(self, name: str, timeout: float) -> None:
        self.name = name
        self.timeout = timeout
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = (
            queue.SimpleQueue())
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pending: Future[Any] | None = None

    def call(self, fn: Callable[[], T]) -> T:
        """``fn()``, run on this runner's thread; `Busy` when it takes longer than the
        timeout, or the previous call has not ended yet. Its own errors are raised here."""
        with self._lock:
            if self._pending is not None and not self._pending.done():
                raise Busy(f"{self.name}: the previous read of the store has not ended yet")
            future: Future[T] = Future()
            self._pending = future
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._calls.put((fn, future))
        try:
            return future.result(self.timeout)
        except FutureTimeout:
            raise Busy(f"{self.name}: the store did not answer within {self.timeout:g}s") \
                from None

    def _run(self) -> None:
        while True:
            fn, future = self._calls.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)
