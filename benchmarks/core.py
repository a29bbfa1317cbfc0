#!/usr/bin/env python
"""jobtrail core benchmark: enqueue, drain, pick-up latency and claim cost.

Runs on SQLite (a temporary file) and on PostgreSQL (``--pg-url``, or the default URL
when a server answers there). See ``benchmarks/README.md`` for what each figure means.

    python benchmarks/core.py                 # every backend, full size
    python benchmarks/core.py --quick         # under a minute
    python benchmarks/core.py --backend sqlite --repeat 5 --json benchmarks/results/run.json

This is a script, not a test: nothing under ``tests/`` imports it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from bench_app import LIFELINE_ENV, make_app  # noqa: E402

from jobtrail import App, Status  # noqa: E402
from jobtrail.errors import JobtrailError  # noqa: E402
from jobtrail.store.base import Outcome  # noqa: E402

DEFAULT_PG_URL = os.environ.get(
    "JOBTRAIL_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/jt_bench"
)
RUNNER = HERE / "bench_app.py"
RUNNER_COMMANDS = {
    "cli": "python -m jobtrail worker bench_app:app --processes P --concurrency C [--burst]",
    "script": "python benchmarks/bench_app.py --processes P --concurrency C [--burst]",
}
PROCESSES = 2
DEFAULT_CONCURRENCY = 32  # the best of 8/16/32/64 on both backends (see README.md)
BULK_BATCH = 1_000
FILL_BATCH = 10_000
CLAIM_LIMIT = 10
CLAIM_LEASE = 30.0

# What we compare with (see README.md): (backend, metric) -> (bound, "min" | "max").
TARGETS: dict[tuple[str, str], tuple[float, str]] = {
    ("sqlite", "single_enqueue"): (3_000, "min"),
    ("sqlite", "drain"): (5_000, "min"),
    ("postgres", "drain"): (5_500, "min"),
    ("sqlite", "pickup_p99"): (20.0, "max"),
    ("postgres", "pickup_p99"): (10.0, "max"),
}

console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)


class Interrupted(Exception):
    """SIGTERM/SIGHUP reached the benchmark: unwind so every worker is stopped."""


# -- settings -------------------------------------------------------------------------------


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


# -- backends --------------------------------------------------------------------------------


class Backend:
    name: str
    url: str

    def reset(self) -> None:
        """Leave an empty, migrated database."""
        raise NotImplementedError

    def analyze(self) -> None:
        """Refresh the planner's statistics after a fill (a no-op where there are none)."""

    def cleanup(self) -> None:
        pass


