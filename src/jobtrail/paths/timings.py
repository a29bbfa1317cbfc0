"""Step durations seen by this worker process, to tell when a step is far slower than usual.

A step is ``slow`` when it took longer than ``factor`` times the 99th percentile of its
recent durations (the last `WINDOW` samples of that step of that job that this process
saw), once at least ``min_samples`` are known, and longer than ``floor`` seconds: a step of
microseconds that a pause of the interpreter makes ten times slower is noise, not news.
Every run is judged; the durations of every run of a worker's first `LEARNING` runs, then
of one run in `SAMPLE`, join the history (a percentile needs a sample, not every run, and
a new worker should know its steps soon), and the percentile is recomputed every `REFRESH`
new samples, so judging a run costs a dictionary lookup and a comparison per step.

History lives in memory: a restarted worker learns again from its next runs. That keeps
the check free of any query on the hot path.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence

WINDOW = 1000
REFRESH = 250
#: Runs of a worker process whose durations all join the history.
LEARNING = 400
#: After those, one run in this many adds its durations to the history (`StepTimings.judge`).
SAMPLE = 16
#: Steps followed at most; past this (names made per run), new ones are not judged.
MAX_SERIES = 10_000


class _Series:
    __slots__ = ("durations", "fresh", "limit", "p99")

    def __init__(self) -> None:
        self.durations: deque[float] = deque(maxlen=WINDOW)
        self.fresh = 0
        self.p99: float | None = None
        self.limit = float("inf")  # slower than this is slow: none before a p99 is known


class StepTimings:
    """Recent durations per (job, step), and the p99 that makes a step slow."""

    def __init__(self, factor: float = 3.0, min_samples: int = 100, floor: float = 0.01
                 ) -> None:
        self.factor = factor
        self.min_samples = min_samples
        self.floor = floor
        self._jobs: dict[str, dict[str, _Series]] = {}
        self._count = 0  # series followed, over every job
        self._runs = 0  # runs judged, to sample one in `SAMPLE`
        self._lock = threading.Lock()

    def sampled(self) -> bool:
        """Whether the run about to be judged joins the history (each of the first
        `LEARNING`, then one in `SAMPLE`): when not, only its steps longer than ``floor``
        need judging (`judge`)."""
        self._runs += 1  # a sample: a lost increment between threads changes nothing
        return self._runs <= LEARNING or self._runs % SAMPLE == 0

    def judge(self, job_name: str, steps: Sequence[tuple[str, float]]) -> list[float | None]:
        """For each (step, duration) of one run, the p99 it exceeds by more than ``factor``
        (else ``None``), without adding to the history."""
        table = self._jobs.get(job_name) or {}
        judged: list[float | None] = []
        for step, duration in steps:
            series = table.get(step)
            judged.append(series.p99 if series is not None and duration > series.limit
                          else None)
        return judged

    def observe(self, job_name: str, step: str, duration: float) -> float | None:
        """Add *duration*; return the p99 it exceeds by more than ``factor``, else ``None``.

        The duration is judged against the history before it, then joins it."""
        return self.observe_many(job_name, [(step, duration)])[0]

    def observe_many(self, job_name: str, steps: Sequence[tuple[str, float]]
                     ) -> list[float | None]:
        """`observe` each (step, duration) of one run, under one lock."""
        judged: list[float | None] = []
        with self._lock:
            table = self._jobs.get(job_name)
            if table is None:
                table = self._jobs[job_name] = {}
            for step, duration in steps:
                series = table.get(step)
                if series is None:
                    if self._count >= MAX_SERIES:  # step names made per run
                        judged.append(None)
                        continue
                    series = table[step] = _Series()
                    self._count += 1
                judged.append(series.p99 if duration > series.limit else None)
                series.durations.append(duration)
                series.fresh += 1
                if (series.fresh >= REFRESH or series.p99 is None) and (
                        len(series.durations) >= self.min_samples):
                    self._refresh(series)
        return judged

    def _refresh(self, series: _Series) -> None:
        ordered = sorted(series.durations)
        p99 = series.p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        series.limit = max(self.factor * p99, self.floor)
        series.fresh = 0
