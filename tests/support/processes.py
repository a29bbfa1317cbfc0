"""Start and stop real worker processes for the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start_worker(url: str, log: Path, *args: str, lease: float = 1.0,
                 app: str = "tests.support.workload:app",
                 env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``jobtrail worker APP`` (the test workload by default) as a separate process,
    with *env* added to its environment."""
    env = {**os.environ, "JOBTRAIL_URL": url, "WORKLOAD_LOG": str(log),
           "WORKLOAD_LEDGER": str(log.parent / "ledger.txt"),
           "WORKLOAD_LEASE": str(lease), "PYTHONPATH": str(ROOT), **(env or {})}
    errors = log.parent / f"worker-{uuid.uuid4().hex[:8]}.err"
    with errors.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "jobtrail", "worker", app, *args],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=sink,
        )


def worker_errors(log: Path) -> str:
    """Everything the workers started next to *log* wrote on stderr."""
    return "\n".join(path.read_text() for path in sorted(log.parent.glob("worker-*.err")))


def runs_by_job(log: Path) -> dict[int, list[tuple[str, int]]]:
    """Each job's (start|end, pid) lines, in the order they were written."""
    found: dict[int, list[tuple[str, int]]] = {}
    if not log.exists():
        return found
    for line in log.read_text().splitlines():
        kind, job_id, pid = line.split()
        found.setdefault(int(job_id), []).append((kind, int(pid)))
    return found


def children_of(pid: int) -> set[int]:
    """The process ids of *pid*'s children (a supervised worker's worker processes)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.update(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def kill_worker(proc: subprocess.Popen[bytes]) -> set[int]:
    """SIGKILL a ``jobtrail worker`` command and return the ids of every process that died
    with it: the supervisor and the worker processes it ran (the kernel kills those when
    their supervisor dies)."""
    pids = {proc.pid, *children_of(proc.pid)}
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() and _alive(pid) for pid in pids - {proc.pid}):
        assert time.monotonic() < deadline, f"worker processes {pids} outlived their supervisor"
        time.sleep(0.01)
    return pids


def _alive(pid: int) -> bool:
    """False for a process that is gone or only a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def stop_workers(processes: list[subprocess.Popen[bytes]], log: Path) -> None:
    """SIGTERM every worker still running, and check each stops cleanly within 20 s (one
    that does not is killed, and the test fails with what the workers wrote)."""
    for proc in processes:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in processes:
        try:
            assert proc.wait(20) == 0, worker_errors(log)
        except subprocess.TimeoutExpired:
            kill_worker(proc)
            raise


def append_line(line: str, variable: str = "WORKLOAD_LOG") -> None:
    """Append *line* to the file named by the environment *variable*: one write of a short
    line with O_APPEND, so lines of several processes never interleave."""
    fd = os.open(os.environ[variable], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)
