"""Where the microseconds go per job: the worker's CPU time, stage by stage.

    python benchmarks/costs.py [--backend sqlite|postgres|all] [--jobs N] [--concurrency C]
                               [--repeat K] [--job bench_noop|bench_steps ...] [--json PATH]

One worker runs in this process (``Worker(app, concurrency=C, burst=True)``) and drains
N queued jobs. While it does, the functions of its pipeline are wrapped, at runtime and in
this script only, by timers that add up the CPU time of the calling thread
(``time.thread_time``) per stage:

- claim: the store's ``claim`` call (one transaction per batch);
- prepare: ``jobtrail.execution.prepare`` (decoding the payload, the `Context`, the `Attempt`);
- hand-off: from the claim loop to a job thread and back — ``ThreadRunner.submit``, the job
  thread waking and calling into the attempt (everything a job thread does outside the
  stages below), the report (``Worker._report``) and the collection (``Worker._collect``,
  ``OutcomeWriter.add``);
- run: the job function itself;
- record: building the outcome once the function returned (``Attempt._ended``);
- summary: the run summary (``jobtrail.paths.runs.Summarizer``);
- finish: the store's ``finish`` call, its commit included, and the writer's batch around it;
- accounting: what the worker does with a written batch (``Worker._written``: counts,
  observers), less the attempt log;
- attempt log: the ``jobtrail.attempts`` line per attempt (``AttemptLog.written``);
- rest: the claim loop's own work (heartbeats, waits, bookkeeping), the outcome writer's
  thread outside its writes (PostgreSQL), and the process's other threads.

Each stage counts its own time only (a stage called inside another is taken out of it).
Thread CPU time, not wall time: a job thread waiting for the GIL, or the loop sleeping
until an attempt ends, spends no CPU, so the figures add up to the process's CPU time
(``time.process_time``) and say what a faster pipeline would save; wall-clock timers
would count the waits of 32 threads many times over.

Every configuration also runs without the timers (the real figure: they add two clock
reads per wrapped call), and each with the attempt log at INFO (the worker's default in
the command line), written as text to a file in a RAM-backed temporary directory, and
off (WARNING). Configurations alternate in each of K rounds; medians are reported.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corebench.backends import Backend, chosen
from corebench.machine import load_average, machine
from corebench.queue import fill, fresh_app
from corebench.settings import DEFAULT_PG_URL
from corebench.terminal import console
from rich.table import Table

import jobtrail.worker
from jobtrail import App
from jobtrail.execution import Attempt, prepare
from jobtrail.observe.attempts import AttemptLog
from jobtrail.observe.logs import configure_logging
from jobtrail.paths.runs import Summarizer
from jobtrail.runners import ThreadRunner
from jobtrail.worker import DEFAULT_CONCURRENCY, Worker
from jobtrail.writer import OutcomeWriter

JOBS = ("bench_noop", "bench_steps")
LOG_LEVELS = {"off": "warning", "info": "info"}
#: The stages, in the pipeline's order, as the table shows them.
STAGES = (
    "claim", "prepare", "hand-off", "run", "record", "summary", "finish", "accounting",
    "attempt log", "rest: claim loop", "rest: outcome writer", "rest: other threads",
)
#: Threads whose CPU time is measured whole; their time outside any stage goes to:
ROLE_STAGE = {
    "job threads": "hand-off",
    "claim loop": "rest: claim loop",
    "outcome writer": "rest: outcome writer",
}

Fn = Callable[..., Any]


class Stages:
    """Timers around the worker's functions: CPU time per stage, per thread."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._threads: list[dict[str, float]] = []  # each thread's totals per stage
        self._calls: list[list[int]] = []  # each thread's count of timed calls
        #: Per role: CPU seconds of its threads, and how much of it the stages took.
        self.roles: dict[str, list[float]] = {role: [0.0, 0.0] for role in ROLE_STAGE}

    def _mine(self) -> tuple[list[float], dict[str, float], list[int]]:
        local = self._local
        try:
            return local.stack, local.totals, local.calls
        except AttributeError:
            local.stack, local.totals, local.calls = [], {}, [0]
            with self._lock:
                self._threads.append(local.totals)
                self._calls.append(local.calls)
            return local.stack, local.totals, local.calls

    def stage(self, name: str, fn: Fn) -> Fn:
        """*fn*, its own CPU time (less that of the stages it calls) added to *name*."""
        clock = time.thread_time
        mine = self._mine

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            stack, totals, calls = mine()
            stack.append(0.0)
            start = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = clock() - start
                inner = stack.pop()
                totals[name] = totals.get(name, 0.0) + elapsed - inner
                if stack:
                    stack[-1] += elapsed
                calls[0] += 1

        return timed

    def role(self, name: str, fn: Fn) -> Fn:
        """*fn*, the body of a thread (or the loop): its whole CPU time is kept for *name*."""
        clock = time.thread_time
        mine = self._mine

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            _, totals, _ = mine()
            start, attributed = clock(), sum(totals.values())
            try:
                return fn(*args, **kwargs)
            finally:
                spent = clock() - start
                staged = sum(totals.values()) - attributed
                with self._lock:
                    self.roles[name][0] += spent
                    self.roles[name][1] += staged

        return timed

    def totals(self, process_cpu: float) -> dict[str, float]:
        """CPU seconds per stage; what no thread measured goes to ``rest: other threads``."""
        with self._lock:
            found: dict[str, float] = dict.fromkeys(STAGES, 0.0)
            for per_thread in self._threads:
                for name, seconds in per_thread.items():
                    found[name] += seconds
            for role, (spent, staged) in self.roles.items():
                found[ROLE_STAGE[role]] += spent - staged
        # The rest of the process: threads no role measures (PostgreSQL's listener, ...).
        outside = sum(v for k, v in found.items() if k != "rest: other threads")
        found["rest: other threads"] = max(0.0, process_cpu - outside)
        return found

    def calls(self) -> int:
        with self._lock:
            return sum(count[0] for count in self._calls)

    @contextlib.contextmanager
    def installed(self, app: App, job: str) -> Iterator[None]:
        """The timers in place on *app*'s store, its job *job* and the worker's classes;
        everything restored on the way out."""
        store_class = type(app.store)
        definition = app.registry[job]
        patches: list[tuple[Any, str, Fn]] = [
            (store_class, "claim", self.stage("claim", store_class.claim)),
            (store_class, "finish", self.stage("finish", store_class.finish)),
            (jobtrail.worker, "prepare", self.stage("prepare", prepare)),
            (ThreadRunner, "submit", self.stage("hand-off", ThreadRunner.submit)),
            (Worker, "_report", self.stage("hand-off", Worker._report)),
            (Worker, "_collect", self.stage("hand-off", Worker._collect)),
            (OutcomeWriter, "add", self.stage("hand-off", OutcomeWriter.add)),
            (definition, "fn", self.stage("run", definition.fn)),
            (Attempt, "_ended", self.stage("record", Attempt._ended)),
            (Summarizer, "__call__", self.stage("summary", Summarizer.__call__)),
            (OutcomeWriter, "_write", self.stage("finish", OutcomeWriter._write)),
            (Worker, "_written", self.stage("accounting", Worker._written)),
            (AttemptLog, "written", self.stage("attempt log", AttemptLog.written)),
            (ThreadRunner, "_loop", self.role("job threads", ThreadRunner._loop)),
            (OutcomeWriter, "_run", self.role("outcome writer", OutcomeWriter._run)),
            (Worker, "run", self.role("claim loop", Worker.run)),
        ]
        saved: list[tuple[Any, str, bool, Any]] = []
        try:
            for target, attr, wrapper in patches:
                own = attr in vars(target)
                saved.append((target, attr, own, vars(target).get(attr)))
                setattr(target, attr, wrapper)
            yield
        finally:
            for target, attr, own, original in reversed(saved):
                if own:
                    setattr(target, attr, original)
                else:
                    delattr(target, attr)


