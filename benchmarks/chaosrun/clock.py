"""The run's clock: seconds since the run began."""

from __future__ import annotations

import time


class Clock:
    """Seconds since the run began (``wall`` is when that was, in epoch seconds)."""

    def __init__(self) -> None:
        self.origin = time.monotonic()
        self.wall = time.time()

    def __call__(self) -> float:
        return time.monotonic() - self.origin
