"""The chaos run's command line, read into `Settings`."""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence

from chaosrun.settings import Settings

#: The first line of ``benchmarks/chaos.py``'s docstring.
DESCRIPTION = (
    "The long chaos run: thousands of jobs with keyed effects while workers are killed."
)


def parse_args(argv: Sequence[str] | None) -> tuple[Settings, list[str], str | None]:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument("--jobs", type=int, help="jobs per backend (default 5,000; 1,000 "
                        "with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="1,000 jobs, one PostgreSQL restart: about a minute for both "
                        "backends")
    parser.add_argument("--workers", type=int, default=4, help="worker processes kept running")
    parser.add_argument("--concurrency", type=int, default=4, help="threads per worker")
    parser.add_argument("--lease", type=float, default=2.0, help="App(lease=...) in seconds")
    parser.add_argument("--grace", type=float, default=0.5,
                        help="the workers' --grace: a SIGTERMed worker releases what still "
                        "runs after this many seconds")
    parser.add_argument("--kill-every", default="0.3,2.0", metavar="MIN,MAX",
                        help="seconds between two kills, drawn uniformly (default 0.3,2.0)")
    parser.add_argument("--sigterm-share", type=float, default=0.25,
                        help="share of the kills that are a SIGTERM instead of a SIGKILL")
    parser.add_argument("--pg-restarts", type=int,
                        help="restarts of the throwaway cluster (default 2; 1 with --quick)")
    parser.add_argument("--pg-bin", help="directory of initdb and pg_ctl (default: the newest "
                        "/usr/lib/postgresql/*/bin)")
    parser.add_argument("--timeout", type=float,
                        help="seconds of chaos before giving up (default 900; 240 with --quick)")
    parser.add_argument("--settle", type=float, default=60.0,
                        help="seconds the workers get without chaos after the timeout")
    parser.add_argument("--progress", type=float, default=5.0,
                        help="seconds between two progress lines")
    parser.add_argument("--seed", type=int, help="seed of the jobs' arguments and of the "
                        "chaos schedule (default: random, printed)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the evidence directory even when every check holds")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    try:
        low, high = (float(x) for x in args.kill_every.split(","))
    except ValueError:
        parser.error(f"--kill-every {args.kill_every!r}: write MIN,MAX in seconds, e.g. 0.3,2")
    jobs = args.jobs if args.jobs is not None else (1_000 if args.quick else 5_000)
    problems = [
        (jobs < 1, f"--jobs {jobs}: must be at least 1"),
        (args.workers < 1, f"--workers {args.workers}: must be at least 1"),
        (args.concurrency < 1, f"--concurrency {args.concurrency}: must be at least 1"),
        (args.lease <= 0, f"--lease {args.lease}: must be positive"),
        (args.grace < 0, f"--grace {args.grace}: must be zero or more"),
        (not 0 < low <= high, f"--kill-every {args.kill_every}: need 0 < MIN <= MAX"),
        (not 0 <= args.sigterm_share <= 1, f"--sigterm-share {args.sigterm_share}: must be "
         "between 0 and 1"),
        (args.pg_restarts is not None and args.pg_restarts < 0, "--pg-restarts: must be >= 0"),
        (args.timeout is not None and args.timeout <= 0, "--timeout: must be positive"),
        (args.settle < 0, "--settle: must be zero or more"),
    ]
    for bad, message in problems:
        if bad:
            parser.error(message)
    settings = Settings(
        jobs=jobs, workers=args.workers, concurrency=args.concurrency, lease=args.lease,
        grace=args.grace, kill_min=low, kill_max=high, sigterm_share=args.sigterm_share,
        pg_restarts=args.pg_restarts if args.pg_restarts is not None else (1 if args.quick
                                                                           else 2),
        timeout=args.timeout or (240.0 if args.quick else 900.0), settle=args.settle,
        progress=args.progress, seed=args.seed if args.seed is not None
        else random.SystemRandom().randrange(1_000_000), keep=args.keep, pg_bin=args.pg_bin,
    )
    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    return settings, backends, args.json