class SQLiteBackend(Backend):
    name = "sqlite"

    def __init__(self, directory: str | None) -> None:
        self.dir = tempfile.mkdtemp(prefix="jobtrail-bench-", dir=directory)
        self.path = os.path.join(self.dir, "bench.db")
        self.url = f"sqlite:///{self.path}"

    def reset(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path + suffix)
        app = App(self.url)
        try:
            app.upgrade()
        finally:
            app.close()

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresBackend(Backend):
    name = "postgres"

    def __init__(self, url: str) -> None:
        self.url = url

    @staticmethod
    def check(url: str) -> str | None:
        """``None`` when the benchmark can use *url* (creating its database if
        missing), else why not."""
        try:
            import psycopg
        except ImportError:
            return "psycopg is not installed (pip install -e '.[postgres]')"
        try:
            import jobtrail.store.postgres  # noqa: F401
        except ImportError as exc:
            return f"jobtrail has no PostgreSQL backend here ({exc})"
        try:
            psycopg.connect(url, connect_timeout=3).close()
            return None
        except psycopg.OperationalError as exc:
            if "does not exist" not in str(exc):
                return f"cannot connect to {url}: {str(exc).strip()}"
        # The server answers but the database is missing: create it.
        from psycopg import conninfo, sql

        info = conninfo.conninfo_to_dict(url)
        dbname = info.get("dbname")
        if not dbname:
            return f"{url} names no database"
        admin = conninfo.make_conninfo(url, dbname="postgres")
        try:
            with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(dbname))))
        except psycopg.Error as exc:
            return f"cannot create database {dbname!r}: {str(exc).strip()}"
        console.print(f"[dim]created PostgreSQL database {dbname!r}[/]")
        return None

    def reset(self) -> None:
        import psycopg

        app = App(self.url)
        try:
            app.upgrade()
        finally:
            app.close()
        with psycopg.connect(self.url, autocommit=True) as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename LIKE 'jobtrail\\_%' AND tablename <> 'jobtrail_schema'"
                )
            ]
            if tables:
                conn.execute(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY"
                )
            conn.execute("VACUUM ANALYZE")

    def analyze(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE jobtrail_jobs")


# -- worker processes ----------------------------------------------------------------------


def cli_available() -> bool:
    """True when this jobtrail has the ``jobtrail worker`` command."""
    try:
        return importlib.util.find_spec("jobtrail.cli.worker") is not None
    except ImportError:
        return False


class Workers:
    """Worker processes in their own process group, started like an application's.

    ``python -m jobtrail worker bench_app:app --processes P --concurrency C [--burst]``
    (or, without the command line, ``python benchmarks/bench_app.py`` doing the same
    through ``App.work``). Stopping is forceful when it has to be: SIGTERM to the
    supervisor (it forwards it to its workers), then SIGKILL to the whole group. The
    workers also stop by themselves when the benchmark dies (their standard input, a
    pipe from here, closes).
    """

    live: set[Workers] = set()
    runner = "cli"

    def __init__(self, url: str, *, processes: int, concurrency: int, burst: bool) -> None:
        self.log = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 (closed in __exit__)
        options = ["--processes", str(processes), "--concurrency", str(concurrency)]
        if burst:
            options.append("--burst")
        if Workers.runner == "cli":
            command = [sys.executable, "-m", "jobtrail", "worker", "bench_app:app",
                       "--log-level", "warning", *options]
        else:
            command = [sys.executable, str(RUNNER), *options]
        env = dict(os.environ, JOBTRAIL_URL=url)
        env[LIFELINE_ENV] = "1"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True, env=env, cwd=HERE,
        )
        self.pgid = self.proc.pid  # a new session: the supervisor leads its own group
        Workers.live.add(self)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"workers did not finish within {timeout:.0f}s") from None

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def stop(self, grace: float = 15.0) -> int | None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace)
        # Whatever is left of the group (a worker whose supervisor died first): kill it.
        deadline = time.monotonic() + 5
        while True:
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                break
            if self.proc.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(1)
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if self.proc.stdin:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        Workers.live.discard(self)
        return self.proc.returncode

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(grace=15.0 if exc[0] is None else 3.0)
        self.log.close()

    @classmethod
    def stop_all(cls) -> None:
        for group in list(cls.live):
            group.stop(grace=3.0)


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signal.Signals(signum).name)


# -- helpers -------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The *q*-th percentile (0-100) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def fresh_app(backend: Backend) -> App:
    backend.reset()
    return make_app(backend.url)


def fill(app: App, count: int, batch: int = FILL_BATCH, job: str = "bench_noop") -> None:
    noop = app.job_named(job)
    for start in range(0, count, batch):
        noop.enqueue_many([{"i": i} for i in range(start, min(count, start + batch))])


def finished_records(app: App, job_name: str) -> list[Any]:
    """Every job of *job_name*, read page by page through the public API."""
    found: list[Any] = []
    before: int | None = None
    while True:
        page = app.jobs(job_name=job_name, limit=5_000, before_id=before)
        if not page:
            return found
        found.extend(page)
        before = page[-1].id


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def waiting_jobs(app: App) -> int:
    return sum(
        count for (_, status), count in app.counts().items()
        if status in (Status.QUEUED, Status.RETRYING, Status.RUNNING)
    )


# -- measurements -------------------------------------------------------------------------------


def bench_single_enqueue(backend: Backend, n: int) -> dict[str, Any]:
    app = fresh_app(backend)
    try:
        noop = app.job_named("bench_noop")
        for i in range(50):  # open the connection, warm caches
            noop.enqueue(i=-i)
        times = []
        start = time.perf_counter()
        for i in range(n):
            t0 = time.perf_counter()
            noop.enqueue(i=i)
            times.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start
    finally:
        app.close()
    return {
        "jobs": n, "seconds": elapsed, "jobs_per_s": n / elapsed,
        "p50_us": percentile(times, 50) * 1e6, "p99_us": percentile(times, 99) * 1e6,
    }


