"""The worker: claim → run → finish, with heartbeats, lease recovery and graceful shutdown.

One control thread owns the loop and makes the store calls, in batches:

1. hand the outcomes of finished attempts to the `OutcomeWriter`, which writes them
   (one transaction per batch) — on PostgreSQL on its own thread while the loop goes on;
2. renew the leases of running attempts every ``lease / 3`` seconds;
3. recover jobs whose worker died (expired leases) about once a second;
4. give up on attempts past their timeout;
5. claim as many jobs as there are free slots (one transaction) and hand them to the
   thread pool (sync jobs) or the event loop (async jobs) — but only when there may be
   work: the last claim was full, the store reported new work, a retry or a recovered
   lease was written, or a timer (the next scheduled job, a periodic recheck) fell due;
6. sleep until an attempt finishes, the store reports new work, or a timer is due.

Outcomes that cannot be written (the database is away) stay buffered in the writer and
are retried with backoff; nothing is dropped, and their jobs' leases are kept renewed.
A job whose attempt ended but whose outcome was not yet written when the worker was
killed runs again: delivery is at-least-once.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING

from jobtrail.errors import StoreError
from jobtrail.execution import Attempt, prepare
from jobtrail.job import Status
from jobtrail.paths import alerts
from jobtrail.runners import LoopRunner, ThreadRunner
from jobtrail.shadow import enqueue_shadows
from jobtrail.store.base import Outcome, PathSegment, WorkerInfo
from jobtrail.writer import OutcomeWriter

if TYPE_CHECKING:
    from jobtrail.app import App

log = logging.getLogger("jobtrail.worker")

IDLE_RECHECK = 1.0
REAP_EVERY = 1.0
DUE_REFRESH = 0.25  # at most this often, ask the store when the next scheduled job is due
MAX_BACKOFF = 5.0
CLOSE_TIMEOUT = 5.0  # seconds a stopping worker keeps trying to write its last outcomes


@dataclass
class WorkerStats:
    """What one worker did: attempts ended, by the status they led to."""

    worker_id: str
    outcomes: Counter[str] = field(default_factory=Counter)
    claimed: int = 0
    lost: int = 0
    released: int = 0
    store_errors: int = 0

    @property
    def finished(self) -> int:
        return sum(self.outcomes.values())


class Worker:
    """Runs jobs of one `App` until stopped (or, with ``burst``, until nothing is runnable)."""

    def __init__(
        self,
        app: App,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int = 4,
        burst: bool = False,
        grace: float | None = None,
        install_signals: bool = True,
    ) -> None:
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")
        self.app = app
        self.queues = tuple(queues) if queues else None
        self.concurrency = concurrency
        self.burst = burst
        self.grace = app.grace if grace is None else grace
        self.install_signals = install_signals
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.info = WorkerInfo(self.id, socket.gethostname(), os.getpid(), self.queues, concurrency)
        self.stats = WorkerStats(self.id)
        self._wake = threading.Event()
        self._finished: deque[tuple[Attempt | None, Outcome]] = deque()
        self._running: dict[int, Attempt] = {}
        self._writer: OutcomeWriter | None = None
        self._stopping = False
        self._stop_deadline: float | None = None
        self._may_have_work = True
        self._next_due: float | None = None  # epoch seconds of the next scheduled job
        self._due_checked = 0.0  # monotonic time of the last look at it
        self._threads = ThreadRunner(concurrency, self._report)
        self._loop = LoopRunner(self._report)

    # -- called from other threads --------------------------------------------------------
    def _report(self, attempt: Attempt | None, outcome: Outcome) -> None:
        self._finished.append((attempt, outcome))
        self._wake.set()

    def _store_changed(self) -> None:
        self._may_have_work = True
        self._wake.set()

    def stop(self, *, now: bool = False) -> None:
        """Stop claiming; let running attempts finish within the grace period
        (or release them at once when *now*)."""
        if self._stopping and not now:
            now = True  # a second request means: do not wait
        self._stopping = True
        grace = 0.0 if now else self.grace
        deadline = time.monotonic() + grace
        if self._stop_deadline is None or deadline < self._stop_deadline:
            self._stop_deadline = deadline
        self._wake.set()

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> WorkerStats:
        """Run the loop in this thread until stopped; return what was done."""
        restore = self._install_signal_handlers()
        store = self.app.store
        lease = self.app.lease
        watch = None
        backoff = 0.0
        next_beat = next_reap = 0.0
        log.info("worker %s started (queues: %s, concurrency %d)", self.id,
                 ",".join(self.queues or ("*",)), self.concurrency)
        self._writer = writer = OutcomeWriter(
            store, self.id, background=store.concurrent_writes, on_written=self._written,
            on_error=self._write_failed, wake=self._wake.set,
        )
        try:
            while True:
                self._wake.clear()
                try:
                    if watch is None:
                        watch = store.watch(self._store_changed)
                    self._collect()
                    now = time.monotonic()
                    if now >= next_beat:
                        self._heartbeat(lease)
                        next_beat = now + lease / 3
                    if now >= next_reap and not self._stopping:
                        reaped = store.reap_expired()
                        if reaped:
                            self._may_have_work = True
                            log.warning("recovered %d jobs of workers that stopped", reaped)
                        next_reap = now + REAP_EVERY
                    self._expire_timeouts(now)
                    if self._stopping:
                        if self._shutdown_step():
                            break
                        self._wake.wait(0.05)
                        continue
                    claimed = self._claim(lease) if self._may_have_work else False
                    backoff = 0.0
                except StoreError as exc:
                    self.stats.store_errors += 1
                    self._may_have_work = True  # a claim that failed found out nothing
                    backoff = min(MAX_BACKOFF, max(0.1, backoff * 2))
                    log.error("store error (retrying in %.1fs): %s", backoff, exc)
                    if watch is not None:
                        watch.stop()
                        watch = None
                    self._wake.wait(backoff)
                    continue
                if claimed:
                    continue
                idle = not (self._running or self._finished or writer.busy)
                if self.burst and idle and not self._may_have_work:
                    break
                if not self._wake.wait(self._idle_timeout(next_beat)):
                    self._may_have_work = True  # a timer fell due
        finally:
            if watch is not None:
                watch.stop()
            self._close(store)
            restore()
        log.info("worker %s stopped: %s", self.id, dict(self.stats.outcomes))
        return self.stats

    def _claim(self, lease: float) -> bool:
        """Claim up to the free slots; True when every slot was filled (more may wait).

        Outcomes waiting for the writer hold slots beyond one batch's worth, so the
        worker runs one batch while the last one is written, and never runs ahead of a
        slow database."""
        unwritten = self._writer.unwritten if self._writer is not None else 0
        free = self.concurrency - len(self._running) - max(0, unwritten - self.concurrency)
        if free <= 0:
            return False
        self._may_have_work = False  # a change reported from now on sets it again
        claimed = self.app.store.claim(self.id, self.queues, free, lease)
        if len(claimed) == free:
            self._may_have_work = True
        self.stats.claimed += len(claimed)
        retried = [job.id for job in claimed if job.attempt > 1]
        steps = self.app.store.completed_steps(retried) if retried else {}
        for job in claimed:
            prepared = prepare(self.app, job, steps.get(job.id))
            if isinstance(prepared, Outcome):
                self._finished.append((None, prepared))
                continue
            self._running[job.id] = prepared
            if prepared.definition.is_async:
                self._loop.submit(prepared)
            else:
                self._threads.submit(prepared)
        return len(claimed) == free

    def _collect(self) -> None:
        """Hand the outcomes of finished attempts to the writer."""
        batch = []
        while self._finished:
            attempt, outcome = self._finished.popleft()
            if attempt is not None:
                self._running.pop(attempt.job_id, None)
            batch.append(outcome)
        if self._writer is not None:
            self._writer.add(batch)  # written now, or on the writer's thread

    # -- called on the writer's thread ----------------------------------------------------
    def _written(self, batch: Sequence[Outcome], lost: set[int]) -> None:
        for outcome in batch:
            if outcome.job_id in lost:
                self.stats.lost += 1
                log.warning("job %s: lease lost before its outcome was written; another "
                            "attempt owns it now", outcome.job_id)
            else:
                self.stats.outcomes[outcome.status.value] += 1
                if outcome.status is Status.RETRYING:
                    self._may_have_work = True
                    self._due_checked = 0.0
        sinks, shadows = self.app.alert_sinks, self.app.shadows
        if sinks:
            alerts.send(sinks, alerts.alerts_of(o for o in batch if o.job_id not in lost))
        if shadows:
            try:
                enqueue_shadows(shadows, (o for o in batch if o.job_id not in lost))
            except StoreError as exc:  # a shadow is a sample, never worth the real work
                log.warning("could not enqueue shadow runs: %s", exc)

    def _write_failed(self, exc: StoreError) -> None:
        self.stats.store_errors += 1
        log.error("could not write outcomes (retrying): %s", exc)

    def _heartbeat(self, lease: float) -> None:
        self._checkpoint()
        running = list(self._running)
        unwritten = self._writer.unwritten_ids() if self._writer is not None else []
        lost = self.app.store.heartbeat(self.info, running + unwritten, lease)
        for job_id in lost.intersection(running):  # the others were just written
            log.warning("job %s: lease lost (expired or reclaimed) while running", job_id)

    def _checkpoint(self) -> None:
        """Write the path running jobs recorded since the last write, so the steps they
        completed survive a crash of this worker."""
        with ExitStack() as held:
            segments = []
            for attempt in list(self._running.values()):
                fresh = held.enter_context(attempt.context.checkpointing())
                if fresh:
                    segments.append(PathSegment(attempt.job_id, attempt.claimed.attempt, fresh))
            if segments:
                self.app.store.checkpoint(self.id, segments)

    def _expire_timeouts(self, now: float) -> None:
        for attempt in list(self._running.values()):
            if attempt.deadline is None or now < attempt.deadline:
                continue
            if attempt.definition.is_async:
                continue  # asyncio.wait_for enforces it
            outcome = attempt.expire()
            if outcome is not None:
                log.warning("job %s: attempt %d timed out", attempt.job_id, attempt.claimed.attempt)
                self._threads.replace_stuck()
                self._finished.append((attempt, outcome))
                self._wake.set()

    def _idle_timeout(self, next_beat: float) -> float:
        now = time.monotonic()
        timeout = min(IDLE_RECHECK, max(0.0, next_beat - now))
        deadlines = [a.deadline for a in self._running.values() if a.deadline is not None]
        if deadlines:
            timeout = min(timeout, max(0.0, min(deadlines) - now))
        if not self._running:
            if now - self._due_checked >= DUE_REFRESH:
                try:
                    due = self.app.store.next_run_at(self.queues)
                    self._next_due = due.timestamp() if due is not None else None
                except StoreError:  # the loop's next store call reports it, with backoff
                    self._next_due = None
                self._due_checked = now
            else:  # look again once the refresh interval has passed
                timeout = min(timeout, self._due_checked + DUE_REFRESH - now)
            if self._next_due is not None:
                timeout = min(timeout, max(0.001, self._next_due - time.time()))
        return timeout

    def _shutdown_step(self) -> bool:
        """One step of a graceful stop; True when the loop may end."""
        if not self._running:
            return not self._finished and not self._writer_busy()
        if self._stop_deadline is not None and time.monotonic() >= self._stop_deadline:
            ids = list(self._running)
            released = self.app.store.release(self.id, ids)
            self.stats.released += released
            log.warning("released %d running jobs at shutdown; they will run again", released)
            for attempt in self._running.values():
                attempt.abandoned = True
            self._running.clear()
            return not self._finished and not self._writer_busy()
        return False

    def _writer_busy(self) -> bool:
        return self._writer is not None and self._writer.busy

    def _close(self, store: object) -> None:
        self._collect()
        if self._writer is not None:
            unwritten = self._writer.close(timeout=CLOSE_TIMEOUT)
            if unwritten:
                log.error("could not write %d final outcomes; their jobs run again when "
                          "their leases expire", unwritten)
        with suppress(StoreError):
            self.app.store.unregister_worker(self.id)
        self._threads.shutdown()
        self._loop.shutdown()

    # -- signals ---------------------------------------------------------------------
    def _install_signal_handlers(self) -> Callable[[], None]:
        if not self.install_signals or threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

        def handle(signum: int, frame: FrameType | None) -> None:
            log.warning("received %s: %s", signal.Signals(signum).name,
                        "stopping now" if self._stopping else
                        f"finishing running jobs (up to {self.grace:g}s)")
            self.stop()

        for sig in previous:
            signal.signal(sig, handle)

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore
