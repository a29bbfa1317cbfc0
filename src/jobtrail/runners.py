"""Where attempts run: a pool of threads for sync jobs, an event loop for async ones.

Both report each finished attempt through the same callback. The thread pool can
replace a thread the watchdog gave up on (a job stuck past its timeout in C code),
so a stuck job never shrinks the worker's concurrency.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

from jobtrail.execution import Attempt
from jobtrail.store.base import Outcome

log = logging.getLogger("jobtrail.worker")

Report = Callable[[Attempt, Outcome], None]
_STOP = None


class ThreadRunner:
    """A fixed number of threads taking attempts from one queue."""

    def __init__(self, size: int, report: Report, name: str = "jobtrail-job") -> None:
        self._report = report
        self._name = name
        self._tasks: queue.SimpleQueue[Attempt | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._excess = 0
        self._count = 0
        for _ in range(size):
            self._spawn()

    def _spawn(self) -> None:
        with self._lock:
            self._count += 1
            number = self._count
        threading.Thread(target=self._loop, name=f"{self._name}-{number}", daemon=True).start()

    def submit(self, attempt: Attempt) -> None:
        self._tasks.put(attempt)

    def replace_stuck(self) -> None:
        """Add a thread for one that is stuck in an abandoned attempt."""
        with self._lock:
            self._excess += 1
        self._spawn()

    def _loop(self) -> None:
        while True:
            attempt = self._tasks.get()
            if attempt is _STOP:
                return
            try:
                outcome = attempt.run_sync()
            except BaseException:  # a late JobTimeout must never kill the pool thread
                log.exception("attempt of job %s escaped its runner", attempt.job_id)
                outcome = None
            if outcome is not None:
                self._report(attempt, outcome)
                continue
            with self._lock:  # this thread was replaced while stuck: leave
                if self._excess > 0:
                    self._excess -= 1
                    return

    def shutdown(self) -> None:
        """Ask idle threads to exit (running ones finish their attempt first)."""
        with self._lock:
            count = self._count
        for _ in range(count):
            self._tasks.put(_STOP)


class LoopRunner:
    """An asyncio event loop on its own thread, started on first use."""

    def __init__(self, report: Report) -> None:
        self._report = report
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def submit(self, attempt: Attempt) -> None:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._run, args=(self._loop,), name="jobtrail-loop", daemon=True
            )
            self._thread.start()
        future = asyncio.run_coroutine_threadsafe(attempt.run_async(), self._loop)
        future.add_done_callback(lambda f: self._done(attempt, f))

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    def _done(self, attempt: Attempt, future: Future[Outcome]) -> None:
        try:
            outcome = future.result()
        except BaseException as exc:  # cancelled at shutdown
            log.warning("async attempt of job %s did not finish: %r", attempt.job_id, exc)
            return
        self._report(attempt, outcome)

    def shutdown(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=5)
