"""What a core benchmark run measures, and the constants it measures with."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

#: The ``benchmarks/`` directory: ``bench_app`` is imported from there.
BENCHMARKS = Path(__file__).resolve().parent.parent
DEFAULT_PG_URL = os.environ.get(
    "JOBTRAIL_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/jt_bench"
)
PROCESSES = 2
DEFAULT_CONCURRENCY = 32  # the best of 8/16/32/64 on both backends (see README.md)
BULK_BATCH = 1_000
FILL_BATCH = 10_000
CLAIM_LIMIT = 10
CLAIM_LEASE = 30.0


@dataclass
class Settings:
    jobs: int = 20_000
    single: int = 2_000
    bulk: int = 20_000
    latency_rate: float = 200.0
    latency_seconds: float = 5.0
    claim_depths: tuple[int, ...] = (1_000, 100_000)
    claims: int = 200
    concurrency: int = DEFAULT_CONCURRENCY
    processes: int = PROCESSES
    repeat: int = 3
    sweep: tuple[int, ...] = ()

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        if args.quick:
            s = cls(jobs=5_000, single=500, bulk=5_000, latency_seconds=2.0,
                    claim_depths=(1_000, 20_000), claims=100, repeat=1)
        else:
            s = cls()
        if args.large:
            s.claim_depths = (*s.claim_depths, 1_000_000)
        if args.jobs is not None:
            s.jobs = args.jobs
        if args.repeat is not None:
            s.repeat = args.repeat
        s.concurrency = args.concurrency
        s.sweep = tuple(args.sweep or ())
        return s
