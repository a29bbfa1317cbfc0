#!/usr/bin/env python
"""The long chaos run: thousands of jobs with keyed effects while workers are killed.

    python benchmarks/chaos.py                       # SQLite, then PostgreSQL; 5,000 jobs each
    python benchmarks/chaos.py --quick               # 1,000 jobs per backend, about a minute
    python benchmarks/chaos.py --backend postgres --jobs 20000 --json chaos.json

Per backend: enqueue the jobs of ``chaos_jobs.chaos_pay`` (a step, one or two keyed
effects that each append a line to a ledger file, sleeps, sometimes a transient failure),
start real worker processes (``python -m jobtrail worker chaos_jobs:app``), and until every
job is final, SIGKILL or SIGTERM a random worker every few tenths of a second to two
seconds, starting a replacement each time. On PostgreSQL the run makes a throwaway
cluster of its own (see ``pg_cluster.py``) and restarts it mid-run. Then it checks what
jobtrail promises: no job lost, no effect key performed twice, the ledger and the store
agree. Exit status 1 when a check fails (the evidence is kept under the temporary
directory printed), 2 on bad options, 3 when the PostgreSQL cluster cannot be made, 130
when interrupted (workers and cluster removed first).

See ``benchmarks/README.md`` ("Chaos run"). This is a script, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import chaos_jobs  # noqa: E402
from pg_cluster import ClusterError, ThrowawayCluster, find_bindir  # noqa: E402

from jobtrail import (  # noqa: E402
    App,
    EffectRecord,
    Event,
    JobNotFound,
    JobRecord,
    JobtrailError,
    Status,
    StoreError,
)

# 2 is argparse's own, for a bad option.
EXIT_OK, EXIT_BROKEN, EXIT_SETUP, EXIT_INTERRUPTED = 0, 1, 3, 130
ENQUEUE_BATCH = 1_000
POLL = 0.05  # seconds between two looks at the workers
COUNT_EVERY = 0.5  # seconds between two counts of final jobs
STOP_SLACK = 20.0  # seconds past its grace a SIGTERMed worker may take to write and exit
KILL_WAIT = 10.0  # seconds a SIGKILLed process may take to disappear
EXAMPLES = 10  # examples of each failed check printed (all of them go to findings.json)


class Interrupted(Exception):
    """SIGTERM or SIGHUP reached the run: unwind, so workers and the cluster are removed."""


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


# -- the jobs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobSpec:
    """The arguments of one ``chaos_pay`` job."""

    n: int
    pause: float
    before: float
    after: float
    notify: bool
    fail: int

    def effect_keys(self) -> list[str]:
        """The effect keys a successful run of this job performs, once each."""
        return [f"charge-{self.n}"] + ([f"notify-{self.n}"] if self.notify else [])


def make_specs(count: int, rng: random.Random) -> list[JobSpec]:
    """Mostly short jobs; 15% work up to 1.5 s outside their effects (killed there, they are
    simply retried) and 10% wait up to 1.2 s after their charge's ledger line (killed
    there, the charge happened and was never recorded done: effect_uncertain; released by
    a graceful stop there, they test that the charge is not called again)."""
    specs = []
    for n in range(count):
        long_pause = rng.random() < 0.15
        long_effect = rng.random() < 0.10
        fail = rng.choice((chaos_jobs.FAIL_BEFORE_CHARGE, chaos_jobs.FAIL_AFTER_CHARGE,
                           chaos_jobs.FAIL_AT_END)) if rng.random() < 0.20 else chaos_jobs.FAIL_NONE
        specs.append(JobSpec(
            n=n,
            pause=round(rng.uniform(0.3, 1.5) if long_pause else rng.uniform(0, 0.05), 3),
            before=round(rng.uniform(0, 0.02), 3),
            after=round(rng.uniform(0.3, 1.2) if long_effect else rng.uniform(0, 0.03), 3),
            notify=rng.random() < 0.5,
            fail=fail,
        ))
    return specs


# -- the workers ------------------------------------------------------------------------------


@dataclass
class WorkerProcess:
    """One ``jobtrail worker`` process and what became of it."""

    seq: int
    process: subprocess.Popen[bytes]
    log: Path
    started: float  # seconds since the run began
    fate: str = "running"  # SIGKILL, SIGTERM, stopped at end, exited by itself
    signalled_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    stuck: bool = False  # did not stop within grace + STOP_SLACK after SIGTERM

    @property
    def pid(self) -> int:
        """The worker's process id."""
        return self.process.pid

    def summary(self) -> dict[str, Any]:
        """The worker as ``workers.json`` and ``findings.json`` show it."""
        return {"worker": self.seq, "pid": self.pid, "log": str(self.log),
                "started": round(self.started, 3), "fate": self.fate,
                "signalled_at": None if self.signalled_at is None else round(self.signalled_at, 3),
                "ended_at": None if self.ended_at is None else round(self.ended_at, 3),
                "exit_code": self.exit_code, "stuck": self.stuck}


