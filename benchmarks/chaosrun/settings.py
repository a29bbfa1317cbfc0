"""What a chaos run does (`Settings`, from the command line), and the timings it keeps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The ``benchmarks/`` directory: the workers import ``chaos_jobs`` from there.
BENCHMARKS = Path(__file__).resolve().parent.parent
ENQUEUE_BATCH = 1_000
POLL = 0.05  # seconds between two looks at the workers
COUNT_EVERY = 0.5  # seconds between two counts of final jobs
STOP_SLACK = 20.0  # seconds past its grace a SIGTERMed worker may take to write and exit
KILL_WAIT = 10.0  # seconds a SIGKILLed process may take to disappear


@dataclass(frozen=True)
class Settings:
    """What a run does; see ``--help`` for each."""

    jobs: int
    workers: int
    concurrency: int
    lease: float
    grace: float
    kill_min: float
    kill_max: float
    sigterm_share: float
    pg_restarts: int
    timeout: float
    settle: float
    progress: float
    seed: int
    keep: bool
    pg_bin: str | None