def bench_bulk_enqueue(backend: Backend, n: int, batch: int = BULK_BATCH) -> dict[str, Any]:
    app = fresh_app(backend)
    try:
        noop = app.job_named("bench_noop")
        noop.enqueue_many([{"i": -1}])  # open the connection
        batches = [[{"i": i} for i in range(s, min(n, s + batch))] for s in range(0, n, batch)]
        start = time.perf_counter()
        for items in batches:
            noop.enqueue_many(items)
        elapsed = time.perf_counter() - start
    finally:
        app.close()
    return {"jobs": n, "batch": batch, "seconds": elapsed, "jobs_per_s": n / elapsed}


def bench_drain_once(
    backend: Backend, settings: Settings, job: str = "bench_noop"
) -> dict[str, Any]:
    n = settings.jobs
    app = fresh_app(backend)
    try:
        fill(app, n, BULK_BATCH, job)
    finally:
        app.close()
    backend.analyze()
    with Workers(backend.url, processes=settings.processes,
                 concurrency=settings.concurrency, burst=True) as workers:
        code = workers.wait(timeout=max(120.0, n / 100))
        wall = time.perf_counter() - workers.started
        if code != 0:
            raise RuntimeError(f"burst workers exited with {code}:\n{workers.output()[-3000:]}")
    app = make_app(backend.url)
    try:
        records = finished_records(app, job)
    finally:
        app.close()
    succeeded = [r for r in records if r.status is Status.SUCCEEDED]
    if len(succeeded) != n:
        statuses = sorted({r.status.value for r in records})
        raise RuntimeError(f"drain: {len(succeeded)} of {n} jobs succeeded (statuses {statuses})")
    attempts = sum(r.attempts for r in succeeded)
    if attempts != n:
        raise RuntimeError(f"drain: {n} jobs took {attempts} attempts (some ran twice)")
    starts = sorted(float(r.result) for r in succeeded)
    span = starts[-1] - starts[0]
    return {
        "jobs": n, "span_s": span, "jobs_per_s": (n - 1) / span if span > 0 else float("inf"),
        "wall_s": wall, "attempts": attempts,
    }


def bench_drain(backend: Backend, settings: Settings) -> dict[str, Any]:
    runs = []
    for k in range(settings.repeat):
        run = bench_drain_once(backend, settings)
        runs.append(run)
        console.print(
            f"  drain run {k + 1}/{settings.repeat}: {run['jobs_per_s']:,.0f} jobs/s "
            f"({run['jobs']:,} jobs in {run['span_s']:.2f}s; {run['wall_s']:.2f}s "
            "including worker start and exit)"
        )
    rates = [r["jobs_per_s"] for r in runs]
    return {
        "jobs": settings.jobs, "processes": settings.processes,
        "concurrency": settings.concurrency, "jobs_per_s": statistics.median(rates),
        "runs_jobs_per_s": rates, "runs": runs,
    }


