"""Where attempts run: a pool of threads for sync jobs, an event loop for async ones.

Both report each finished attempt through the same callback. The thread pool can
replace a thread the watchdog gave up on (a job stuck past its timeout in C code),
so a stuck job never shrinks the worker's concurrency. Likewise the event loop is
replaced when a job blocks it (``time.sleep`` in an ``async def``): new async attempts go
to a fresh loop, and the blocked one stops once what it still runs has ended.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import suppress
from typing import Any

from jobtrail.execution import Attempt
from jobtrail.store.base import Outcome

log = logging.getLogger("jobtrail.worker")

Report = Callable[[Attempt, Outcome], None]
#: Hands an async job's coroutine to the event loop, for a thread to wait on.
Awaiting = Callable[[Attempt], "Future[tuple[Any, BaseException | None]]"]
_STOP = None
#: Seconds a stopping event loop waits for the cancelled tasks it still holds.
SHUTDOWN_WAIT = 0.5


class ThreadRunner:
    """A fixed number of threads taking attempts from one queue."""

    def __init__(self, size: int, report: Report, awaiting: Awaiting,
                 name: str = "jobtrail-job") -> None:
        self._report = report
        self._awaiting = awaiting
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
                outcome = attempt.run_sync(self._awaiting)
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
        self._count = 0
        self._probe_sent: float | None = None  # monotonic time of the unanswered probe
        self._retired: list[tuple[asyncio.AbstractEventLoop, threading.Thread]] = []

    def submit(self, attempt: Attempt) -> None:
        """Run an async attempt on the loop; its outcome is reported when it ends."""
        future = asyncio.run_coroutine_threadsafe(attempt.run_async(), self._running_loop())
        future.add_done_callback(lambda f: self._done(attempt, f))

    def awaiting(self, attempt: Attempt) -> Future[tuple[Any, BaseException | None]]:
        """Run an async job's coroutine on the loop for a thread that waits on it (the
        attempt runs inside middlewares, in that thread)."""
        return asyncio.run_coroutine_threadsafe(attempt.awaited(), self._running_loop())

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._start()
        assert self._loop is not None
        return self._loop

    def _start(self) -> None:
        self._count += 1
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run, args=(self._loop,), name=f"jobtrail-loop-{self._count}",
            daemon=True,
        )
        self._probe_sent = None
        self._thread.start()

    def check(self, stall: float) -> str | None:
        """Called often from the worker's loop: ask the event loop to answer a probe, and
        when the last probe went unanswered for *stall* seconds (a job blocks the loop),
        move new attempts to a fresh loop. Returns where the blocked loop is stuck, once."""
        loop = self._loop
        if loop is None:
            return None
        now = time.monotonic()
        if self._probe_sent is None:
            self._probe_sent = now
            loop.call_soon_threadsafe(self._answered, loop)
            return None
        if now - self._probe_sent < stall:
            return None
        where = _stuck_at(self._thread)
        self._retire()
        return where

    def _answered(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop is self._loop:
            self._probe_sent = None

    def _retire(self) -> None:
        """Leave the blocked loop to finish what it runs, then stop; start a new one."""
        loop, thread = self._loop, self._thread
        assert loop is not None and thread is not None
        self._retired.append((loop, thread))
        asyncio.run_coroutine_threadsafe(_stop_when_idle(), loop)
        self._loop = self._thread = None
        self._start()

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            # What is left was abandoned (released, or past its timeout): cancel it, and do
            # not wait long for a job that ignores its cancellation.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=SHUTDOWN_WAIT))
        finally:
            loop.close()

    def _done(self, attempt: Attempt, future: Future[Outcome | None]) -> None:
        try:
            outcome = future.result()
        except BaseException as exc:  # cancelled at shutdown
            if not attempt.abandoned:
                log.warning("async attempt of job %s did not finish: %r", attempt.job_id, exc)
            return
        if outcome is not None:  # None: the watchdog reported it already
            self._report(attempt, outcome)

    def shutdown(self) -> None:
        loops = [*self._retired]
        if self._loop is not None and self._thread is not None:
            loops.append((self._loop, self._thread))
        for loop, _ in loops:
            with suppress(RuntimeError):  # a retired loop may have stopped and closed
                loop.call_soon_threadsafe(loop.stop)
        for loop, thread in loops:
            # A retired loop may still be blocked by the job that blocked it: a daemon
            # thread, it does not hold the process back.
            thread.join(timeout=5 if loop is self._loop else 0.1)


async def _stop_when_idle() -> None:
    """Stop the running loop once no other task is left on it."""
    me = asyncio.current_task()
    while any(task is not me for task in asyncio.all_tasks()):
        await asyncio.sleep(0.05)
    asyncio.get_running_loop().stop()


def _stuck_at(thread: threading.Thread | None) -> str:
    """Where *thread* is now: the innermost frame of its stack, as file:line in function."""
    frame = sys._current_frames().get(thread.ident or -1) if thread is not None else None
    if frame is None:
        return "an unknown place"
    last = traceback.extract_stack(frame)[-1]
    return f"{last.filename}:{last.lineno} in {last.name}"
