"""Real worker processes sharing one store: no job lost, none run twice at once, crashes survived."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from jobtrail import App, Status
from tests.support import workload
from tests.support.processes import (
    ROOT,
    children_of,
    kill_worker,
    runs_by_job,
    start_worker,
    worker_errors,
)


def enqueue_work(app: App, count: int, max_sleep: float) -> list[int]:
    rng = random.Random(count)
    handles = app.job_named("work").enqueue_many(
        [{"n": i, "sleep": rng.uniform(0, max_sleep)} for i in range(count)]
    )
    return [h.id for h in handles]


def wait_until_final(app: App, ids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = app.counts()
        waiting = sum(n for (_, status), n in counts.items() if not status.is_final)
        if waiting == 0:
            return
        time.sleep(0.2)
    pending = [i for i in ids if not app.get(i).is_final]
    raise AssertionError(f"{len(pending)} jobs still not final, e.g. {pending[:5]}")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for proc in processes:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in processes:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def assert_never_concurrent(runs: dict[int, list[tuple[str, int]]], killed: set[int]) -> None:
    """No job started while an earlier start of it, by a process still alive, had not ended."""
    for job_id, lines in runs.items():
        open_pid: int | None = None
        for kind, pid in lines:
            if kind == "start":
                assert open_pid is None or open_pid in killed, (
                    f"job {job_id} started in {pid} while still running in {open_pid}"
                )
                open_pid = pid
            elif pid == open_pid:
                open_pid = None


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    """An app on the empty database of the backend under test, knowing the workload's job."""
    app = make_app()
    app.job(retry=workload.work.retry)(workload.work.fn)
    return app


@pytest.mark.slow
def test_several_worker_processes_run_each_job_exactly_once(app: App, db_url: str, tmp_path: Path) -> None:
    """Three worker processes drain 600 jobs: every job runs once, none is lost."""
    log = tmp_path / "runs.log"
    ids = enqueue_work(app, 600, max_sleep=0.005)
    workers = [start_worker(db_url, log, "--concurrency", "4", "--burst") for _ in range(3)]
    for proc in workers:
        assert proc.wait(120) == 0, worker_errors(log)
    runs = runs_by_job(log)
    assert sorted(runs) == ids
    assert all(lines == [("start", lines[0][1]), ("end", lines[0][1])] for lines in runs.values())
    assert all(app.get(i).status is Status.SUCCEEDED for i in ids[:50])
    assert app.counts() == {("default", Status.SUCCEEDED): 600}


@pytest.mark.slow
def test_sigkilled_workers_lose_no_job(app: App, db_url: str, tmp_path: Path) -> None:
    """Workers killed with SIGKILL at random: every job still ends succeeded or dead, never run twice at once."""
    log = tmp_path / "runs.log"
    ids = enqueue_work(app, 300, max_sleep=0.2)
    rng = random.Random(7)
    workers = [start_worker(db_url, log, "--concurrency", "4") for _ in range(3)]
    killed: set[int] = set()
    try:
        wait_for_file(log)
        for _ in range(8):
            time.sleep(rng.uniform(0.2, 0.6))
            victim = rng.choice([w for w in workers if w.poll() is None])
            killed |= kill_worker(victim)
            workers.append(start_worker(db_url, log, "--concurrency", "4"))
        wait_until_final(app, ids, timeout=90)
    finally:
        stop(workers)
    statuses = {app.get(i).status for i in ids}
    assert statuses <= {Status.SUCCEEDED, Status.DEAD}
    runs = runs_by_job(log)
    for job_id in ids:
        if app.get(job_id).status is Status.SUCCEEDED:
            assert ("end",) in [line[:1] for line in runs[job_id]], f"job {job_id} never ended"
    assert_never_concurrent(runs, killed)
    assert any(len(lines) > 2 or lines[-1][0] == "start" for lines in runs.values()), (
        "the kills should have interrupted at least one job"
    )