def bench_pickup(backend: Backend, settings: Settings) -> dict[str, Any]:
    app = fresh_app(backend)
    latency = app.job_named("bench_latency")
    try:
        with Workers(backend.url, processes=settings.processes,
                     concurrency=settings.concurrency, burst=False) as workers:
            def ready() -> bool:
                if workers.proc.poll() is not None:
                    raise RuntimeError(f"workers exited early:\n{workers.output()[-3000:]}")
                return len(app.store.workers()) >= settings.processes

            wait_until(ready, 60, "the workers to start")
            # Warm-up (not measured): every worker process claims a few jobs.
            warmup = []
            for _ in range(40):
                warmup.append(latency.enqueue(sent=time.time()))
                time.sleep(0.02)
            wait_until(lambda: waiting_jobs(app) == 0, 60, "the warm-up jobs")
            time.sleep(0.5)
            last_warmup = max(h.id for h in warmup)

            count = round(settings.latency_rate * settings.latency_seconds)
            interval = 1.0 / settings.latency_rate
            behind = 0
            returned: dict[int, float] = {}  # job id -> when enqueue() returned
            begin = time.perf_counter()
            for i in range(count):
                due = begin + i * interval
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                elif pause < -interval:
                    behind += 1
                handle = latency.enqueue(sent=time.time())
                returned[handle.id] = time.time()
            produced = time.perf_counter() - begin
            wait_until(lambda: waiting_jobs(app) == 0, 60, "the measured jobs")
        records = [r for r in finished_records(app, "bench_latency") if r.id > last_warmup]
    finally:
        app.close()
    bad = [r for r in records if r.status is not Status.SUCCEEDED]
    if bad or len(records) != count:
        raise RuntimeError(f"pick-up: {len(records) - len(bad)} of {count} jobs succeeded")
    ms = [(float(r.result) - r.args["sent"]) * 1000 for r in records]
    # The same, minus the enqueue call itself (its transaction and commit).
    after = [(float(r.result) - returned[r.id]) * 1000 for r in records]
    enqueue_ms = [(returned[r.id] - r.args["sent"]) * 1000 for r in records]
    return {
        "jobs": count, "rate": count / produced, "target_rate": settings.latency_rate,
        "late_sends": behind, "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95),
        "p99_ms": percentile(ms, 99), "max_ms": max(ms), "mean_ms": statistics.fmean(ms),
        "after_enqueue_p50_ms": percentile(after, 50),
        "after_enqueue_p99_ms": percentile(after, 99),
        "enqueue_p50_ms": percentile(enqueue_ms, 50), "enqueue_p99_ms": percentile(enqueue_ms, 99),
    }


def bench_claim(backend: Backend, depth: int, claims: int) -> dict[str, Any]:
    app = fresh_app(backend)
    try:
        fill(app, depth)
        backend.analyze()
        store = app.store
        noop = app.job_named("bench_noop")
        worker = "bench-claim"
        totals, claim_us, finish_us = [], [], []
        for k in range(claims + 20):  # the first 20 warm up
            t0 = time.perf_counter()
            claimed = store.claim(worker, None, CLAIM_LIMIT, CLAIM_LEASE)
            t1 = time.perf_counter()
            store.finish(worker, [
                Outcome(job.id, job.attempt, Status.SUCCEEDED, result="null", claim=job.claim)
                for job in claimed
            ])
            t2 = time.perf_counter()
            if len(claimed) != CLAIM_LIMIT:
                raise RuntimeError(f"claim returned {len(claimed)} jobs, expected {CLAIM_LIMIT}")
            # Keep the queue at its depth (not timed).
            noop.enqueue_many([{"i": -k}] * len(claimed))
            if k >= 20:
                totals.append((t2 - t0) * 1e6)
                claim_us.append((t1 - t0) * 1e6)
                finish_us.append((t2 - t1) * 1e6)
    finally:
        app.close()
    return {
        "queued": depth, "claims": claims, "limit": CLAIM_LIMIT,
        "median_us": statistics.median(totals), "p95_us": percentile(totals, 95),
        "claim_median_us": statistics.median(claim_us),
        "finish_median_us": statistics.median(finish_us),
    }


MEASUREMENTS = ("single", "bulk", "drain", "pickup", "claim")