class Fleet:
    """The run's worker processes: start, SIGKILL, SIGTERM, replace, stop, and remember."""

    def __init__(self, url: str, workdir: Path, settings: Settings, clock: Clock,
                 journal: TextIO) -> None:
        self.settings = settings
        self.clock = clock
        self.journal = journal
        self.logs = workdir / "workers"
        self.logs.mkdir()
        self.ledger = workdir / "ledger.txt"
        self.workdir = workdir
        self.env = {
            **os.environ,
            "JOBTRAIL_URL": url,
            chaos_jobs.LEDGER_ENV: str(self.ledger),
            chaos_jobs.LEASE_ENV: str(settings.lease),
            chaos_jobs.GRACE_ENV: str(settings.grace),
            chaos_jobs.LIFELINE_ENV: "1",
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p),
        }
        self.all: list[WorkerProcess] = []
        self.sigkills = 0
        self.sigterms = 0
        origin = dt.datetime.fromtimestamp(clock.wall, dt.UTC).isoformat(timespec="milliseconds")
        journal.write(f"# seconds since the run began at {origin}\n")

    def start(self) -> WorkerProcess:
        """Start one worker with its stderr in its own log file."""
        seq = len(self.all) + 1
        log = self.logs / f"worker-{seq:04d}.err"
        command = [sys.executable, "-m", "jobtrail", "worker", "chaos_jobs:app",
                   "--concurrency", str(self.settings.concurrency),
                   "--grace", str(self.settings.grace), "--log-level", "info"]
        with log.open("wb") as sink:
            # Its own session: a Ctrl-C meant for the run must not stop the workers
            # gracefully behind its back; the run stops them itself.
            process = subprocess.Popen(command, env=self.env, cwd=self.workdir,
                                       stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                       stderr=sink, start_new_session=True)
        worker = WorkerProcess(seq, process, log, self.clock())
        self.all.append(worker)
        self.note(f"start worker {seq} pid {process.pid}")
        return worker

    def live(self) -> list[WorkerProcess]:
        """Workers running and not asked to stop."""
        return [w for w in self.all if w.fate == "running"]

    def sigkill(self, worker: WorkerProcess) -> None:
        """Kill *worker* as a crash would, and wait until it is gone."""
        self.sigkills += 1
        worker.fate, worker.signalled_at = "SIGKILL", self.clock()
        self.note(f"SIGKILL worker {worker.seq} pid {worker.pid}")
        self._kill(worker)

    def sigterm(self, worker: WorkerProcess) -> None:
        """Ask *worker* to stop gracefully; `poll` sees it end (or overstay)."""
        self.sigterms += 1
        worker.fate, worker.signalled_at = "SIGTERM", self.clock()
        self.note(f"SIGTERM worker {worker.seq} pid {worker.pid}")
        worker.process.send_signal(signal.SIGTERM)

    def poll(self, *, replace: bool) -> None:
        """Reap workers that ended; SIGKILL SIGTERMed ones that overstay; restart (when
        *replace*) the ones that exited by themselves."""
        now = self.clock()
        for worker in self.all:
            if worker.ended_at is not None:
                continue
            code = worker.process.poll()
            if code is not None:
                self._ended(worker, code)
                if worker.fate == "running":
                    worker.fate = "exited by itself"
                    self.note(f"worker {worker.seq} pid {worker.pid} exited by itself with "
                              f"status {code} (see {worker.log.name})")
                    if replace:
                        self.start()
            elif (worker.fate in ("SIGTERM", "stopped at end") and worker.signalled_at is not None
                  and now - worker.signalled_at > self.settings.grace + STOP_SLACK):
                worker.stuck = True
                self.note(f"worker {worker.seq} pid {worker.pid} still running "
                          f"{now - worker.signalled_at:.1f}s after SIGTERM: SIGKILL")
                self._kill(worker)

    def stop_all(self) -> None:
        """SIGTERM every worker still running and wait for them (SIGKILL past the slack)."""
        for worker in self.live():
            worker.fate, worker.signalled_at = "stopped at end", self.clock()
            worker.process.send_signal(signal.SIGTERM)
        self.note("SIGTERM every worker: the run is over")
        deadline = time.monotonic() + self.settings.grace + STOP_SLACK + KILL_WAIT + 1
        while any(w.ended_at is None for w in self.all) and time.monotonic() < deadline:
            self.poll(replace=False)
            time.sleep(POLL)
        self.kill_all()

    def kill_all(self) -> None:
        """SIGKILL whatever is still alive and close every pipe (never raises)."""
        for worker in self.all:
            if worker.ended_at is None:
                if worker.fate == "running":
                    worker.fate = "killed at exit"
                with contextlib.suppress(OSError):
                    self._kill(worker)
            if worker.process.stdin is not None and not worker.process.stdin.closed:
                with contextlib.suppress(OSError):
                    worker.process.stdin.close()

    def by_pid(self) -> dict[int, WorkerProcess]:
        """Every worker of the run by its process id."""
        return {w.pid: w for w in self.all}

    def note(self, text: str) -> None:
        """Write one line to ``chaos.log``, stamped with the run's clock."""
        self.journal.write(f"{self.clock():9.3f} {text}\n")
        self.journal.flush()

    def _kill(self, worker: WorkerProcess) -> None:
        worker.process.send_signal(signal.SIGKILL)
        try:
            code = worker.process.wait(timeout=KILL_WAIT)
        except subprocess.TimeoutExpired:
            self.note(f"worker {worker.seq} pid {worker.pid} survived SIGKILL for {KILL_WAIT:g}s")
            return
        self._ended(worker, code)

    def _ended(self, worker: WorkerProcess, code: int) -> None:
        worker.exit_code, worker.ended_at = code, self.clock()
        if worker.process.stdin is not None:
            with contextlib.suppress(OSError):
                worker.process.stdin.close()


