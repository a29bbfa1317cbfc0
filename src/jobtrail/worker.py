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

Beside the loop, a `jobtrail.scheduler.Scheduler` thread enqueues the ticks of periodic
jobs (unless ``scheduler=False``, or the worker is a ``burst`` one), and a
`jobtrail.audit.sealer.Sealer` thread seals the audit trail (not in a burst worker).

Outcomes that cannot be written (the database is away) stay buffered in the writer and
are retried with backoff; nothing is dropped, and their jobs' leases are kept renewed.
A job whose attempt ended but whose outcome was not yet written when the worker was
killed runs again: delivery is at-least-once.

While the store fails, the loop backs off (`jobtrail.outage`) — but a stop request is
honoured whatever the store does (`jobtrail.stopping`): running attempts get the grace
period, then are released if the store answers and abandoned to their leases if not.
Errors a worker cannot wait out end it: the database file gone (`StoreLost`), a
``MemoryError``, and for a ``--burst`` worker a store it cannot use.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field, replace
from typing import Protocol

from jobtrail import watchdog
from jobtrail.audit.notes import SigningKey
from jobtrail.audit.sealer import Sealer
from jobtrail.audit.versions import versions_in_use
from jobtrail.claiming import Claimer
from jobtrail.errors import StopNow, StoreError
from jobtrail.execution import Attempt, Runs, prepare
from jobtrail.limits import check_queues
from jobtrail.observe.attempts import AttemptLog
from jobtrail.observers import Observer
from jobtrail.outage import Outage
from jobtrail.records import Status
from jobtrail.resources import peak_rss, process_cpu
from jobtrail.retention import Retention
from jobtrail.runners import LoopRunner, ThreadRunner
from jobtrail.scheduler import Scheduler
from jobtrail.stopping import StopRequest, install_signal_handlers
from jobtrail.store.base import ClaimedJob, FlowLimits, Outcome, PathSegment, Watch, WorkerInfo
from jobtrail.writer import OutcomeWriter

#: Jobs a worker process runs at once by default: enough threads that jobs waiting on the
#: network (a query, a request) keep the process busy, and that a claim brings many jobs
#: per round trip. Lower it for jobs that use a CPU each or hold scarce connections.
DEFAULT_CONCURRENCY = 32
log = logging.getLogger("jobtrail.worker")

IDLE_RECHECK = 1.0
REAP_EVERY = 1.0
SWEEP_EVERY = 2.0  # seconds between two looks for workflows due (jobtrail.store.workflows)
DUE_REFRESH = 0.25  # at most this often, ask the store when the next scheduled job is due
CLOSE_TIMEOUT = 5.0  # seconds a stopping worker keeps trying to write its last outcomes
CLOSE_NOW_TIMEOUT = 0.5  # the same, after a second stop signal


class AttemptSink(Protocol):
    """Told of each attempt whose outcome the worker wrote, as the attempt log is
    (`jobtrail.metrics.instruments.AttemptMetrics`); never raises."""

    def written(self, claimed: ClaimedJob, outcome: Outcome, *, lost: bool = False) -> None:
        ...


class WorkerHost(Runs, Protocol):
    """What a worker needs of the app whose jobs it runs (an `App`)."""

    @property
    def lease(self) -> float: ...
    @property
    def metrics(self) -> AttemptSink | None:
        """The worker-side metrics to update, if the app has them on."""
        ...
    @property
    def grace(self) -> float: ...
    @property
    def observers(self) -> Observer: ...
    @property
    def history_retention(self) -> float | None:
        """Seconds finished jobs are kept (`jobtrail.retention`), or None for ever."""
        ...
    @property
    def audit_key(self) -> SigningKey | None:
        """The key the sealer signs checkpoints with, if any."""
        ...

    def flow_limits(self) -> FlowLimits:
        """The limits and paused queues claims respect."""
        ...


@dataclass
class WorkerStats:
    """What one worker did: attempts ended, by the status they led to."""

    worker_id: str
    outcomes: Counter[str] = field(default_factory=Counter)
    claimed: int = 0
    lost: int = 0
    released: int = 0
    abandoned: int = 0
    store_errors: int = 0

    @property
    def finished(self) -> int:
        return sum(self.outcomes.values())


