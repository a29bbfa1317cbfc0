"""How a worker is asked to stop: a graceful request with a deadline, or at once.

A `StopRequest` is shared by the worker's loop and whoever asks it to stop (a signal
handler, another thread, the supervisor). The first request starts the grace period;
a second one, or ``now=True``, means stop at once. Signals are honoured whatever the
store is doing: the handler only records the request and wakes the loop — and, for the
second signal, interrupts the loop wherever it waits (a database that does not answer
included) by raising `StopNow` in the main thread. A single signal gets there too: a
worker still not stopped `STOP_MARGIN` seconds after its grace period (its loop stuck in
a call to a database that stalled) is stopped at once, as by a second signal.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

from jobtrail.errors import StopNow

log = logging.getLogger("jobtrail.worker")

#: Seconds past the grace period after which a stop asked for by a signal is made at once.
STOP_MARGIN = 5.0
#: The longest alarm set (a grace period of years means no release, not an error).
MAX_ALARM = 1e8
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequest:
    """Whether, and by when, a worker must stop."""

    def __init__(self, grace: float, wake: Callable[[], None]) -> None:
        self.grace = grace
        self.requested = False
        self.now = False
        self.deadline: float | None = None  # monotonic
        self.event = threading.Event()  # set once a stop is requested: pauses end early
        self._wake = wake

    def request(self, *, now: bool = False) -> None:
        """Ask for a stop: running attempts get the grace period, unless *now* (or this is
        the second request)."""
        if self.requested:
            now = True
        self.requested = True
        self.now = self.now or now
        deadline = time.monotonic() + (0.0 if now else self.grace)
        if self.deadline is None or deadline < self.deadline:
            self.deadline = deadline
        self.event.set()
        self._wake()

    def past_deadline(self) -> bool:
        """True once the grace period is over (always, after a stop-now)."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def remaining(self) -> float:
        """Seconds left of the grace period (0 when over, or when no stop was asked)."""
        return 0.0 if self.deadline is None else max(0.0, self.deadline - time.monotonic())


def install_signal_handlers(stop: StopRequest, interruptible: Callable[[], bool]
                            ) -> Callable[[], None]:
    """Make SIGTERM and SIGINT request a stop (the second one: at once); return a function
    that restores the previous handlers. Only possible in the main thread: elsewhere,
    nothing is installed. While *interruptible* says so, a second signal also raises
    `StopNow` where the loop is, so a call that hangs (a database that does not answer)
    cannot hold the stop back. The first signal also sets an alarm (SIGALRM) that does the
    same `STOP_MARGIN` seconds after the grace period, for a call that hangs while nobody
    sends a second signal."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    alarm: list[object] = []  # the application's SIGALRM handler, once the alarm is set

    def set_alarm() -> None:
        """The alarm, taken over only now: until a stop, the application's SIGALRM and
        timer stay its own."""
        try:
            alarm.append(signal.signal(signal.SIGALRM, overdue))
            signal.setitimer(signal.ITIMER_REAL, min(MAX_ALARM, stop.remaining() + STOP_MARGIN))
        except (OverflowError, ValueError, OSError) as exc:  # no alarm: a second signal still works
            log.warning("cannot set the stop alarm (%s): a second signal stops at once", exc)

    def handle(signum: int, frame: FrameType | None) -> None:
        again = stop.requested
        log.warning("received %s: %s", signal.Signals(signum).name,
                    "stopping now" if again else
                    f"finishing running jobs (up to {stop.grace:g}s)")
        stop.request()
        if not again:
            set_alarm()
        if again and interruptible():
            raise StopNow()

    def overdue(signum: int, frame: FrameType | None) -> None:
        log.warning("still not stopped %gs after the grace period (a store call that does "
                    "not return?): stopping now", STOP_MARGIN)
        stop.request(now=True)
        if interruptible():
            raise StopNow()

    for sig in _SIGNALS:
        signal.signal(sig, handle)

    def restore() -> None:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, alarm[0])  # type: ignore[arg-type]
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