class Clock:
    """Seconds since the run began (``wall`` is when that was, in epoch seconds)."""

    def __init__(self) -> None:
        self.origin = time.monotonic()
        self.wall = time.time()

    def __call__(self) -> float:
        return time.monotonic() - self.origin


# -- driving the run --------------------------------------------------------------------------


@dataclass
class Drive:
    """What happened while the workers ran."""

    elapsed: float = 0.0
    all_final: bool = False
    timed_out: bool = False
    pg_restarts: list[dict[str, float]] = field(default_factory=list)


def tally(app: App) -> Counter[Status] | None:
    """Jobs by status, or ``None`` while the store does not answer."""
    try:
        counts: Counter[Status] = Counter()
        for (_, status), n in app.counts().items():
            counts[status] += n
        return counts
    except StoreError:
        return None


def drive(name: str, app: App, fleet: Fleet, cluster: ThrowawayCluster | None, total: int,
          settings: Settings, rng: random.Random, clock: Clock) -> Drive:
    """Run the workers under chaos until every job is final (or the time is up)."""
    outcome = Drive()
    for _ in range(settings.workers):
        fleet.start()
    marks = [(i + 1) / (settings.pg_restarts + 1) for i in range(settings.pg_restarts)]
    if cluster is None:
        marks = []
    next_chaos = clock() + rng.uniform(settings.kill_min, settings.kill_max)
    settle_until: float | None = None
    counts: Counter[Status] = Counter()
    next_count = next_progress = 0.0
    while True:
        now = clock()
        fleet.poll(replace=True)
        if now >= next_count:
            fresh = tally(app)
            if fresh is not None:
                counts = fresh
            next_count = now + COUNT_EVERY
            if sum(counts[s] for s in Status if s.is_final) >= total:
                outcome.all_final = True
                break
        final = sum(counts[s] for s in Status if s.is_final)
        chaos = now < settings.timeout
        if chaos and now >= next_chaos:
            live = fleet.live()
            if live:
                victim = rng.choice(live)
                if rng.random() < settings.sigterm_share:
                    fleet.sigterm(victim)
                else:
                    fleet.sigkill(victim)
            fleet.start()
            next_chaos = now + rng.uniform(settings.kill_min, settings.kill_max)
        if chaos and cluster is not None and marks and final >= marks[0] * total:
            marks.pop(0)
            fleet.note(f"restart PostgreSQL (-m immediate) at {final}/{total} final")
            took = cluster.restart()
            fleet.note(f"PostgreSQL is back after {took:.2f}s")
            outcome.pg_restarts.append({"at": round(now, 3), "final": final,
                                        "seconds": round(took, 3)})
            print(f"[{name} {now:6.1f}s] PostgreSQL restarted (-m immediate) in {took:.2f}s",
                  flush=True)
        if not chaos:
            if settle_until is None:
                settle_until = now + settings.settle
                outcome.timed_out = True
                fleet.note("timeout: no more kills; the workers get the settle time")
                print(f"[{name} {now:6.1f}s] timeout: chaos stopped, {settings.settle:g}s for "
                      "the workers to finish", flush=True)
            elif now >= settle_until:
                break
        if now >= next_progress:
            print(progress_line(name, now, counts, total, fleet, outcome), flush=True)
            next_progress = now + settings.progress
        time.sleep(POLL)
    outcome.elapsed = clock()
    print(progress_line(name, outcome.elapsed, counts, total, fleet, outcome), flush=True)
    return outcome


