"""Where a store reads the time: a `Clock`, the system's by default.

A store takes its clock as an option (``open_store(url, clock=...)``, or
``App(store_options={"clock": ...})``). SQLite stores the times it reads from it; the
PostgreSQL server keeps its own clock, so that leases hold across machines whose clocks
differ, and adds the clock's `Clock.offset` to it.

`ManualClock` lets a test move time forward instead of sleeping::

    clock = ManualClock()
    app = App(url, store_options={"clock": clock})
    job.enqueue(delay=3600)
    clock.advance(3601)   # the job is due now
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """The time as a store reads it."""

    def now(self) -> float:
        """The time now, in seconds since the epoch."""

    def offset(self) -> float:
        """How many seconds this clock runs ahead of the system's (``time.time()``): what
        PostgreSQL adds to its server's clock. It should change only when the clock is
        set: each change is sent to every pooled connection."""


class SystemClock:
    """The system's clock: the default."""

    def now(self) -> float:
        """``time.time()``."""
        return time.time()

    def offset(self) -> float:
        """Always 0."""
        return 0.0

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock a test sets: it reads *start* (epoch seconds; now by default) when made,
    runs at the system clock's pace from there, and jumps forward by `advance`.

    It does not stand still: the PostgreSQL server's clock cannot be stopped, and a clock
    that runs alike on both backends makes one test mean the same on each."""

    def __init__(self, start: float | None = None) -> None:
        if start is not None and not math.isfinite(start):
            raise ValueError(f"ManualClock(start=...) needs a finite time, got {start!r}")
        self._lock = threading.Lock()
        self._offset = 0.0 if start is None else start - time.time()

    def now(self) -> float:
        """The system's time plus every advance so far (and the start's offset)."""
        return time.time() + self._offset

    def offset(self) -> float:
        """Seconds this clock runs ahead of the system's."""
        return self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock *seconds* forward, at once."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(
                f"ManualClock.advance() moves forward by a finite number of seconds, "
                f"got {seconds!r}"
            )
        with self._lock:
            self._offset += seconds

    def __repr__(self) -> str:
        return f"ManualClock(offset={self._offset:+.3f}s)"