def run_measurements(
    backend: Backend, settings: Settings, only: Sequence[str] | None, out: dict[str, Any]
) -> None:
    """Run the chosen measurements into *out* (what finished stays there if one fails)."""
    chosen = set(only or MEASUREMENTS)
    name = backend.name
    out["load_before"] = load_average()
    if "single" in chosen:
        console.print(f"[bold]{name}[/]: single enqueue ({settings.single:,} jobs)")
        out["single_enqueue"] = bench_single_enqueue(backend, settings.single)
        console.print(f"  {out['single_enqueue']['jobs_per_s']:,.0f} jobs/s")
    if "bulk" in chosen:
        console.print(f"[bold]{name}[/]: bulk enqueue ({settings.bulk:,} jobs)")
        out["bulk_enqueue"] = bench_bulk_enqueue(backend, settings.bulk)
        console.print(f"  {out['bulk_enqueue']['jobs_per_s']:,.0f} jobs/s")
    if "drain" in chosen:
        console.print(
            f"[bold]{name}[/]: drain {settings.jobs:,} jobs, {settings.processes} processes "
            f"x {settings.concurrency} threads, {settings.repeat} run(s)"
        )
        out["drain"] = bench_drain(backend, settings)
    if "pickup" in chosen:
        console.print(
            f"[bold]{name}[/]: pick-up latency, {settings.latency_rate:g} jobs/s for "
            f"{settings.latency_seconds:g}s"
        )
        out["pickup"] = p = bench_pickup(backend, settings)
        console.print(
            f"  p50 {p['p50_ms']:.1f} ms, p99 {p['p99_ms']:.1f} ms, max {p['max_ms']:.1f} ms"
        )
    if "claim" in chosen:
        out["claim"] = []
        for depth in settings.claim_depths:
            console.print(f"[bold]{name}[/]: claim + finish with {depth:,} jobs queued")
            result = bench_claim(backend, depth, settings.claims)
            out["claim"].append(result)
            console.print(f"  median {result['median_us']:,.0f} µs")


def run_sweep(
    backend: Backend, settings: Settings, values: Sequence[int], out: dict[str, Any]
) -> None:
    """The drain at several concurrencies (to choose the default). The runs alternate
    between the values, so a busy moment on the machine does not favour one of them."""
    out["load_before"] = load_average()
    runs: dict[int, list[dict[str, Any]]] = {value: [] for value in values}
    for k in range(settings.repeat):
        for value in values:
            run = bench_drain_once(backend, replace(settings, concurrency=value))
            runs[value].append(run)
            console.print(
                f"  {backend.name} concurrency {value}, run {k + 1}/{settings.repeat}: "
                f"{run['jobs_per_s']:,.0f} jobs/s"
            )
    out["sweep"] = {
        value: {
            "jobs": settings.jobs, "processes": settings.processes, "concurrency": value,
            "jobs_per_s": statistics.median(r["jobs_per_s"] for r in found),
            "runs_jobs_per_s": [r["jobs_per_s"] for r in found], "runs": found,
        }
        for value, found in runs.items()
    }


# -- report --------------------------------------------------------------------------------------


def verdict(backend: str, metric: str, value: float) -> str:
    target = TARGETS.get((backend, metric))
    if target is None:
        return ""
    bound, kind = target
    ok = value >= bound if kind == "min" else value <= bound
    return " [green]✓[/]" if ok else " [red]✗[/]"


def target_text(metric: str) -> str:
    parts = []
    for backend, label in (("sqlite", "SQLite"), ("postgres", "PG")):
        target = TARGETS.get((backend, metric))
        if target:
            bound, kind = target
            parts.append(f"{label} {'≥' if kind == 'min' else '≤'} {bound:,g}")
    return ", ".join(parts)