def wait_for_file(path: Path, timeout: float = 30) -> None:
    """Wait until a worker wrote its first line."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"no worker started within {timeout}s"
        time.sleep(0.05)


def test_sigterm_lets_the_running_job_finish(app: App, db_url: str, tmp_path: Path) -> None:
    """A worker asked to stop with SIGTERM finishes its running job and exits cleanly."""
    log = tmp_path / "runs.log"
    job_id = app.enqueue("work", n=1, sleep=1.0).id
    proc = start_worker(db_url, log, "--concurrency", "1")
    wait_for_file(log)
    (child,) = children_of(proc.pid)  # the command supervises one worker process
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert app.get(job_id).status is Status.SUCCEEDED
    assert runs_by_job(log)[job_id] == [("start", child), ("end", child)]


def test_processes_option_supervises_and_restarts_children(app: App, db_url: str, tmp_path: Path) -> None:
    """--processes forks workers; a child killed with SIGKILL is replaced and the work completes."""
    log = tmp_path / "runs.log"
    ids = enqueue_work(app, 200, max_sleep=0.02)
    proc = start_worker(db_url, log, "--processes", "2", "--concurrency", "2")
    try:
        wait_for_file(log)
        children = [int(p) for p in subprocess.check_output(["pgrep", "-P", str(proc.pid)]).split()]
        assert len(children) == 2
        os.kill(children[0], signal.SIGKILL)
        wait_until_final(app, ids, timeout=60)
    finally:
        stop([proc])
    assert {app.get(i).status for i in ids} == {Status.SUCCEEDED}


@pytest.mark.slow
def test_sigkilled_workers_never_perform_an_effect_twice(app: App, db_url: str, tmp_path: Path) -> None:
    """Jobs with two steps and a keyed effect under SIGKILL: each charge is in the ledger once,
    or its job is dead as effect_uncertain with the charge there at most once."""
    log = tmp_path / "runs.log"
    ledger = tmp_path / "ledger.txt"
    pay = app.job(retry=workload.pay.retry)(workload.pay.fn)
    rng = random.Random(11)
    ids = [h.id for h in pay.enqueue_many([{"n": i, "sleep": rng.uniform(0, 0.3)} for i in range(200)])]
    workers = [start_worker(db_url, log, "--concurrency", "4") for _ in range(3)]
    try:
        deadline = time.monotonic() + 30
        while not ledger.exists():
            assert time.monotonic() < deadline, worker_errors(log)
            time.sleep(0.05)
        for _ in range(8):
            time.sleep(rng.uniform(0.1, 0.4))
            victim = rng.choice([w for w in workers if w.poll() is None])
            kill_worker(victim)
            workers.append(start_worker(db_url, log, "--concurrency", "4"))
        wait_until_final(app, ids, timeout=90)
    finally:
        stop(workers)
    assert any(app.get(i).attempts > 1 for i in ids), "the kills should have interrupted a job"
    charged = Counter(line.split()[0] for line in ledger.read_text().splitlines())
    assert max(charged.values()) == 1, [key for key, n in charged.items() if n > 1]
    for index, job_id in enumerate(ids):
        record = app.get(job_id)
        if record.status is Status.SUCCEEDED:
            assert charged[f"charge-{index}"] == 1
            assert record.result == f"ch_{index}:{index * 100}"
        else:
            assert record.status is Status.DEAD and record.outcome == "effect_uncertain", record.error


def test_a_killed_job_resumes_after_the_step_its_heartbeat_checkpointed(
    app: App, db_url: str, tmp_path: Path
) -> None:
    """The worker is SIGKILLed long after step 1 and before the attempt ends: the heartbeat
    had written step 1, so the next attempt (another worker) returns it without running it."""
    log = tmp_path / "runs.log"
    job = app.job(retry=workload.checkpointed.retry)(workload.checkpointed.fn)
    handle = job.enqueue(n=41)
    first = start_worker(db_url, log, "--concurrency", "1", lease=1.0)
    workers = [first]
    try:
        deadline = time.monotonic() + 30
        while "waiting" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, worker_errors(log)
            time.sleep(0.05)
        time.sleep(1.0)  # heartbeats every lease / 3 seconds write the checkpoint
        kill_worker(first)
        workers.append(start_worker(db_url, log, "--concurrency", "1", lease=1.0))
        wait_until_final(app, [handle.id], timeout=60)
    finally:
        stop(workers)
    record = app.get(handle.id)
    assert record.status is Status.SUCCEEDED and record.result == 42 and record.attempts == 2
    kinds = [kind for kind, _ in runs_by_job(log)[handle.id]]
    assert kinds == ["first", "waiting"]  # step 1 ran once; attempt 2 did not wait
    steps = [(e.attempt, e.name, e.attrs.get("replayed", False))
             for e in app.events(handle.id) if e.kind == "step"]
    assert steps == [(1, "first", False), (2, "first", True), (2, "second", False)]
    # What attempt 1 recorded before it was killed is kept, in order, on the job's path.
    killed = [(e.kind, e.name, e.attrs) for e in record.path if e.attempt == 1]
    assert killed[:4] == [("lifecycle", "claimed", {}), ("step", "first", {}),
                          ("event", "first_done", {"n": 41}),
                          ("decide", "first_attempt", {"value": "true"})]


def test_a_worker_killed_right_after_an_effect_keeps_what_it_recorded_before(
    app: App, db_url: str, tmp_path: Path
) -> None:
    """The worker process is SIGKILLed right after an effect, long before any heartbeat:
    the step, the milestone and the effect recorded before are on the job's path, and its
    supervisor, ending the lease, summarises the run that died: incomplete after them."""
    log = tmp_path / "runs.log"
    job = app.job(retry=workload.announce.retry, expect="prepare effect:notify finish")(
        workload.announce.fn)
    handle = job.enqueue(n=7)
    supervisor = start_worker(db_url, log, "--concurrency", "1", lease=60.0)
    try:
        deadline = time.monotonic() + 30
        while "waiting" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, worker_errors(log)
            time.sleep(0.02)
        (child,) = children_of(supervisor.pid)
        os.kill(child, signal.SIGKILL)
        wait_until_final(app, [handle.id], timeout=30)
        deadline = time.monotonic() + 10
        while app.get(handle.id).variant is None:  # the supervisor summarises after ending it
            assert time.monotonic() < deadline, worker_errors(log)
            time.sleep(0.05)
    finally:
        stop([supervisor])
    record = app.get(handle.id)
    assert record.status is Status.DEAD and record.error is not None
    assert record.error.type == "WorkerKilled"
    recorded = [(e.kind, e.name) for e in record.path if e.kind != "lifecycle"]
    assert recorded == [("step", "prepare"), ("event", "prepared"), ("effect", "notify")]
    assert record.variant == "prepare effect:notify"
    (found,) = app.paths.divergences(job_id=handle.id)
    assert found.kind == "incomplete" and found.position == 2


ENQUEUE_AT_ONCE = """
import sys, time
from tests.support import workload
start = float(sys.argv[1])
while time.time() < start:
    pass
handles = [workload.work.enqueue(n=7, idempotency_key="same-key") for _ in range(5)]
print(" ".join(f"{h.id}:{int(h.deduplicated)}" for h in handles))
"""


def test_concurrent_enqueues_of_one_key_from_several_processes_make_one_job(
    app: App, db_url: str
) -> None:
    """Six processes enqueue one key at the same instant, five times each: one job exists,
    exactly one enqueue created it, and every other one got its id back deduplicated."""
    env = {**os.environ, "JOBTRAIL_URL": db_url, "PYTHONPATH": str(ROOT)}
    start = time.time() + 2.0  # every process is up and connected before then
    procs = [
        subprocess.Popen([sys.executable, "-c", ENQUEUE_AT_ONCE, str(start)], env=env, cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(6)
    ]
    answers = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        answers += [tuple(map(int, item.split(":"))) for item in out.decode().split()]
    assert len(answers) == 30
    assert len({job_id for job_id, _ in answers}) == 1
    assert sum(1 for _, deduplicated in answers if not deduplicated) == 1
    assert len(app.jobs()) == 1
