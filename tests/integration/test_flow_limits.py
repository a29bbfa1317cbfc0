"""Concurrency and rate limits hold across worker processes, a dead worker's slot frees
itself with its lease, paused queues are left alone, and jobs held back spend no attempt
(both backends)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from jobtrail import App, Status
from jobtrail.testing import run_until_idle
from tests.support import limited as support
from tests.support.processes import kill_worker, start_worker, stop_workers, worker_errors

LIMITED = "tests.support.limited:app"


def lines(log: Path) -> list[tuple[str, int, str, int, float]]:
    """(start|end, job id, key, pid, time) in the order they were written."""
    if not log.exists():
        return []
    found = []
    for line in log.read_text().splitlines():
        kind, job_id, key, pid, at = line.split()
        found.append((kind, int(job_id), key, int(pid), float(at)))
    return found


def most_at_once(log: Path, key: str | None = None) -> int:
    """The most runs open at one time (of *key* only, when given)."""
    running = most = 0
    for kind, _, k, _, _ in lines(log):
        if key is not None and k != key:
            continue
        running += 1 if kind == "start" else -1
        most = max(most, running)
    return most


def wait_final(app: App, ids: list[int], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not all(app.get(i).is_final for i in ids):
        assert time.monotonic() < deadline, worker_errors(log)
        time.sleep(0.1)


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    """An app on the test database knowing the limited job types."""
    app = make_app()
    for job in support.app.registry.values():
        app.job(name=job.name, queue=job.queue, concurrency_limit=job.limits.concurrency_limit,
                concurrency_key=job.limits.concurrency_key)(job.fn)
    app.queues.update(support.app.queues)
    return app


def test_a_limit_of_two_never_sees_three_running_across_three_processes(
        app: App, db_url: str, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    ids = [h.id for h in app.job_named("limited").enqueue_many(
        [{"n": i, "sleep": 0.15} for i in range(12)])]
    workers = [start_worker(db_url, log, "--concurrency", "4", app=LIMITED) for _ in range(3)]
    try:
        wait_final(app, ids, 60, log)
    finally:
        stop_workers(workers, log)
    assert all(app.get(i).status is Status.SUCCEEDED and app.get(i).attempts == 1 for i in ids)
    assert most_at_once(log) == 2, lines(log)


def test_a_queue_limit_and_a_per_key_limit_hold_in_one_worker(app: App, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """A queue of limit 3 runs three at once, not eight; a key of limit 1 runs alone while
    other keys run beside it."""
    log = tmp_path / "runs.log"
    monkeypatch.setenv("WORKLOAD_LOG", str(log))
    app.job_named("queued").enqueue_many([{"n": i} for i in range(9)])
    run_until_idle(app, concurrency=8)
    assert most_at_once(log) == 3
    log.unlink()
    app.job_named("per_tenant").enqueue_many(
        [{"tenant": tenant, "n": i} for i in range(4) for tenant in ("acme", "bolt", "cyan")])
    run_until_idle(app, concurrency=8)
    assert [most_at_once(log, tenant) for tenant in ("acme", "bolt", "cyan")] == [1, 1, 1]
    assert most_at_once(log) == 3  # the tenants ran beside each other


def test_the_slot_of_a_killed_worker_frees_itself_when_its_lease_runs_out(
        app: App, db_url: str, tmp_path: Path) -> None:
    """Limit 2, both slots held by a worker that is SIGKILLed: another worker waits for the
    leases to run out (1 s), then runs the jobs, the killed ones again too."""
    log = tmp_path / "runs.log"
    ids = [h.id for h in app.job_named("limited").enqueue_many(
        [{"n": 0, "sleep": 30.0}, {"n": 1, "sleep": 30.0}, {"n": 2, "sleep": 0.1}])]
    first = start_worker(db_url, log, app=LIMITED)
    try:
        deadline = time.monotonic() + 30
        while len([line for line in lines(log) if line[0] == "start"]) < 2:
            assert time.monotonic() < deadline, worker_errors(log)
            time.sleep(0.05)
        assert app.get(ids[2]).status is Status.QUEUED and app.get(ids[2]).attempts == 0
    finally:
        kill_worker(first)
    killed_at = time.monotonic()
    second = start_worker(db_url, log, app=LIMITED)
    try:
        deadline = time.monotonic() + 30
        while app.get(ids[2]).status is not Status.SUCCEEDED:
            assert time.monotonic() < deadline, worker_errors(log)
            time.sleep(0.05)
        assert time.monotonic() - killed_at >= 0.5  # not before the leases ran out
    finally:
        stop_workers([second], log)


def test_a_rate_limit_spaces_the_starts_and_spends_no_attempt(make_app: Callable[..., App]
                                                               ) -> None:
    """rate_limit="10/s" (bursts of ten): 25 jobs take about 1.5 s; no second holds more
    than twenty starts; each job ran once, on its first attempt."""
    app = make_app()
    starts: list[float] = []

    @app.job(rate_limit="10/s")
    def ping(n: int) -> int:
        starts.append(time.monotonic())
        return n

    handles = ping.enqueue_many([{"n": i} for i in range(25)])
    began = time.monotonic()
    run_until_idle(app, concurrency=8)
    took = time.monotonic() - began
    assert len(starts) == 25 and took >= 1.3
    assert max(sum(1 for s in starts if t <= s < t + 1.0) for t in starts) <= 20
    assert all(app.get(h.id).attempts == 1 for h in handles)


def test_a_paused_queue_is_claimed_by_no_worker(make_app: Callable[..., App]) -> None:
    app = make_app()
    app.queue("frozen", paused=True)

    @app.job(queue="frozen")
    def held() -> None: ...

    @app.job
    def free() -> None: ...

    waiting, done = held.enqueue(), free.enqueue()
    run_until_idle(app)
    assert app.get(done.id).status is Status.SUCCEEDED
    assert (app.get(waiting.id).status, app.get(waiting.id).attempts) == (Status.QUEUED, 0)
    app.queue("frozen")  # resumed
    run_until_idle(app)
    assert app.get(waiting.id).status is Status.SUCCEEDED


def test_a_slot_freed_is_taken_at_once_while_other_jobs_run(make_app: Callable[..., App]
                                                           ) -> None:
    """Limit 2 in a worker of 4 slots: when the short job ends, the next one starts then,
    not once the long one beside it has ended too."""
    app = make_app()
    spans: dict[int, tuple[float, float]] = {}

    @app.job(concurrency_limit=2)
    def timed(n: int, seconds: float) -> None:
        began = time.monotonic()
        time.sleep(seconds)
        spans[n] = (began, time.monotonic())

    timed.enqueue_many([{"n": 0, "seconds": 0.2}, {"n": 1, "seconds": 1.5},
                        {"n": 2, "seconds": 0.1}])
    run_until_idle(app, concurrency=4)
    assert spans[2][0] - spans[0][1] < 0.6 and spans[2][0] < spans[1][1], spans
