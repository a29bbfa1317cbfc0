"""At most once, across the moves that give a job back: replay, graceful release, lease loss."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from jobtrail import App, Context, InvalidTransition, Retry, Status
from jobtrail.clock import ManualClock
from jobtrail.execution import Attempt, prepare
from jobtrail.testing import run_until_idle
from tests.support import faulty
from tests.support.processes import ROOT, start_worker, worker_errors

FAULTY = "tests.support.faulty:app"
TWICE = Retry(max_attempts=2, base=0, jitter="none")


def marks(log: Path) -> list[str]:
    """The marks jobs left in *log*, in order (without job and process ids)."""
    return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []


def wait_for_mark(log: Path, mark: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while mark not in marks(log):
        assert time.monotonic() < deadline, f"no {mark!r} within {timeout}s: {worker_errors(log)}"
        time.sleep(0.02)


def crash_inside_effect(app: App, clock: ManualClock, job_id: int, name: str, key: str) -> None:
    """Play a worker that claimed *job_id*, wrote the intent of effect *key* and died."""
    (job,) = app.store.claim("crashed-worker", None, 1, 30.0)
    assert job.id == job_id
    assert app.store.begin_effect(job.id, job.claim, job.attempt, name, key, False) is None
    clock.advance(31)  # its lease runs out
    assert app.store.reap_expired() == [job_id]


def jobtrail(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobtrail", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_replay_never_calls_an_uncertain_effect_blindly(make_app: Callable[..., App], db_url: str) -> None:
    """A job dead as effect_uncertain is not replayed (API or CLI) until the effect is
    resolved; once resolved not_done, the replay performs it exactly once."""
    clock = ManualClock()
    app = make_app(store_options={"clock": clock})
    calls: list[int] = []

    @app.job(retry=TWICE)
    def bill(ctx: Context, n: int) -> str:
        return ctx.effect("charge", lambda: calls.append(n) or f"ch_{n}", key=f"charge-{n}")  # type: ignore[func-returns-value]

    handle = bill.enqueue(n=5)
    crash_inside_effect(app, clock, handle.id, "charge", "charge-5")
    run_until_idle(app)
    assert (handle.get().status, handle.get().outcome) == (Status.DEAD, "effect_uncertain")
    with pytest.raises(InvalidTransition, match=r"effect 'charge' \(key 'charge-5'\)"):
        app.replay(handle.id)
    refused = jobtrail("dlq", "replay", str(handle.id), "--url", db_url)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "jobtrail dlq resolve" in refused.stderr
    run_until_idle(app)
    assert calls == [] and handle.get().status is Status.DEAD
    resolved = jobtrail("dlq", "resolve", str(handle.id), "charge", "not_done", "--url", db_url)
    assert resolved.returncode == 0, resolved.stderr
    app.replay(handle.id)
    run_until_idle(app)
    assert (handle.get().status, handle.get().result, calls) == (Status.SUCCEEDED, "ch_5", [5])


def test_a_replay_after_a_done_verdict_returns_the_result_without_calling(
    make_app: Callable[..., App], db_url: str
) -> None:
    """Resolved done (with its result, from the CLI), the replayed job returns that result."""
    clock = ManualClock()
    app = make_app(store_options={"clock": clock})
    calls: list[int] = []

    @app.job(retry=TWICE)
    def bill(ctx: Context, n: int) -> str:
        return ctx.effect("charge", lambda: calls.append(n) or "ch_new", key=f"charge-{n}")  # type: ignore[func-returns-value]

    handle = bill.enqueue(n=6)
    crash_inside_effect(app, clock, handle.id, "charge", "charge-6")
    run_until_idle(app)
    done = jobtrail("dlq", "resolve", str(handle.id), "charge", "done", "--result", '"ch_by_hand"',
                    "--url", db_url)
    assert done.returncode == 0, done.stderr
    replayed = jobtrail("dlq", "replay", str(handle.id), "--url", db_url)
    assert replayed.returncode == 0, replayed.stderr
    run_until_idle(app)
    assert (handle.get().status, handle.get().result, calls) == (Status.SUCCEEDED, "ch_by_hand", [])


@pytest.mark.slow
def test_a_job_released_inside_an_effect_never_calls_it_again(
    make_app: Callable[..., App], db_url: str, tmp_path: Path
) -> None:
    """SIGTERM with a short grace releases a job in the middle of its effect: the next
    attempt finds the effect uncertain and dead-letters the job instead of calling it again."""
    app = make_app()
    job = app.job(retry=faulty.TWICE)(faulty.slow_charge.fn)
    handle = job.enqueue(n=1, seconds=60)
    log = tmp_path / "marks.log"
    first = start_worker(db_url, log, "--grace", "0.3", app=FAULTY, lease=2.0)
    try:
        wait_for_mark(log, "charge-begun")
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0, worker_errors(log)
    finally:
        first.kill()
    released = app.get(handle.id)
    assert (released.status, released.attempts) == (Status.QUEUED, 0)
    assert "released" in [e.name for e in released.path]
    second = start_worker(db_url, log, "--burst", app=FAULTY, lease=2.0)
    assert second.wait(60) == 0, worker_errors(log)
    record = app.get(handle.id)
    assert (record.status, record.outcome) == (Status.DEAD, "effect_uncertain"), record.error
    assert marks(log) == ["charge-begun"]  # begun once, by the released attempt, never again


def test_an_attempt_whose_lease_moved_on_performs_no_new_effect(make_app: Callable[..., App]) -> None:
    """An attempt that lost its job (its lease expired and another attempt holds it now)
    gets LeaseLost from ctx.effect, and the effect is not called."""
    clock = ManualClock()
    app = make_app(store_options={"clock": clock})
    calls: list[str] = []

    @app.job(retry=Retry(max_attempts=3, base=0))
    def notify(ctx: Context) -> None:
        ctx.effect("notify", lambda: calls.append("sent"), key="notify-1")

    handle = notify.enqueue()
    (job,) = app.store.claim("frozen-worker", None, 1, 30.0)
    frozen = prepare(app, job)
    assert isinstance(frozen, Attempt)
    clock.advance(31)  # the frozen worker's lease runs out
    assert app.store.reap_expired() == [job.id]
    app.store.claim("other-worker", None, 1, 30.0)  # the job belongs to attempt 2 now
    outcome = frozen.run_sync()  # the frozen worker wakes up and runs its attempt
    assert outcome is not None and outcome.error is not None
    assert outcome.error.type == "jobtrail.errors.LeaseLost" and "no longer holds" in outcome.error.message
    assert calls == [] and app.effects(handle.id) == []