def progress_line(name: str, now: float, counts: Counter[Status], total: int, fleet: Fleet,
                  outcome: Drive) -> str:
    final = sum(counts[s] for s in Status if s.is_final)
    waiting = counts[Status.QUEUED] + counts[Status.RETRYING]
    return (f"[{name} {now:6.1f}s] final {final:,}/{total:,} (succeeded "
            f"{counts[Status.SUCCEEDED]:,}, dead {counts[Status.DEAD]:,}) running "
            f"{counts[Status.RUNNING]:,} waiting {waiting:,} | SIGKILL {fleet.sigkills} "
            f"SIGTERM {fleet.sigterms} PG restarts {len(outcome.pg_restarts)} | "
            f"workers {len(fleet.live())}")


# -- checking -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerLine:
    """One performed effect, as the outside world saw it."""

    key: str
    job_id: int
    attempt: int
    pid: int
    at: float  # epoch seconds


def read_ledger(path: Path) -> tuple[list[LedgerLine], list[str]]:
    """The ledger's lines, and the lines that could not be read."""
    lines: list[LedgerLine] = []
    bad: list[str] = []
    if not path.exists():
        return lines, bad
    for text in path.read_text(errors="replace").splitlines():
        parts = text.split()
        try:
            key, job_id, attempt, pid, at = parts
            lines.append(LedgerLine(key, int(job_id), int(attempt), int(pid), float(at)))
        except ValueError:
            bad.append(text)
    return lines, bad


@dataclass
class Check:
    """One promise checked: the items that broke it (empty: it held)."""

    name: str
    failures: list[Any] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def collect(app: App, ids: Sequence[int]) -> tuple[dict[int, JobRecord | None],
                                                   dict[int, list[EffectRecord]]]:
    """Every job's record (with its path) and effects; ``None`` for a job not found."""
    records: dict[int, JobRecord | None] = {}
    effects: dict[int, list[EffectRecord]] = {}
    for job_id in ids:
        try:
            records[job_id] = app.get(job_id)
            effects[job_id] = app.effects(job_id)
        except JobNotFound:
            records[job_id] = None
            effects[job_id] = []
    return records, effects