def render(results: dict[str, Any], report: dict[str, Any]) -> None:
    names = list(results)
    table = Table(title="jobtrail core benchmark", title_justify="left")
    table.add_column("measurement", no_wrap=True)
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("target", style="dim")

    def cell(name: str, get: Callable[[dict[str, Any]], str]) -> str:
        data = results[name]
        if "skipped" in data:
            return "[yellow]skipped[/]"
        try:
            return get(data)
        except (KeyError, IndexError, StopIteration):
            return "[red]failed[/]" if "error" in data else "-"

    # Callable[..., str]: the lambdas below bind loop variables as defaults, which mypy
    # cannot infer against a one-argument type.
    def row(label: str, get: Callable[..., str], target: str = "") -> None:
        cells = [cell(n, get) for n in names]
        if all(c in ("-", "[yellow]skipped[/]") for c in cells):
            return  # not measured in this run
        table.add_row(label, *cells, target)

    sweeps = sorted({c for d in results.values() for c in d.get("sweep", {})})
    for value in sweeps:
        row(f"drain, concurrency {value}, median (jobs/s)",
            lambda d, value=value: f"{d['sweep'][value]['jobs_per_s']:,.0f}")
        row(f"drain, concurrency {value}, every run",
            lambda d, value=value: " ".join(
                f"{r:,.0f}" for r in d["sweep"][value]["runs_jobs_per_s"]))
    row("single enqueue (jobs/s)",
        lambda d: f"{d['single_enqueue']['jobs_per_s']:,.0f}"
        + verdict(d["_backend"], "single_enqueue", d["single_enqueue"]["jobs_per_s"]),
        target_text("single_enqueue"))
    row(f"bulk enqueue, batches of {BULK_BATCH:,} (jobs/s)",
        lambda d: f"{d['bulk_enqueue']['jobs_per_s']:,.0f}")
    row("drain, median (jobs/s)",
        lambda d: f"{d['drain']['jobs_per_s']:,.0f}"
        + verdict(d["_backend"], "drain", d["drain"]["jobs_per_s"]),
        target_text("drain"))
    row("drain, every run (jobs/s)",
        lambda d: " ".join(f"{r:,.0f}" for r in d["drain"]["runs_jobs_per_s"]))
    for q in ("p50", "p95", "p99", "max"):
        metric = f"pickup_{q}"
        row(f"pick-up latency {q} (ms)",
            lambda d, q=q, metric=metric: f"{d['pickup'][f'{q}_ms']:.1f}"
            + verdict(d["_backend"], metric, d["pickup"][f"{q}_ms"]),
            target_text(metric))
    depths = sorted({c["queued"] for d in results.values() for c in d.get("claim", [])})
    for depth in depths:
        row(f"claim+finish of {CLAIM_LIMIT}, {depth:,} queued (median µs)",
            lambda d, depth=depth: next(
                f"{c['median_us']:,.0f}" for c in d["claim"] if c["queued"] == depth))
    if len(depths) > 1:
        for depth in depths[1:]:
            row(f"claim cost ratio {depth:,} / {depths[0]:,} queued",
                lambda d, depth=depth: f"{claim_ratio(d, depth, depths[0]):.2f}x")
    console.print()
    console.print(table)
    loads = ", ".join(
        f"{n} {d['load_before']:.2f}" for n, d in results.items() if "load_before" in d
    )
    if loads:
        console.print(f"load average (1 min) before each backend: {loads}")
    for name in names:
        data = results[name]
        if "skipped" in data:
            console.print(f"[yellow]{name} skipped:[/] {data['skipped']}")
        elif "error" in data:
            console.print(f"[red]{name} failed:[/] {data['error']}")
    s = report["settings"]
    measured = {key for d in results.values() for key in d}
    if measured & {"drain", "sweep"}:
        threads = ",".join(map(str, s["sweep"])) if s.get("sweep") else s["concurrency"]
        console.print(
            f"drain: {s['jobs']:,} no-op jobs, {s['processes']} worker processes x "
            f"{threads} threads, median of {s['repeat']} run(s)"
        )
    if "pickup" in measured:
        console.print(
            f"pick-up: {s['latency_rate']:g} jobs/s for {s['latency_seconds']:g}s to "
            f"{s['processes']} idle worker processes x {s['concurrency']} threads"
        )
    console.print(
        f"{report['date']}, {report['machine']['cpus']} CPUs, Python "
        f"{report['machine']['python']}, {report['machine']['platform']}"
    )
    console.print(f"workers: {report['workers_started_by']}")
    console.print(f"command: [bold]{report['command']}[/]")


def claim_ratio(data: dict[str, Any], depth: int, base: int) -> float:
    by_depth = {c["queued"]: c["median_us"] for c in data["claim"]}
    return float(by_depth[depth] / by_depth[base])


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def machine() -> dict[str, Any]:
    memory = None
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/meminfo") as f:
        memory = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    return {
        "cpus": os.cpu_count(), "memory_gib": memory, "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


# -- main ------------------------------------------------------------------------------------------


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
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command, "machine": machine(), "settings": asdict(settings),
        "workers_started_by": RUNNER_COMMANDS[args.runner],
    }
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
    report["results"] = {n: {k: v for k, v in d.items() if k != "_backend"}
                         for n, d in results.items()}
    render(results, report)
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n")
        console.print(f"results written to {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