def clock_cost() -> float:
    """µs one ``time.thread_time()`` call costs (each timed call makes two)."""
    clock = time.thread_time
    n = 200_000
    start = time.perf_counter()
    for _ in range(n):
        clock()
    return (time.perf_counter() - start) / n * 1e6


def join_worker_threads(timeout: float = 10.0) -> None:
    """Wait for the worker's job threads and outcome writer to exit (after ``run``)."""
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread.name.startswith(("jobtrail-job", "jobtrail-outcomes")):
            thread.join(max(0.0, deadline - time.monotonic()))


def drain(backend: Backend, job: str, jobs: int, concurrency: int, log: str,
          instrumented: bool, log_stream: TextIO) -> dict[str, Any]:
    """One in-process worker drains *jobs* queued *job*s: CPU per job, per stage."""
    app = fresh_app(backend)
    try:
        fill(app, jobs, job=job)
        backend.analyze()
        configure_logging(LOG_LEVELS[log], "text", stream=log_stream)
        stages = Stages() if instrumented else None
        with stages.installed(app, job) if stages is not None else contextlib.nullcontext():
            worker = Worker(app, concurrency=concurrency, burst=True, install_signals=False)
            gc.collect()
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            stats = worker.run()
            join_worker_threads()
            cpu = time.process_time() - cpu_start
            wall = time.perf_counter() - wall_start
    finally:
        configure_logging("warning", "text", stream=log_stream)
        app.close()
    if stats.finished != jobs or stats.outcomes.get("succeeded", 0) != jobs:
        raise RuntimeError(f"{backend.name} {job}: the worker ended {dict(stats.outcomes)} "
                           f"of {jobs} jobs")
    run: dict[str, Any] = {
        "process_cpu_us": cpu / jobs * 1e6, "jobs_per_s": jobs / wall,
    }
    if stages is not None:
        run["stages_us"] = {name: seconds / jobs * 1e6
                            for name, seconds in stages.totals(cpu).items()}
        run["timed_calls_per_job"] = stages.calls() / jobs
    return run


