"""Waiting for a job to finish: `wait` and `wait_async`, and `Waiters`, the one watch that
every wait of an app in this process shares.

A wait reads its job; while the job is not in a final status it sleeps until the store
signals that jobs finished — PostgreSQL: a ``jobtrail_finished`` notification carrying
their ids, sent once by each transaction that ends jobs; SQLite: the ``data_version``
poll of idle workers, after which one read answers for every job waited for — then reads
the job again. However quiet the store is, a wait reads its job every `SAFETY_POLL`
seconds, so a signal lost with a connection (a restart of the database) delays it by that
much at most, never for good.

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

log = logging.getLogger("jobtrail.waiting")

#: Seconds between two reads of a job waited for, whatever the store signals.
SAFETY_POLL = 1.0
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
        self.deadline = None if timeout is None else time.monotonic() + self.timeout
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
        return SAFETY_POLL if left is None else min(SAFETY_POLL, left)

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
            f"wait(timeout={timeout!r}): the timeout is the seconds to wait, a number ≥ 0, "
            "or None to wait for as long as it takes"
        )
    return float(timeout)


class Waiters:
    """Every wait of one app in this process, and the one watch of finished jobs they
    share (`Store.watch_finished`): started by the first wait that needs it, stopped
    `LINGER` seconds after the last one ended, or when the app closes.

    The watch reports jobs that finished: their ids (PostgreSQL), and the waits for those
    are woken; or ``None`` (SQLite, a reconnection), and one read of the statuses of every
    job waited for says which to wake."""

    def __init__(self, store: Callable[[], Store]) -> None:
        self._store = store
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._waking: dict[int, list[Callable[[], None]]] = {}
        self._watch: Watch | None = None
        self._idle: threading.Timer | None = None

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
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
        try:
            yield
        finally:
            with self._lock:
                wakes = self._waking.get(job_id, [])
                with suppress(ValueError):
                    wakes.remove(wake)
                if not wakes:
                    self._waking.pop(job_id, None)
                if not self._waking and self._watch is not None and self._idle is None:
                    self._idle = threading.Timer(LINGER, self._stop_if_idle)
                    self._idle.daemon = True
                    self._idle.start()

    def start(self) -> None:
        """Open the shared watch, unless it is open."""
        self._mine()
        if self._watch is not None:
            return
        with self._lock:
            if self._watch is None:
                self._watch = self._store().watch_finished(self._finished)

    def _finished(self, ids: frozenset[int] | None) -> None:
        """The watch's report (on its thread): wake the waits of jobs that finished."""
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

    def _stop_if_idle(self) -> None:
        with self._lock:
            if self._waking or self._idle is None:
                return
            self._idle = None
            watch, self._watch = self._watch, None
        if watch is not None:
            watch.stop()

    def close(self) -> None:
        """Stop the shared watch (a later wait opens it again)."""
        if os.getpid() != self._pid:
            return
        with self._lock:
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            watch, self._watch = self._watch, None
        if watch is not None:
            watch.stop()