def check_run(specs: dict[int, JobSpec], records: dict[int, JobRecord | None],
              effects: dict[int, list[EffectRecord]], ledger: list[LedgerLine],
              unreadable: list[str], fleet: Fleet) -> tuple[list[Check], dict[str, Any]]:
    """Every check of the run, and the counts the report shows."""
    owner = {key: job_id for job_id, spec in specs.items() for key in spec.effect_keys()}
    performed = Counter(line.key for line in ledger)

    lost = Check("no job lost (every job final: succeeded or dead-lettered)")
    twice = Check("no effect key performed twice")
    foreign = Check("every key in the ledger belongs to an enqueued job, written by that job")
    succeeded = Check("every succeeded job performed each of its effect keys exactly once "
                      "and returned its result")
    agree = Check("the store and the ledger agree: a key done is in the ledger, a key in the "
                  "ledger had its intent recorded, an effect_uncertain job has a started effect")
    stops = Check("every SIGTERMed worker stopped within grace + "
                  f"{STOP_SLACK:g}s with status 0 and no worker exited by itself")

    for job_id in specs:
        record = records[job_id]
        if record is None:
            lost.failures.append({"job": job_id, "why": "missing from the store"})
        elif not record.is_final:
            lost.failures.append({"job": job_id, "why": f"still {record.status.value}",
                                  "attempts": record.attempts})
    workers = fleet.by_pid()
    for key, n in sorted(performed.items()):
        if n > 1:
            holder = owner.get(key)
            held = records.get(holder) if holder is not None else None
            twice.failures.append(duplicate(key, holder, held, ledger, workers, fleet.clock))
    for line in ledger:
        if owner.get(line.key) != line.job_id:
            foreign.failures.append({"line": asdict(line), "owner": owner.get(line.key)})
    foreign.failures.extend({"unreadable": text} for text in unreadable)
    for job_id, spec in specs.items():
        record = records[job_id]
        if record is None or record.status is not Status.SUCCEEDED:
            continue
        wrong = {key: performed[key] for key in spec.effect_keys() if performed[key] != 1}
        if wrong:
            succeeded.failures.append({"job": job_id, "performed": wrong})
        if record.result != chaos_jobs.expected_result(spec.n):
            succeeded.failures.append({"job": job_id, "result": record.result,
                                       "expected": chaos_jobs.expected_result(spec.n)})
    for job_id, spec in specs.items():
        recorded = {effect.key: effect for effect in effects[job_id]}
        for key in spec.effect_keys():
            effect = recorded.get(key)
            if effect is not None and effect.status == "done" and performed[key] == 0:
                agree.failures.append({"job": job_id, "key": key,
                                       "why": "recorded done, absent from the ledger"})
            if effect is None and performed[key] > 0:
                agree.failures.append({"job": job_id, "key": key,
                                       "why": "in the ledger, but no intent was recorded"})
        record = records[job_id]
        if (record is not None and record.outcome == "effect_uncertain"
                and not any(e.status == "started" for e in effects[job_id])):
            agree.failures.append({"job": job_id, "why": "effect_uncertain with no started effect"})
    for worker in fleet.all:
        if worker.stuck:
            stops.failures.append({"worker": worker.seq, "pid": worker.pid,
                                   "why": "did not stop after SIGTERM", "log": str(worker.log)})
        if worker.fate == "exited by itself":
            stops.failures.append({"worker": worker.seq, "pid": worker.pid,
                                   "why": f"exited by itself with status {worker.exit_code}",
                                   "log": str(worker.log)})
        elif (worker.fate in ("SIGTERM", "stopped at end") and not worker.stuck
              and worker.exit_code not in (0, None) and not early_term(worker)):
            stops.failures.append({"worker": worker.seq, "pid": worker.pid,
                                   "why": f"exited with status {worker.exit_code} after SIGTERM",
                                   "log": str(worker.log)})

    # What the ledger says of the effects jobtrail could not know about.
    uncertain: Counter[str] = Counter()
    for job_id in specs:
        record = records[job_id]
        if record is not None and record.outcome == "effect_uncertain":
            for effect in effects[job_id]:
                if effect.status == "started":
                    uncertain["happened" if performed[effect.key] else "had not happened"] += 1
    present = [r for r in records.values() if r is not None]
    statuses = Counter(r.status.value for r in present)
    dead_by = Counter(f"{r.outcome or '-'} / {r.error.type if r.error else '-'}"
                      for r in present if r.status is Status.DEAD)
    lifecycle = Counter(e.name for r in present for e in r.path if e.kind == "lifecycle")
    figures = {
        "statuses": dict(statuses),
        "succeeded": statuses.get(Status.SUCCEEDED.value, 0),
        "dead": statuses.get(Status.DEAD.value, 0),
        "dead_by": dict(dead_by.most_common()),
        "lost": len(lost.failures),
        "duplicate_keys": len(twice.failures),
        "duplicate_keys_of_released_jobs": sum(1 for f in twice.failures if f["released"]),
        "duplicate_calls_after_release": sum(
            1 for f in twice.failures for call in f["calls"] if call["after_release"]),
        "attempts": sum(r.attempts for r in present),
        "jobs_run_more_than_once": sum(1 for r in present if r.attempts > 1),
        "lifecycle_events": dict(lifecycle.most_common()),
        "uncertain_effects": dict(uncertain),
        "ledger_lines": len(ledger),
        "ledger_keys": len(performed),
    }
    return [lost, twice, foreign, succeeded, agree, stops], figures


def early_term(worker: WorkerProcess) -> bool:
    """True when a SIGTERM ended the worker before its loop began: Python's default
    action, before jobtrail installs its handler — nothing was claimed yet."""
    if worker.exit_code != -signal.SIGTERM:
        return False
    try:
        return " started (queues" not in worker.log.read_text(errors="replace")
    except OSError:
        return False