def measure(backend: Backend, job: str, args: argparse.Namespace, log_stream: TextIO
            ) -> dict[str, Any]:
    """Alternate log off/info, timed and not, *repeat* times; medians and every run."""
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        log: {"timed": [], "plain": []} for log in LOG_LEVELS
    }
    for k in range(args.repeat):
        for log in LOG_LEVELS:
            for kind in ("timed", "plain"):
                run = drain(backend, job, args.jobs, args.concurrency, log, kind == "timed",
                            log_stream)
                runs[log][kind].append(run)
                console.print(f"  {backend.name} {job} round {k + 1}: log {log}, {kind}: "
                              f"{run['process_cpu_us']:.0f} µs CPU per job, "
                              f"{run['jobs_per_s']:,.0f} jobs/s")
    result: dict[str, Any] = {}
    for log, kinds in runs.items():
        timed, plain = kinds["timed"], kinds["plain"]
        result[log] = {
            "stages_us": {name: statistics.median(r["stages_us"][name] for r in timed)
                          for name in STAGES},
            "timed_cpu_us": statistics.median(r["process_cpu_us"] for r in timed),
            "timed_calls_per_job": statistics.median(r["timed_calls_per_job"] for r in timed),
            "plain_cpu_us": statistics.median(r["process_cpu_us"] for r in plain),
            "plain_jobs_per_s": statistics.median(r["jobs_per_s"] for r in plain),
            "runs": kinds,
        }
    return result


def render(results: dict[str, dict[str, dict[str, Any]]], args: argparse.Namespace,
           clock_us: float, load_before: float) -> None:
    for job, by_backend in results.items():
        table = Table(title=f"Where a job's time goes: {job}, worker CPU µs per job (share)")
        table.add_column("stage")
        columns = [(backend, log, data) for backend, logs in by_backend.items()
                   for log, data in logs.items()]
        for backend, log, _ in columns:
            table.add_column(f"{backend}\nlog {log}", justify="right")
        for name in STAGES:
            cells = []
            for _, _, data in columns:
                us = data["stages_us"][name]
                total = sum(data["stages_us"].values())
                cells.append(f"{us:.1f} ({us / total * 100:.0f}%)" if total else "-")
            table.add_row(name, *cells)
        table.add_section()
        table.add_row("total, timed", *(f"{sum(d['stages_us'].values()):.1f}"
                                        for _, _, d in columns))
        table.add_row("timed calls per job",
                      *(f"{d['timed_calls_per_job']:.1f}" for _, _, d in columns))
        table.add_row("process CPU per job, untimed",
                      *(f"{d['plain_cpu_us']:.1f}" for _, _, d in columns))
        table.add_row("drain, untimed (jobs/s)",
                      *(f"{d['plain_jobs_per_s']:,.0f}" for _, _, d in columns))
        table.add_row("CPU busy, untimed (cores)",
                      *(f"{d['plain_cpu_us'] * d['plain_jobs_per_s'] / 1e6:.2f}"
                        for _, _, d in columns))
        console.print(table)
    console.print(
        f"{args.jobs:,} jobs, 1 in-process worker x {args.concurrency} threads, medians of "
        f"{args.repeat} rounds; a thread_time() call costs {clock_us:.2f} µs (two per timed "
        f"call); 1-minute load before: {load_before:.2f}"
    )
    console.print("command: python " + " ".join(sys.argv))


def ram_dir() -> str:
    """A temporary directory in RAM where the system has one (for the log file)."""
    shm = "/dev/shm"
    return tempfile.mkdtemp(prefix="jobtrail-costs-",
                            dir=shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--job", action="append", choices=JOBS,
                        help="the job drained (repeatable; default bench_noop)")
    parser.add_argument("--json", metavar="PATH", help="also write every figure as JSON")
    args = parser.parse_args(argv)
    job_names: list[str] = args.job or ["bench_noop"]
    backends = chosen(args.backend, args.pg_url)
    if backends is None:
        return 1
    logs = ram_dir()
    results: dict[str, dict[str, dict[str, Any]]] = {job: {} for job in job_names}
    load_before = load_average()
    clock_us = clock_cost()
    try:
        with open(os.path.join(logs, "attempts.log"), "a") as log_stream:
            for job in job_names:
                for backend in backends:
                    console.print(f"[bold]{backend.name}[/]: {job}")
                    results[job][backend.name] = measure(backend, job, args, log_stream)
    finally:
        for backend in backends:
            backend.cleanup()
        shutil.rmtree(logs, ignore_errors=True)
    render(results, args, clock_us, load_before)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({
            "settings": {"jobs": args.jobs, "concurrency": args.concurrency,
                         "repeat": args.repeat, "jobs_drained": job_names},
            "machine": machine(), "load_before": load_before,
            "thread_time_call_us": clock_us, "command": sys.argv, "results": results,
        }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
