"""The worker processes of a run: started, killed, stopped and replaced, with what became
of each."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import chaos_jobs

from chaosrun.clock import Clock
from chaosrun.settings import BENCHMARKS, KILL_WAIT, POLL, STOP_SLACK, Settings


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
                p for p in (str(BENCHMARKS), os.environ.get("PYTHONPATH", "")) if p),
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


def early_term(worker: WorkerProcess) -> bool:
    """True when a SIGTERM ended the worker before its loop began: Python's default
    action, before jobtrail installs its handler — nothing was claimed yet."""
    if worker.exit_code != -signal.SIGTERM:
        return False
    try:
        return " started (queues" not in worker.log.read_text(errors="replace")
    except OSError:
        return False
