"""Periodic jobs: each tick fires once however many schedulers run, restarts bring no burst
of old ticks unless asked, and a scheduler never holds a worker back (both backends)."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import pytest

from jobtrail import App
from jobtrail.records import Event
from jobtrail.scheduler import Scheduler, tick_attrs
from jobtrail.store.base import NewJob
from tests.support.processes import kill_worker, start_worker, stop_workers, worker_errors

PERIODIC = "tests.support.periodic:app"


def scheduled(app: App, job_id: int) -> Event:
    """The ``scheduled`` event of a fired job."""
    [event] = [e for e in app.events(job_id) if e.name == "scheduled"]
    return event


def new_job(name: str) -> NewJob:
    return NewJob(job_name=name, queue="default", payload="{}", max_attempts=3)


def test_the_store_fires_a_tick_once_and_never_an_earlier_one(make_app: Callable[..., App]) -> None:
    """Firing a tick again, or one before it, enqueues nothing; a later one enqueues, and
    the job records its tick after its enqueued event."""
    app = make_app()

    @app.job(every=60)
    def report() -> None: ...

    assert report.schedule is not None
    store = app.store
    attrs = tick_attrs(report.schedule, 1_800_000_000.0)
    first = store.fire("report", 1_800_000_000.0, new_job("report"), attrs)
    assert first is not None
    assert store.fire("report", 1_800_000_000.0, new_job("report"), attrs) is None
    assert store.fire("report", 1_799_999_940.0, new_job("report"), attrs) is None
    later = store.fire("report", 1_800_000_060.0, new_job("report"), attrs)
    assert later is not None and later != first
    fired = store.schedules()["report"]
    assert (fired.last_tick, fired.job_id) == (1_800_000_060.0, later)
    names = [e.name for e in app.events(first)]
    assert names == ["enqueued", "scheduled"]
    assert scheduled(app, first).attrs == {"tick": "2027-01-15T08:00:00+00:00",
                                           "schedule": "every 60 s"}
    assert [j.id for j in app.jobs(job_name="report")] == [later, first]


def test_schedulers_racing_for_one_tick_enqueue_it_once(make_app: Callable[..., App]) -> None:
    """Eight threads fire the same tick at the same moment: one job."""
    app = make_app()
    barrier = threading.Barrier(8)
    results: list[int | None] = []

    def fire() -> None:
        barrier.wait()
        results.append(app.store.fire("race", 1_800_000_000.0, new_job("race"), {}))

    threads = [threading.Thread(target=fire) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and sum(r is not None for r in results) == 1
    assert len(app.jobs(job_name="race")) == 1


def test_a_restart_skips_missed_ticks_unless_the_job_catches_up(make_app: Callable[..., App]) -> None:
    """Both jobs last fired ten minutes ago: the one without catch_up fires nothing until its
    next tick; the one with catch_up=3 fires its three latest missed ticks at once, in order."""
    app = make_app()

    @app.job(every=60)
    def plain() -> None: ...

    @app.job(every=60, catch_up=3)
    def catching() -> None: ...

    assert plain.schedule is not None and catching.schedule is not None
    now = time.time()
    long_ago = plain.schedule.latest_at(now) - 600
    for job in (plain, catching):
        assert app.store.fire(job.name, long_ago, new_job(job.name), {}) is not None
    scheduler = Scheduler(app)
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while len(app.jobs(job_name="catching")) < 4:
            assert time.monotonic() < deadline, "catch-up ticks were not fired"
            time.sleep(0.02)
        time.sleep(0.2)  # nothing more comes
    finally:
        scheduler.stop()
    caught = sorted(app.jobs(job_name="catching"), key=lambda j: j.id)[1:]
    ticks = [scheduled(app, job.id).attrs["tick"] for job in caught]
    latest = catching.schedule.latest_at(now)
    assert ticks == [tick_attrs(catching.schedule, latest - 60 * k)["tick"] for k in (2, 1, 0)]
    assert len(app.jobs(job_name="plain")) == 1  # only the tick fired before the restart
    assert app.store.schedules()["catching"].last_tick == latest


def test_a_scheduler_fires_ticks_as_they_come_and_stops_at_once(make_app: Callable[..., App]) -> None:
    """every=0.2: a scheduler running about a second fires consecutive ticks, one job each."""
    app = make_app()

    @app.job(every=0.2)
    def beat() -> None: ...

    scheduler = Scheduler(app)
    scheduler.start()
    time.sleep(1.1)
    started = time.monotonic()
    scheduler.stop()
    assert time.monotonic() - started < 1.0
    jobs = app.jobs(job_name="beat")
    ticks = sorted(datetime.fromisoformat(scheduled(app, j.id).attrs["tick"]).timestamp()
                   for j in jobs)
    assert 3 <= len(ticks) <= 6 and scheduler.fired == len(ticks)
    assert on_the_grid(ticks, 0.2)


def on_the_grid(ticks: list[float], every: float) -> bool:
    """Increasing multiples of *every* (a scheduler delayed past a tick by a loaded machine
    skips it: no catch-up by default), mostly consecutive."""
    steps = [(b - a) / every for a, b in pairwise(ticks)]
    return (all(step > 0.5 and abs(step - round(step)) < 1e-6 for step in steps)
            and sum(round(step) == 1 for step in steps) >= len(steps) / 2)


def run_log(log: Path) -> Counter[int]:
    """How many times each job of the periodic app ran."""
    if not log.exists():
        return Counter()
    return Counter(int(line.split()[0]) for line in log.read_text().splitlines())


def test_three_worker_processes_fire_each_tick_exactly_once(db_url: str, tmp_path: Path,
                                                           make_app: Callable[..., App]) -> None:
    """Three `jobtrail worker` processes, each with its scheduler, for about three seconds
    of a job every 0.25 s: one job per tick, consecutive ticks, each job run once."""
    app = make_app()
    log = tmp_path / "runs.log"
    workers = [start_worker(db_url, log, app=PERIODIC) for _ in range(3)]
    try:
        time.sleep(3.5)
    finally:
        stop_workers(workers, log)
    jobs = app.jobs(job_name="tick", limit=1000)
    ticks = Counter(scheduled(app, job.id).attrs["tick"] for job in jobs)
    assert len(jobs) >= 6, worker_errors(log)
    assert max(ticks.values()) == 1, ticks.most_common(3)
    moments = sorted(datetime.fromisoformat(t).timestamp() for t in ticks)
    assert on_the_grid(moments, 0.25), moments
    runs = run_log(log)
    finished = [job.id for job in jobs if job.status.is_final]
    assert finished and all(runs[job_id] == 1 for job_id in finished)


def test_a_worker_without_its_scheduler_fires_nothing(db_url: str, tmp_path: Path,
                                                      make_app: Callable[..., App]) -> None:
    """``--no-scheduler``: the worker runs jobs but enqueues no tick."""
    app = make_app()
    log = tmp_path / "runs.log"
    proc = start_worker(db_url, log, "--no-scheduler", app=PERIODIC)
    try:
        time.sleep(1.5)
        assert proc.poll() is None, worker_errors(log)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, worker_errors(log)
    assert app.jobs(job_name="tick") == []


@pytest.mark.postgres
def test_a_scheduling_worker_on_an_unreachable_database_stops_on_sigterm(tmp_path: Path) -> None:
    """The scheduler fails with the store and says so, but SIGTERM still ends the worker at once."""
    log = tmp_path / "runs.log"
    proc = start_worker("postgresql://postgres@127.0.0.1:1/nowhere", log, app=PERIODIC)
    try:
        time.sleep(2.0)
        assert proc.poll() is None, worker_errors(log)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, worker_errors(log)
        assert time.monotonic() - started < 8
    finally:
        if proc.poll() is None:
            kill_worker(proc)
    assert "periodic jobs: the store failed" in worker_errors(log)


def test_a_tick_whose_idempotency_key_is_held_enqueues_nothing_new(
        make_app: Callable[..., App]) -> None:
    """A periodic job keyed by a constant: the second tick is recorded as fired, and finds the
    first job holding the key (one job, one scheduled event)."""
    app = make_app()

    @app.job(every=60, idempotency_key=lambda: "the-report")
    def report() -> None: ...

    first = app.store.fire("report", 1_800_000_000.0, report.build((), {}), {"tick": "a"})
    second = app.store.fire("report", 1_800_000_060.0, report.build((), {}), {"tick": "b"})
    assert first is not None and second is not None
    assert second == first and second.deduplicated and not first.deduplicated
    assert app.store.schedules()["report"].last_tick == 1_800_000_060.0
    assert [e.attrs for e in app.events(first) if e.name == "scheduled"] == [{"tick": "a"}]
