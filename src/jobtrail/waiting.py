"""Waiting for a job to finish: `wait` and `wait_async`, and `Waiters`, what every wait of
an app in this process shares.

A wait reads its job; while the job is not in a final status it sleeps until it is woken,
then reads the job again. It is woken when the store signals that its job finished —
PostgreSQL: a ``jobtrail_finished`` notification carrying the ids of the jobs that ended,
sent once by each transaction that ends jobs while a waiters' connection is open (the
watch's, named ``jobtrail-waiters``); SQLite: the ``data_version`` poll of idle
workers, after which one read answers for every job waited for. However quiet the store
is, the statuses of every job waited for are read (in one query) every `SAFETY_POLL`
seconds, so a signal lost with a connection (a restart of the database) delays a wait by
that much at most, never for good.

A store that fails while a wait goes on (the database restarting) is read again at the
same pace, and the wait goes on once it answers. Its error is raised when it still fails as
the timeout runs out, or after `OUTAGE_PATIENCE` seconds of failing, whichever comes first;
an error that waiting cannot cure (`StoreLost`, `SchemaOutdated`) is raised at once. A read
of a blocking wait that has started runs to its end (at most the store's connect timeout),
so such a wait may end that much past its timeout; ``wait_async`` gives up on a read
`READ_GRACE` seconds past it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Protocol

from jobtrail.errors import SchemaOutdated, StoreError, StoreLost, StoreRejected, WaitTimeout
from jobtrail.records import JobRecord
from jobtrail.store.base import Store, Watch
from jobtrail.text import shown

log = logging.getLogger("jobtrail.waiting")

#: Seconds between two reads of the jobs waited for (one query for all of them), whatever
#: the store signals.
SAFETY_POLL = 1.0
#: Seconds a wait sleeps at most between two reads of its own job, should everything that
#: wakes it fail.
BACKSTOP = 30.0
#: Seconds the shared watch stays open after its last wait ended, ready for the next one.
LINGER = 10.0
#: Seconds of failing reads a wait sits out before it raises the store's error.
OUTAGE_PATIENCE = 30.0
#: Seconds past its timeout an async wait still gives a read of the store it started (a
#: timeout of 0 still reads the job once).
READ_GRACE = 0.25
#: Store errors that waiting cannot cure: raised at once.
_LASTING = (StoreLost, SchemaOutdated, StoreRejected)


class WaitHost(Protocol):
    """What waiting needs of an app (an `App`)."""

    @property
    def store(self) -> Store: ...
    @property
    def waiters(self) -> Waiters: ...

    def get(self, job_id: int) -> JobRecord:
        """The job with its path, masked as every view shows it."""
        ...


def wait(host: WaitHost, job_id: int, timeout: float | None) -> JobRecord:
    """Block until job *job_id* is in a final status and return it as ``host.get`` does;
    raise `WaitTimeout` when *timeout* seconds (``None``: no limit) run out first."""
    clock = _Clock(job_id, timeout)
    woken = threading.Event()
    with host.waiters.watching(job_id, woken.set):
        while True:
            woken.clear()
            try:
                record = host.store.get(job_id)
                if record.status.is_final:
                    break
                host.waiters.start()
            except StoreError as exc:
                pause = clock.failed(exc)
            else:
                pause = clock.seen(record)
            woken.wait(pause)
    return host.get(job_id)


async def wait_async(host: WaitHost, job_id: int, timeout: float | None) -> JobRecord:
    """`wait` for asyncio: the store is read on a thread, and the loop runs meanwhile."""
    clock = _Clock(job_id, timeout)
    loop = asyncio.get_running_loop()
    woken = asyncio.Event()

    def wake() -> None:
        with suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(woken.set)

    def read() -> JobRecord:
        record = host.store.get(job_id)
        if not record.status.is_final:
            host.waiters.start()
        return record

    with host.waiters.watching(job_id, wake):
        while True:
            woken.clear()
            try:
                record = await asyncio.wait_for(asyncio.to_thread(read), clock.read_limit())
            except TimeoutError:  # the store did not answer before the timeout
                raise clock.timed_out() from None
            except StoreError as exc:
                pause = clock.failed(exc)
            else:
                if record.status.is_final:
                    break
                pause = clock.seen(record)
            with suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), pause)
    return await asyncio.to_thread(host.get, job_id)


class _Clock:
    """One wait's time: the deadline, how long to sleep next, and when to give up."""

    def __init__(self, job_id: int, timeout: float | None) -> None:
        self.job_id = job_id
        self.timeout = check_timeout(timeout)
        forever = math.isinf(self.timeout)
        self.deadline = None if forever else time.monotonic() + self.timeout
        self.job_name = "?"
        self.status = "unknown"
        self.failing_since: float | None = None

    def remaining(self) -> float | None:
        """Seconds left (``None``: no limit)."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def read_limit(self) -> float | None:
        """Seconds an async read of the store may take (``None``: no limit)."""
        left = self.remaining()
        return None if left is None else left + READ_GRACE

    def seen(self, record: JobRecord) -> float:
        """The job is not final yet: how long to sleep, or `WaitTimeout` when time is up."""
        self.job_name, self.status = record.job_name, record.status.value
        self.failing_since = None
        left = self.remaining()
        if left is not None and left <= 0:
            raise self.timed_out()
        return BACKSTOP if left is None else min(BACKSTOP, left)

    def failed(self, error: StoreError) -> float:
        """A read failed: how long to sleep before the next, or *error* when waiting
        cannot cure it, the timeout ran out or the store failed for too long."""
        now = time.monotonic()
        if self.failing_since is None:
            self.failing_since = now
        left = self.remaining()
        if (isinstance(error, _LASTING) or (left is not None and left <= 0)
                or now - self.failing_since >= OUTAGE_PATIENCE):
            raise error
        log.debug("waiting for job %s: the store failed, reading again: %s", self.job_id, error)
        return SAFETY_POLL if left is None else min(SAFETY_POLL, left)

    def timed_out(self) -> WaitTimeout:
        return WaitTimeout(self.job_id, self.job_name, self.status, self.timeout)


def check_timeout(timeout: object) -> float:
    """*timeout* as seconds (``math.inf`` for ``None``); `ValueError` unless it is a
    number ≥ 0."""
    if timeout is None:
        return math.inf
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout >= 0:
        raise ValueError(
            f"wait(timeout={shown(timeout)}): the timeout is the seconds to wait, a number "
            "≥ 0, or None to wait for as long as it takes"
        )
    try:
        return float(timeout)
    except OverflowError:  # an int past what a float holds: longer than anyone waits
        return math.inf


class Waiters:
    """Every wait of one app in this process, and what they share: one watch of finished
    jobs (`Store.watch_finished`), and one keeper thread that reads the statuses of every
    job waited for, in one query, every `SAFETY_POLL` seconds. Both start with the first
    wait that needs them and stop `LINGER` seconds after the last wait ended, or when the
    app closes.

    The watch reports jobs that finished: their ids (PostgreSQL), and the waits for those
    are woken; or ``None`` (SQLite, a reconnection), and one read of the statuses of every
    job waited for says which to wake. A read that fails wakes every wait, to read its job
    and meet the error itself."""

    def __init__(self, store: Callable[[], Store]) -> None:
        self._store = store
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._waking: dict[int, list[Callable[[], None]]] = {}
        self._watch: Watch | None = None
        self._keeper: threading.Event | None = None  # set to stop the keeper thread

    def _mine(self) -> None:
        if os.getpid() != self._pid:  # a forked child: its parent's watch is not its own
            self._reset()

    @contextmanager
    def watching(self, job_id: int, wake: Callable[[], None]) -> Iterator[None]:
        """Call *wake* (from another thread) whenever job *job_id* may have finished, for as
        long as the block runs."""
        self._mine()
        with self._lock:
            self._waking.setdefault(job_id, []).append(wake)
        try:
            yield
        finally:
            with self._lock:
                wakes = self._waking.get(job_id, [])
                with suppress(ValueError):
                    wakes.remove(wake)
                if not wakes:
                    self._waking.pop(job_id, None)

    def start(self) -> None:
        """Open the shared watch and start the keeper, unless they run."""
        self._mine()
        if self._watch is not None:
            return
        with self._lock:
            if self._watch is None:
                self._watch = self._store().watch_finished(self._finished)
                stop = self._keeper = threading.Event()
                threading.Thread(target=self._keep, args=(stop,), name="jobtrail-waiters",
                                 daemon=True).start()

    def _finished(self, ids: frozenset[int] | None) -> None:
        """Wake the waits of jobs that finished: *ids*, or (``None``) those a read of the
        statuses finds final or gone. Called by the watch and the keeper, on their threads."""
        with self._lock:
            waited = list(self._waking) if ids is None else [i for i in ids if i in self._waking]
        if not waited:
            return
        if ids is None:
            try:
                statuses = self._store().statuses(waited)
            except StoreError:
                pass  # let every wait read its job, and meet the error itself
            else:
                waited = [i for i in waited if i not in statuses or statuses[i].is_final]
        with self._lock:
            wakes = [wake for job_id in waited for wake in self._waking.get(job_id, ())]
        for wake in wakes:
            wake()

    def _keep(self, stop: threading.Event) -> None:
        """The keeper: a read for every wait each `SAFETY_POLL` seconds, in case the watch
        missed a finish; once no wait is left for `LINGER` seconds, stop the watch."""
        idle_since: float | None = None
        while not stop.wait(SAFETY_POLL):
            watch = None
            with self._lock:
                waiting = bool(self._waking)
                now = time.monotonic()
                idle_since = None if waiting else idle_since or now
                lingered = idle_since is not None and now - idle_since >= LINGER
                if lingered and self._keeper is stop:
                    watch, self._watch, self._keeper = self._watch, None, None
            if lingered:
                if watch is not None:
                    watch.stop()
                return
            if waiting:
                try:
                    self._finished(None)
                except Exception:  # the keeper must outlive anything a read does
                    log.exception("reading the jobs waited for failed")

    def close(self) -> None:
        """Stop the shared watch and the keeper (a later wait starts them again)."""
        if os.getpid() != self._pid:
            return
        with self._lock:
            watch, self._watch = self._watch, None
            keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.set()
        if watch is not None:
            watch.stop()
