"""Chains and groups: the callback runs once with the results in order, under concurrent
finishes, a crash before the decision and a SIGKILLed worker; a failed member fails the
group; bad calls are refused before anything is stored (both backends)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from jobtrail import App, Context, Permanent, Retry, Status, Worker
from jobtrail.errors import ArgumentError
from jobtrail.testing import run_until_idle
from tests.support import workflow as support
from tests.support.processes import kill_worker, start_worker, worker_errors

WORKFLOW = "tests.support.workflow:app"


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    app = make_app()
    ran: list[tuple[str, object]] = []
    app.ran = ran  # type: ignore[attr-defined]

    @app.job(retry=Retry(max_attempts=1))
    def square(n: int) -> int:
        if n < 0:
            raise Permanent(f"no square of {n}")
        ran.append(("square", n))
        return n * n

    @app.job
    def total(results: list[int], label: str = "sum") -> int:
        ran.append((label, list(results)))
        return sum(results)

    @app.job
    def alert(label: str) -> None:
        ran.append(("alert", label))

    @app.job
    def step(ctx: Context, name: str) -> str:
        ran.append(("step", name))
        return name

    return app


def test_a_group_runs_its_callback_once_with_the_results_in_order(app: App) -> None:
    square, total = app.job_named("square"), app.job_named("total")
    flow = app.group([square.prepare(n=n) for n in range(6)], then=total.prepare(label="t"))
    assert flow.kind == "group" and len(flow.jobs) == 6 and flow.state().state == "waiting"
    run_until_idle(app, concurrency=8)
    assert app.ran.count(("t", [0, 1, 4, 9, 16, 25])) == 1  # type: ignore[attr-defined]
    state = flow.state()
    assert state.state == "done" and state.next_job_id is not None
    callback = app.get(state.next_job_id)
    assert callback.status is Status.SUCCEEDED and callback.result == 55
    assert {app.get(h.id).trace_id for h in flow.jobs} == {callback.trace_id}


def test_a_member_that_dies_fails_the_group_and_runs_on_failure_instead(app: App) -> None:
    square = app.job_named("square")
    flow = app.group([square.prepare(n=2), square.prepare(n=-1), square.prepare(n=3)],
                     then=app.job_named("total").prepare(), on_failure=app.job_named(
                         "alert").prepare(label="squares"))
    run_until_idle(app)
    assert flow.state().state == "failed"
    assert ("alert", "squares") in app.ran  # type: ignore[attr-defined]
    assert not any(label == "sum" for label, _ in app.ran)  # type: ignore[attr-defined]


def test_a_chain_runs_each_call_after_the_one_before_as_its_child(app: App) -> None:
    step = app.job_named("step")
    flow = app.chain(step.prepare(name="a"), step.prepare(name="b"), step.prepare(name="c"))
    assert len(flow.jobs) == 1
    run_until_idle(app)
    assert [name for kind, name in app.ran if kind == "step"] == ["a", "b", "c"]  # type: ignore[attr-defined]
    jobs = sorted(app.jobs(job_name="step"), key=lambda j: j.id)
    assert [j.result for j in jobs] == ["a", "b", "c"]
    assert [j.parent_job_id for j in jobs] == [None, jobs[0].id, jobs[1].id]
    assert len({j.trace_id for j in jobs}) == 1


def test_racing_deciders_decide_once(app: App) -> None:
    """The members done, eight threads settle the group at once: one callback."""
    square = app.job_named("square")
    flow = app.group([square.prepare(n=n) for n in range(3)],
                     then=app.job_named("total").prepare(label="race"))
    worker = Worker(app, burst=True, install_signals=False)
    worker._settle = lambda group_ids: None  # type: ignore[method-assign]  # no decision yet
    worker.reaps = False
    worker.run()
    assert flow.state().state == "waiting"
    barrier = threading.Barrier(8)
    decided: list[object] = []

    def settle() -> None:
        barrier.wait()
        decided.extend(app.store.settle_groups([flow.id]))

    threads = [threading.Thread(target=settle) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert decided == [(flow.id, "done")]
    run_until_idle(app)
    assert [r for r in app.ran if r[0] == "race"] == [("race", [0, 1, 4])]  # type: ignore[attr-defined]


def test_a_decision_lost_with_its_worker_is_taken_by_the_sweep(app: App) -> None:
    """A worker that wrote the members' outcomes but never decided (as if killed between):
    the next worker's sweep decides, once."""
    square = app.job_named("square")
    flow = app.group([square.prepare(n=n) for n in range(2)],
                     then=app.job_named("total").prepare(label="swept"))
    crashed = Worker(app, burst=True, install_signals=False)
    crashed._settle = lambda group_ids: None  # type: ignore[method-assign]
    crashed.run()
    assert flow.state().state == "waiting"
    run_until_idle(app)  # its sweep runs at start
    assert flow.state().state == "done"
    assert [r for r in app.ran if r[0] == "swept"] == [("swept", [0, 1])]  # type: ignore[attr-defined]