class Worker:
    """Runs jobs of one `App` until stopped (or, with ``burst``, until nothing is runnable)."""

    #: Whether this worker also recovers the jobs of workers that died (expired leases).
    reaps = True

    def __init__(
        self,
        app: WorkerHost,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        burst: bool = False,
        grace: float | None = None,
        install_signals: bool = True,
        worker_id: str | None = None,
        scheduler: bool = True,
    ) -> None:
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")
        check_queues(queues)
        self.host = app
        self.queues = tuple(queues) if queues else None
        self.concurrency = concurrency
        self.burst = burst
        self.grace = app.grace if grace is None else grace
        self.install_signals = install_signals
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.info = WorkerInfo(self.id, socket.gethostname(), os.getpid(), self.queues, concurrency)
        self.stats = WorkerStats(self.id)
        self._log = logging.LoggerAdapter(log, {"worker_id": self.id})  # its id on its lines
        self._attempt_log = AttemptLog(self.id)
        self._metrics = app.metrics
        self._claims: dict[tuple[int, int], ClaimedJob] = {}  # until the outcome is written
        self._wake = threading.Event()
        self._stop = StopRequest(self.grace, self._wake.set)
        self._finished: deque[tuple[Attempt | None, Outcome]] = deque()
        self._running: dict[int, Attempt] = {}
        self._writer: OutcomeWriter | None = None
        self._watch: Watch | None = None
        self._looping = False  # in the loop, where a second signal may interrupt
        self._may_have_work = True
        self._next_due: float | None = None  # epoch seconds of the next scheduled job
        self._due_checked = 0.0  # monotonic time of the last look at it
        self._loop = LoopRunner(self._report)
        self.flow = app.flow_limits()
        self._claimer = Claimer(app.store, self.id, self.queues, concurrency, self.flow)
        self._threads = ThreadRunner(concurrency, self._report, self._loop.awaiting)
        # A burst worker stops once idle: it leaves periodic jobs to the others.
        self.scheduler = Scheduler(app, worker_id=self.id) if scheduler and not burst else None
        # So does it the audit trail's sealing (`jobtrail audit verify` seals first).
        retention = (None if app.history_retention is None
                     else Retention(app.store, app.history_retention))
        self.sealer = None if burst else Sealer(
            app.store, worker_id=self.id, key=app.audit_key, retention=retention,
            announce=versions_in_use(app, worker_id=self.id, code_version=app.code_version))

    # -- called from other threads --------------------------------------------------------
    def _report(self, attempt: Attempt | None, outcome: Outcome) -> None:
        self._finished.append((attempt, outcome))
        self._wake.set()

    def _store_changed(self) -> None:
        self._rearm(reported=True)
        self._wake.set()

    def _rearm(self, *, usual: bool = True, reported: bool = False) -> None:
        """There may be work: claim again — the limited jobs, and unless not *usual*, the
        others (a freed concurrency slot changes nothing for them); see `Claimer.rearm`."""
        self._claimer.rearm(usual=usual, reported=reported)
        self._may_have_work = True

    def stop(self, *, now: bool = False) -> None:
        """Stop claiming; let running attempts finish within the grace period
        (or release them at once when *now*, or when asked a second time)."""
        self._stop.request(now=now)

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> WorkerStats:
        """Run the loop in this thread until stopped; return what was done.

        Raises `StoreError` when the worker cannot go on (see the module docstring)."""
        restore = (install_signal_handlers(self._stop, lambda: self._looping)
                   if self.install_signals else (lambda: None))
        store = self.host.store
        self._log.info("worker %s started (queues: %s, concurrency %d)", self.id,
                       ",".join(self.queues or ("*",)), self.concurrency)
        self._writer = OutcomeWriter(
            store, self.id, background=store.concurrent_writes, on_written=self._written,
            on_error=self._write_failed, wake=self._wake.set,
        )
        outage = Outage(burst=self.burst, url=store.url)
        if self.scheduler is not None:
            self.scheduler.start()
        if self.sealer is not None:
            self.sealer.start()
        try:
            self._looping = True
            try:
                self._loop_until_stopped(outage)
            except StopNow:
                self._abandon_running("stopped at once")
            finally:
                self._looping = False
        finally:
            # Daemon threads: one stuck on a stalled store never holds the stop back.
            patience = 0.1 if self._stop.now else 1.0
            if self.scheduler is not None:
                self.scheduler.stop(patience)
            if self.sealer is not None:
                self.sealer.stop(patience)
            if self._watch is not None:
                self._watch.stop()
                self._watch = None
            self._close(outage)
            restore()
        self._log.info("worker %s stopped: %s", self.id, dict(self.stats.outcomes))
        return self.stats

    def _loop_until_stopped(self, outage: Outage) -> None:
        """The loop of the module docstring."""
        store = self.host.store
        lease = self.host.lease
        writer = self._writer
        assert writer is not None
        next_beat = next_reap = next_sweep = 0.0
        while True:
            self._wake.clear()
            writer.raise_fatal()
            try:
                if self._watch is None:
                    self._watch = store.watch(self._store_changed)
                self._collect()
                now = time.monotonic()
                if now >= next_beat:
                    self._heartbeat(lease)
                    next_beat = now + lease / 3
                if now >= next_reap and self.reaps and not self._stop.requested:
                    reaped = store.reap_expired()
                    if reaped:
                        self._rearm()
                        self._log.warning("recovered %d jobs of workers that stopped", len(reaped))
                        self.host.observers.lease_expired(reaped)
                    next_reap = now + REAP_EVERY
                if now >= next_sweep and self.reaps and not self._stop.requested:
                    self._settle(None)  # workflows whose members ended some other way
                    next_sweep = now + SWEEP_EVERY
                self._expire_timeouts(now)
                if self._stop.requested:
                    if self._shutdown_step():
                        return
                    outage.over()
                    self._wake.wait(0.05)
                    continue
                claimed = self._claim(lease) if self._may_have_work else False
                outage.over()
            except StoreError as exc:
                self.stats.store_errors += 1
                self._rearm()  # a claim that failed found out nothing
                if self._stop.requested and self._stop_despite_store():
                    return
                pause = outage.failed(exc)
                if self._stop.requested:  # running attempts may end meanwhile: wake for them
                    self._wake.wait(min(pause, max(0.05, self._stop.remaining())))
                else:  # not woken by the store: a store that fails may also notify
                    self._stop.event.wait(pause)
                continue
            if claimed:
                continue
            idle = not (self._running or self._finished or writer.busy)
            if self.burst and idle and not self._may_have_work and self._claimer.flow_due is None:
                return  # (jobs a rate limit holds back are runnable in a moment: waited for)
            if not self._wake.wait(self._idle_timeout(next_beat)):
                self._rearm()  # a timer fell due

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
        claimed = self._claim_jobs(free, lease)
        if len(claimed) == free:
            self._may_have_work = True
        self.stats.claimed += len(claimed)
        for job in claimed:
            self._claims[job.id, job.claim] = job
        retried = [job.id for job in claimed if job.attempt > 1]
        steps = self.host.store.completed_steps(retried) if retried else {}
        for job in claimed:
            prepared = prepare(self.host, job, steps.get(job.id))
            if isinstance(prepared, Outcome):
                self._finished.append((None, prepared))
                continue
            self._running[job.id] = prepared
            if prepared.in_thread:
                self._threads.submit(prepared)
            else:
                self._loop.submit(prepared)
        return len(claimed) == free

    def _claim_jobs(self, free: int, lease: float) -> list[ClaimedJob]:
        """Lease up to *free* runnable jobs of the worker's queues (`jobtrail.claiming`)."""
        return self._claimer.claim(free, lease, len(self._running))

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
        """Count the outcomes written, log one line per attempt, tell the observers."""
        written = []
        grouped: set[int] = set()  # workflows a member of which ended for good
        freed = False  # whether a job under a flow limit ended its attempt
        for outcome in batch:
            was_lost = outcome.job_id in lost
            if was_lost:
                self.stats.lost += 1
            else:
                written.append(outcome)
                self.stats.outcomes[outcome.status.value] += 1
                if outcome.status is Status.RETRYING:
                    self._rearm()
                    self._due_checked = 0.0
            claimed = self._claims.pop((outcome.job_id, outcome.claim), None)
            if claimed is not None:  # (always: each claim is kept until its outcome is here)
                self._attempt_log.written(claimed, outcome, lost=was_lost)
                if self._metrics is not None:
                    self._metrics.written(claimed, outcome, lost=was_lost)
                if claimed.group_id is not None and outcome.status.is_final and not was_lost:
                    grouped.add(claimed.group_id)
                freed = freed or self.flow.applies_to(claimed.job_name, claimed.queue)
        if grouped:
            self._settle(sorted(grouped))
        if freed:  # slots under a concurrency limit were freed: the loop wakes (the writer
            self._rearm(usual=False)  # sets its event) and claims for them again
        self.host.observers.finished(written)

    def _settle(self, group_ids: list[int] | None) -> None:
        """Decide the workflows *group_ids* (``None``: those due); one the store cannot
        decide now is left to the next sweep."""
        try:
            decided = self.host.store.settle_groups(group_ids)
        except StoreError as exc:
            self._log.warning("could not decide workflows %s yet: %s", group_ids or "due", exc)
            return
        if decided:
            self._rearm()  # what follows them may be for this worker
            self._wake.set()

    def _write_failed(self, exc: StoreError) -> None:
        self.stats.store_errors += 1
        self._log.error("could not write outcomes (retrying): %s", exc)

    def _heartbeat(self, lease: float) -> None:
        self._checkpoint()
        running = list(self._running)
        unwritten = self._writer.unwritten_ids() if self._writer is not None else []
        usage = replace(self.info, cpu_seconds=process_cpu(), max_rss=peak_rss())
        lost = self.host.store.heartbeat(usage, running + unwritten, lease)
        for job_id in lost.intersection(running):  # the others were just written
            self._log.warning("job %s: lease lost (expired or reclaimed) while running", job_id)

    def _checkpoint(self) -> None:
        """Write the path running jobs recorded since the last write, so the steps they
        completed survive a crash of this worker."""
        with ExitStack() as held:
            segments = []
            for attempt in list(self._running.values()):
                fresh = held.enter_context(attempt.context.checkpointing())
                if fresh:
                    claimed = attempt.claimed
                    segments.append(PathSegment(claimed.id, claimed.attempt, fresh, claimed.claim))
            if segments:
                self.host.store.checkpoint(self.id, segments)

    # -- timeouts ---------------------------------------------------------------------------
    def _expire_timeouts(self, now: float) -> None:
        """Report the attempts the watchdog gives up on (`jobtrail.watchdog`)."""
        for attempt, outcome in watchdog.expire(list(self._running.values()), now,
                                                 self._threads, self._loop):
            self._finished.append((attempt, outcome))
            self._wake.set()

    def _idle_timeout(self, next_beat: float) -> float:
        now = time.monotonic()
        timeout = min(IDLE_RECHECK, max(0.0, next_beat - now))
        deadlines = [d for d in map(watchdog.deadline_of, self._running.values())
                     if d is not None]
        if deadlines:
            timeout = min(timeout, max(0.0, min(deadlines) - now))
        if not self._running:
            if now - self._due_checked >= DUE_REFRESH:
                try:
                    due = self.host.store.next_run_at(self.queues, self.flow)
                    self._next_due = due.timestamp() if due is not None else None
                except StoreError:  # the loop's next store call reports it, with backoff
                    self._next_due = None
                self._due_checked = now
            else:  # look again once the refresh interval has passed
                timeout = min(timeout, self._due_checked + DUE_REFRESH - now)
            if self._next_due is not None:
                timeout = min(timeout, max(0.001, self._next_due - time.time()))
        flow_due = self._claimer.flow_due
        if flow_due is not None:  # jobs a rate limit held back
            timeout = min(timeout, max(0.001, flow_due - now))
        recheck = self._claimer.recheck_in(now)
        if recheck is not None:  # a change reported while the limited claim was dry
            timeout = min(timeout, max(0.001, recheck))
        return timeout

    # -- stopping -------------------------------------------------------------------------
    def _shutdown_step(self) -> bool:
        """One step of a graceful stop; True when the loop may end. Past the grace period,
        running attempts are released (a store error here is the caller's to handle)."""
        past = self._stop.past_deadline()
        if self._running and past:
            ids = list(self._running)
            released = self.host.store.release(self.id, ids)
            self.stats.released += released
            self._log.warning("released %d running jobs at shutdown; they will run again",
                              released)
            self.host.observers.released(ids)
            self._abandon_running(None, "released")
        if self._running:
            return False
        return past or not (self._finished or self._writer_busy())

    def _stop_despite_store(self) -> bool:
        """Asked to stop while the store fails: True when the loop may end now. Running
        attempts still get the grace period; past it they are abandoned to their leases."""
        if self._running and not self._stop.past_deadline():
            return False
        self._abandon_running("the store is unreachable")
        return True

    def _abandon_running(self, why: str | None, what: str = "abandoned") -> None:
        """Stop waiting for the running attempts (their late outcomes are dropped); *what*
        became of them ends their spans."""
        attempts = list(self._running.values())
        self._running.clear()
        for attempt in attempts:
            attempt.abandon(what)
        if why is not None and attempts:
            self.stats.abandoned += len(attempts)
            self._log.warning("left %d running jobs to their leases (%s): they run again "
                              "once the leases expire", len(attempts), why)

    def _writer_busy(self) -> bool:
        return self._writer is not None and self._writer.busy

    def _close(self, outage: Outage) -> None:
        self._collect()
        if self._writer is not None:
            timeout = CLOSE_NOW_TIMEOUT if self._stop.now else CLOSE_TIMEOUT
            unwritten = self._writer.close(timeout=timeout)
            if unwritten:
                self._log.error("could not write %d final outcomes; their jobs run again "
                                "when their leases expire", unwritten)
        if not outage.ongoing and not self._stop.now:  # (after a stop at once the store
            self._looping = True  # may hang: this call, too, must not hold the stop back)
            try:
                with suppress(StoreError, StopNow):
                    self.host.store.unregister_worker(self.id)
            finally:
                self._looping = False
        self._threads.shutdown()
        self._loop.shutdown()