def duplicate(key: str, job_id: int | None, record: JobRecord | None,
              ledger: list[LedgerLine], workers: dict[int, WorkerProcess],
              clock: Clock) -> dict[str, Any]:
    """A key performed more than once, with each call: when (seconds since the run
    began), by which attempt and worker, what became of that worker, and whether the call
    came after the job was released by a graceful stop of the worker that made it (the
    attempt went on running after its release)."""
    releases = [] if record is None else [
        e.at.timestamp() for e in record.path if e.kind == "lifecycle" and e.name == "released"]
    calls = []
    for line in sorted((x for x in ledger if x.key == key), key=lambda x: x.at):
        worker = workers.get(line.pid)
        stopping = (worker is not None and worker.fate == "SIGTERM"
                    and worker.signalled_at is not None
                    and line.at - clock.wall >= worker.signalled_at)
        calls.append({
            "run_s": round(line.at - clock.wall, 3), "attempt": line.attempt, "pid": line.pid,
            "worker": None if worker is None else worker.seq,
            "worker_fate": None if worker is None else worker.fate,
            "after_release": stopping and any(at <= line.at for at in releases),
        })
    return {"key": key, "job": job_id, "times": len(calls), "released": bool(releases),
            "calls": calls}


def evidence(specs: dict[int, JobSpec], records: dict[int, JobRecord | None],
             effects: dict[int, list[EffectRecord]], ledger: list[LedgerLine],
             checks: list[Check], fleet: Fleet) -> dict[str, Any]:
    """Everything needed to look into the failed checks: for each job involved, its record,
    path, effects, ledger lines, and the workers that wrote them with what became of them."""
    workers = fleet.by_pid()
    involved: set[int] = set()
    for check in checks:
        for item in check.failures:
            if isinstance(item, dict):
                job = item.get("job") or (item.get("line") or {}).get("job_id")
                if isinstance(job, int):
                    involved.add(job)
    jobs: dict[str, Any] = {}
    for job_id in sorted(involved):
        record = records.get(job_id)
        keys = set(specs[job_id].effect_keys()) if job_id in specs else set()
        jobs[str(job_id)] = {
            "args": asdict(specs[job_id]) if job_id in specs else None,
            "status": None if record is None else record.status.value,
            "outcome": None if record is None else record.outcome,
            "attempts": None if record is None else record.attempts,
            "error": None if record is None or record.error is None else str(record.error),
            "path": [] if record is None else [render_event(e, fleet.clock.wall)
                                               for e in record.path],
            "effects": [{"key": e.key, "attempt": e.attempt, "status": e.status,
                         "started_at": e.started_at.isoformat(),
                         "finished_at": e.finished_at.isoformat() if e.finished_at else None}
                        for e in effects.get(job_id, [])],
            "ledger": [{**asdict(line), "run_s": round(line.at - fleet.clock.wall, 3),
                        "worker": _worker_of(workers, line.pid)}
                       for line in ledger if line.key in keys or line.job_id == job_id],
        }
    return {
        "checks": {c.name: c.failures for c in checks if not c.ok},
        "jobs": jobs,
    }


def _worker_of(workers: dict[int, WorkerProcess], pid: int) -> dict[str, Any] | None:
    worker = workers.get(pid)
    return None if worker is None else worker.summary()


def render_event(event: Event, origin: float) -> str:
    """One line of a job's path: seconds since the run began (as in ``chaos.log``),
    attempt, kind:name and attributes."""
    attrs = f" {json.dumps(event.attrs, sort_keys=True)}" if event.attrs else ""
    return f"{event.at.timestamp() - origin:9.3f} a{event.attempt} {event.kind}:{event.name}{attrs}"


# -- one backend ----------------------------------------------------------------------------