def test_calls_that_cannot_work_are_refused_before_anything_is_stored(app: App) -> None:
    square, total, alert = (app.job_named(n) for n in ("square", "total", "alert"))
    with pytest.raises(ArgumentError, match="square"):
        square.prepare(m=1)
    with pytest.raises(ArgumentError, match="takes no connection="):
        square.prepare(n=1, connection=object())
    with pytest.raises(ArgumentError, match="then=alert takes no parameter named 'results'"):
        app.group([square.prepare(n=1)], then=alert.prepare(label="x"))
    with pytest.raises(ArgumentError, match=r"call 1 must be made with JobDef\.prepare"):
        app.group([square.prepare(n=1), 5])  # type: ignore[list-item]
    with pytest.raises(ArgumentError, match="at least one call"):
        app.chain()
    with pytest.raises(ArgumentError, match="at least one call"):
        app.group([], then=total.prepare())
    assert app.jobs() == []


def test_a_group_survives_a_sigkilled_worker(db_url: str, tmp_path: Path,
                                             make_app: Callable[..., App]) -> None:
    """A member's worker is SIGKILLed mid-run: the member runs again once its lease runs
    out, and the callback runs once, with every result."""
    app = make_app()
    part = app.job(name="part")(support.part.fn)
    combine = app.job(name="combine")(support.combine.fn)
    log = tmp_path / "runs.log"
    flow = app.group([part.prepare(n=n, sleep=60.0 if n == 2 else 0.0) for n in range(4)],
                     then=combine.prepare(tag="k"))
    first = start_worker(db_url, log, app=WORKFLOW)
    try:
        deadline = time.monotonic() + 30
        while "part 2 1" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, worker_errors(log)
            time.sleep(0.05)
    finally:
        kill_worker(first)
    second = start_worker(db_url, log, app=WORKFLOW)
    try:
        deadline = time.monotonic() + 30
        while flow.state().state == "waiting" or "combine" not in log.read_text():
            assert time.monotonic() < deadline, worker_errors(log)
            time.sleep(0.05)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0, worker_errors(log)
    combined = [line for line in log.read_text().splitlines() if line.startswith("combine")]
    assert len(combined) == 1 and combined[0].startswith("combine k [0, 1, 4, 9] ")


def test_a_member_cancelled_by_an_operator_fails_the_group_through_the_sweep(app: App) -> None:
    """A cancel ends a member without any worker writing its outcome: the sweep decides the
    group failed, and on_failure runs once; the callback never does."""
    square = app.job_named("square")
    flow = app.group([square.prepare(n=2), square.prepare(n=3)],
                     then=app.job_named("total").prepare(label="never"),
                     on_failure=app.job_named("alert").prepare(label="cancelled"))
    app.cancel(flow.jobs[1].id)
    run_until_idle(app)
    run_until_idle(app)  # a second worker's sweep finds nothing more to decide
    assert flow.state().state == "failed"
    assert app.ran.count(("alert", "cancelled")) == 1  # type: ignore[attr-defined]
    assert not any(label == "never" for label, _ in app.ran)  # type: ignore[attr-defined]
