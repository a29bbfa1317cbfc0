"""The core benchmark's command line, and a run from start to end: every backend in turn,
the table, the JSON file; workers stopped on success, failure, Ctrl-C, SIGTERM or SIGHUP."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from collections.abc import Sequence
from typing import Any

from corebench.backends import Backend, PostgresBackend, SQLiteBackend
from corebench.results import add_results, describe_run, write_json
from corebench.settings import DEFAULT_CONCURRENCY, DEFAULT_PG_URL, Settings
from corebench.suite import MEASUREMENTS, run_measurements, run_sweep
from corebench.table import render
from corebench.terminal import console
from corebench.workers import Workers, cli_available
from jobtrail.errors import JobtrailError


class Interrupted(Exception):
    """SIGTERM/SIGHUP reached the benchmark: unwind so every worker is stopped."""


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signal.Signals(signum).name)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="jobtrail core benchmark (enqueue, drain, pick-up latency, claim cost)"
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres", "all"), default="all",
                        help="default all: SQLite, and PostgreSQL when it can be reached")
    parser.add_argument("--pg-url", help=f"PostgreSQL database to use (default {DEFAULT_PG_URL}; "
                        "created if missing; its jobtrail tables are emptied)")
    parser.add_argument("--jobs", type=int, help="jobs to drain (default 20,000; 5,000 --quick)")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help=f"threads per worker process (default {DEFAULT_CONCURRENCY})")
    parser.add_argument("--repeat", type=int, help="drain runs (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="small sizes: under a minute")
    parser.add_argument("--large", action="store_true",
                        help="also measure claim cost with 1,000,000 jobs queued")
    parser.add_argument("--only", action="append", choices=MEASUREMENTS,
                        help="run only this measurement (repeatable)")
    parser.add_argument("--sweep", metavar="C1,C2,...",
                        help="instead: the drain at each of these concurrencies, e.g. 8,16,32")
    parser.add_argument("--runner", choices=("auto", "cli", "script"), default="auto",
                        help="start workers with `python -m jobtrail worker` (cli) or "
                        "benchmarks/bench_app.py (script); auto: cli when available")
    parser.add_argument("--sqlite-dir", help="where to put the SQLite file (default: temp dir)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.concurrency < 1 or (args.repeat is not None and args.repeat < 1):
        parser.error("--concurrency and --repeat must be positive")
    if args.jobs is not None and args.jobs < 2:
        parser.error("--jobs must be at least 2")
    if args.sweep:
        try:
            args.sweep = [int(v) for v in args.sweep.split(",") if v.strip()]
        except ValueError:
            parser.error("--sweep takes comma-separated integers, e.g. 8,16,32")
        if not args.sweep or min(args.sweep) < 1:
            parser.error("--sweep takes positive integers")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.from_args(args)
    if args.runner == "auto":
        args.runner = "cli" if cli_available() else "script"
    Workers.runner = args.runner
    command = shlex.join(["python", *(sys.argv if argv is None else ["core.py", *argv])])
    report = describe_run(command, settings, args.runner)
    results: dict[str, dict[str, Any]] = {}
    failed = False
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in background
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupted)
    try:
        wanted = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
        for name in wanted:
            if name == "sqlite":
                backend: Backend = SQLiteBackend(args.sqlite_dir)
            else:
                url = args.pg_url or DEFAULT_PG_URL
                reason = PostgresBackend.check(url)
                if reason:
                    results[name] = {"skipped": reason}
                    console.print(f"[yellow]PostgreSQL skipped:[/] {reason}")
                    explicit = args.backend == "postgres" or args.pg_url
                    failed = failed or bool(explicit)
                    continue
                backend = PostgresBackend(url)
            out = results[name] = {"_backend": name}
            try:
                if args.sweep:
                    run_sweep(backend, settings, args.sweep, out)
                else:
                    run_measurements(backend, settings, args.only, out)
            except (RuntimeError, JobtrailError, OSError) as exc:
                out["error"] = str(exc)
                console.print(f"[red]{name} failed:[/] {exc}")
                failed = True
            finally:
                backend.cleanup()
    except (KeyboardInterrupt, Interrupted):
        console.print("[red]interrupted: stopping workers[/]")
        return 130
    finally:
        Workers.stop_all()
    add_results(report, results)
    render(results, report)
    if args.json:
        write_json(report, args.json)
    return 1 if failed else 0
