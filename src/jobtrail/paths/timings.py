"""Step durations seen by this worker process, to tell when a step is far slower than usual.

A step is ``slow`` when it took longer than ``factor`` times the 99th percentile of its
recent durations (the last `WINDOW` runs of that step of that job that this process saw),
once at least ``min_samples`` are known, and longer than ``floor`` seconds: a step of
microseconds that a pause of the interpreter makes ten times slower is noise, not news.
The percentile is recomputed every `REFRESH` new samples, so observing a duration costs a
dictionary lookup and an append.

History lives in memory: a restarted worker learns again from its next runs. That keeps
the check free of any query on the hot path.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence

WINDOW = 1000
REFRESH = 250
#: Steps followed at most; past this (names made per run), new ones are not judged.
MAX_SERIES = 10_000


class _Series:
    __slots__ = ("durations", "fresh", "p99")

    def __init__(self) -> None:
        self.durations: deque[float] = deque(maxlen=WINDOW)
        self.fresh = 0
        self.p99: float | None = None


class StepTimings:
    """Recent durations per (job, step), and the p99 that makes a step slow."""

    def __init__(self, factor: float = 3.0, min_samples: int = 100, floor: float = 0.01
                 ) -> None:
        self.factor = factor
        self.min_samples = min_samples
        self.floor = floor
        self._series: dict[tuple[str, str], _Series] = {}
        self._lock = threading.Lock()

    def observe(self, job_name: str, step: str, duration: float) -> float | None:
        """Add *duration*; return the p99 it exceeds by more than ``factor``, else ``None``.

        The duration is judged against the history before it, then joins it."""
        return self.observe_many(job_name, [(step, duration)])[0]

    def observe_many(self, job_name: str, steps: Sequence[tuple[str, float]]
                     ) -> list[float | None]:
        """`observe` each (step, duration) of one run, under one lock."""
        judged: list[float | None] = []
        with self._lock:
            for step, duration in steps:
                series = self._series.get((job_name, step))
                if series is None:
                    if len(self._series) >= MAX_SERIES:  # step names made per run
                        judged.append(None)
                        continue
                    series = self._series[(job_name, step)] = _Series()
                p99 = series.p99
                series.durations.append(duration)
                series.fresh += 1
                known = len(series.durations)
                if known >= self.min_samples and (series.fresh >= REFRESH or p99 is None):
                    ordered = sorted(series.durations)
                    series.p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
                    series.fresh = 0
                slow = p99 is not None and duration > max(self.factor * p99, self.floor)
                judged.append(p99 if slow else None)
        return judged