def run_backend(name: str, settings: Settings, rng: random.Random) -> dict[str, Any]:
    """Set up *name*, run the chaos, check, report; return the figures."""
    cluster = ThrowawayCluster(find_bindir(settings.pg_bin)) if name == "postgres" else None
    workdir = Path(tempfile.mkdtemp(prefix=f"jobtrail-chaos-{name}-"))
    fleet: Fleet | None = None
    app: App | None = None
    keep = True
    journal = (workdir / "chaos.log").open("w")
    # The run's own store connections see the restarts too: their warnings go to a file
    # next to the workers' logs, not between the progress lines.
    own_log = logging.FileHandler(workdir / "run.log")
    own_log.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logging.getLogger().addHandler(own_log)
    clock = Clock()
    try:
        if cluster is not None:
            cluster.start()
            print(f"[{name}] throwaway cluster on port {cluster.port} in {cluster.root}",
                  flush=True)
            url = cluster.url
        else:
            url = f"sqlite:///{workdir / 'chaos.db'}"
        app = chaos_jobs.make_app(url, lease=settings.lease, grace=settings.grace)
        app.upgrade()
        specs = make_specs(settings.jobs, rng)
        job = app.job_named("chaos_pay")
        ids: list[int] = []
        for start in range(0, len(specs), ENQUEUE_BATCH):
            batch = specs[start:start + ENQUEUE_BATCH]
            ids += [h.id for h in job.enqueue_many([asdict(spec) for spec in batch])]
        by_id = dict(zip(ids, specs, strict=True))
        print(f"[{name}] {len(ids):,} jobs enqueued; evidence in {workdir}", flush=True)
        clock = Clock()
        fleet = Fleet(url, workdir, settings, clock, journal)
        outcome = drive(name, app, fleet, cluster, len(ids), settings, rng, clock)
        fleet.stop_all()
        print(f"[{name}] workers stopped; checking {len(ids):,} jobs", flush=True)
        records, effects = collect(app, ids)
        ledger, unreadable = read_ledger(fleet.ledger)
        checks, figures = check_run(by_id, records, effects, ledger, unreadable, fleet)
        keep = settings.keep or not all(c.ok for c in checks)
        finished = sum(1 for r in records.values() if r is not None and r.is_final)
        figures.update({
            "backend": name,
            "jobs": len(ids),
            "elapsed_s": round(outcome.elapsed, 2),
            "final": finished,
            # Jobs that reached a final status per second, from the first worker's start.
            "jobs_per_s": round(finished / outcome.elapsed, 1) if outcome.elapsed else None,
            "all_final_before_timeout": outcome.all_final and not outcome.timed_out,
            "sigkills": fleet.sigkills,
            "sigterms": fleet.sigterms,
            "sigterms_before_start": sum(1 for w in fleet.all if early_term(w)),
            "workers_started": len(fleet.all),
            "pg_restarts": outcome.pg_restarts,
            "checks": {c.name: {"ok": c.ok, "failures": len(c.failures)} for c in checks},
            "ok": all(c.ok for c in checks),
            "evidence": str(workdir) if keep else None,
        })
        (workdir / "workers.json").write_text(
            json.dumps([w.summary() for w in fleet.all], indent=1))
        if not figures["ok"]:
            (workdir / "findings.json").write_text(json.dumps(
                evidence(by_id, records, effects, ledger, checks, fleet), indent=1))
        report(name, figures, checks, settings)
        return figures
    finally:
        if fleet is not None:
            fleet.kill_all()
        if app is not None:
            app.close()
        if cluster is not None:
            cluster.save_log(workdir / "postgres.log")
            cluster.remove()
        journal.close()
        logging.getLogger().removeHandler(own_log)
        own_log.close()
        if keep:
            print(f"[{name}] evidence kept in {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def report(name: str, figures: dict[str, Any], checks: list[Check], settings: Settings) -> None:
    restarts = figures["pg_restarts"]
    dead_by = "; ".join(f"{kind}: {n:,}" for kind, n in figures["dead_by"].items()) or "none"
    life = figures["lifecycle_events"]
    print(f"\n== {name}: {figures['jobs']:,} jobs, {settings.workers} workers x "
          f"{settings.concurrency} threads, lease {settings.lease:g}s, grace {settings.grace:g}s")
    print(f"  elapsed {figures['elapsed_s']:.1f}s, {figures['jobs_per_s']:,.1f} jobs/s; "
          f"SIGKILL {figures['sigkills']}, SIGTERM {figures['sigterms']} "
          f"({figures['sigterms_before_start']} before the worker started), workers started "
          f"{figures['workers_started']}, PostgreSQL restarts {len(restarts)}"
          + (f" ({', '.join(_seconds(r) for r in restarts)})" if restarts else ""))
    print(f"  succeeded {figures['succeeded']:,}; dead {figures['dead']:,} ({dead_by}); "
          f"lost {figures['lost']:,}; other {_others(figures['statuses'])}")
    print(f"  attempts {figures['attempts']:,} ({figures['jobs_run_more_than_once']:,} jobs ran "
          f"more than once); lease expiries {life.get('lease_expired', 0):,}, releases "
          f"{life.get('released', 0):,}, retries scheduled {life.get('retry_scheduled', 0):,}")
    happened = figures["uncertain_effects"]
    if happened:
        print(f"  effects left uncertain: {happened.get('happened', 0):,} had happened, "
              f"{happened.get('had not happened', 0):,} had not (from the ledger)")
    print(f"  ledger {figures['ledger_lines']:,} lines, {figures['ledger_keys']:,} keys; keys "
          f"performed more than once: {figures['duplicate_keys']:,}")
    if figures["duplicate_keys"]:
        print(f"    of which {figures['duplicate_keys_of_released_jobs']:,} belong to jobs a "
              "graceful stop released; calls made by a released attempt after its release: "
              f"{figures['duplicate_calls_after_release']:,}")
    for check in checks:
        mark = "ok    " if check.ok else "BROKEN"
        print(f"  {mark} {check.name}" + ("" if check.ok else f": {len(check.failures)}"))
        for item in check.failures[:EXAMPLES]:
            print(f"           {_example(item)}")
        if len(check.failures) > EXAMPLES:
            print(f"           ... {len(check.failures) - EXAMPLES} more in findings.json")


def _example(item: Any) -> str:
    """One failure on one line; a key performed twice as its calls, in order."""
    if isinstance(item, dict) and "calls" in item:
        calls = ", ".join(
            f"attempt {c['attempt']} by worker {c['worker']} ({c['worker_fate']}) at "
            f"{c['run_s']:.1f}s" + (" after its release" if c["after_release"] else "")
            for c in item["calls"])
        released = "; the job was released by a graceful stop" if item["released"] else ""
        return f"{item['key']} (job {item['job']}) {item['times']} times: {calls}{released}"
    return json.dumps(item, sort_keys=True)


def _seconds(restart: dict[str, float]) -> str:
    return f"{restart['seconds']:.1f}s"


def _others(statuses: dict[str, int]) -> str:
    rest = {k: v for k, v in statuses.items() if k not in ("succeeded", "dead")}
    return ", ".join(f"{k} {v:,}" for k, v in sorted(rest.items())) or "none"


# -- the command ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> tuple[Settings, list[str], str | None]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
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


def commit() -> str | None:
    """The checkout's commit (with ``-dirty`` when files changed), or ``None``."""
    try:
        out = subprocess.run(["git", "-C", str(HERE), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


@dataclass
class Signals:
    """SIGTERM and SIGHUP raise `Interrupted` while installed."""

    previous: dict[int, Any] = field(default_factory=dict)

    def __enter__(self) -> Signals:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self.previous[sig] = signal.signal(sig, self._raise)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    @staticmethod
    def _raise(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    settings, backends, json_path = parse_args(argv)
    command = "python benchmarks/chaos.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"chaos run: {', '.join(backends)}; {settings.jobs:,} jobs each; seed "
          f"{settings.seed}; commit {commit() or 'unknown'}", flush=True)
    results: dict[str, Any] = {}
    status = EXIT_OK
    with Signals():
        for index, name in enumerate(backends):
            rng = random.Random(settings.seed * 10 + index)
            try:
                results[name] = run_backend(name, settings, rng)
            except ClusterError as exc:
                print(f"[{name}] throwaway PostgreSQL cluster: {exc}",
                      file=sys.stderr, flush=True)
                results[name] = {"backend": name, "ok": False, "setup_error": str(exc)}
                status = EXIT_SETUP
                continue
            except (JobtrailError, OSError) as exc:
                print(f"[{name}] failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                results[name] = {"backend": name, "ok": False, "error": str(exc)}
                status = EXIT_BROKEN
                continue
            except (KeyboardInterrupt, Interrupted) as exc:
                why = "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else str(exc)
                print(f"[{name}] interrupted ({why}): workers stopped, throwaway cluster "
                      "removed", file=sys.stderr, flush=True)
                return EXIT_INTERRUPTED
            if not results[name]["ok"] and status == EXIT_OK:
                status = EXIT_BROKEN
    if json_path:
        Path(json_path).write_text(json.dumps({
            "command": command, "commit": commit(),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "platform": platform.platform(),
                        "cpus": os.cpu_count()},
            "settings": asdict(settings), "backends": results,
        }, indent=1) + "\n")
    failed = [name for name, figures in results.items() if "checks" not in figures]
    broken = [name for name, figures in results.items()
              if "checks" in figures and not figures["ok"]]
    verdict = [f"BROKEN on {', '.join(broken)}"] if broken else []
    verdict += [f"could not run on {', '.join(failed)}"] if failed else []
    print(f"\n{'; '.join(verdict) or 'every check held'} — {command}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
