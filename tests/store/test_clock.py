"""The store's clock: the system's by default, a `ManualClock` a test moves forward, read
alike by both backends (SQLite in the process, PostgreSQL as its server's time plus the
clock's offset)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from jobtrail import App, Status
from jobtrail.clock import Clock, ManualClock, SystemClock
from jobtrail.store import Store
from jobtrail.store.base import NewJob
from jobtrail.testing import run_until_idle
from tests.support import rawsql

# Options given beside a job's arguments (``job.enqueue(n=1, delay=5)``) work at run time but
# are outside the signature a type checker sees (``job.options(...)`` is their typed form):
# those calls carry ``type: ignore[call-arg]``.

DAY = 86_400.0


def test_a_manual_clock_runs_with_real_time_and_jumps_when_advanced() -> None:
    """A manual clock starts where it is told (now by default), keeps pace with the system
    clock and moves forward by exactly what `advance` says."""
    clock = ManualClock()
    assert abs(clock.now() - time.time()) < 0.01 and clock.offset() == 0.0
    clock.advance(90.5)
    assert clock.offset() == 90.5 and abs(clock.now() - time.time() - 90.5) < 0.01
    later = ManualClock(start=time.time() + DAY)
    assert abs(later.offset() - DAY) < 0.01
    assert isinstance(clock, Clock) and isinstance(SystemClock(), Clock)
    assert SystemClock().offset() == 0.0 and abs(SystemClock().now() - time.time()) < 0.01


@pytest.mark.parametrize("seconds", [-1.0, float("inf"), float("nan")])
def test_a_manual_clock_only_moves_forward_by_a_finite_time(seconds: float) -> None:
    """Going back, or by an endless or undefined time, is refused and changes nothing."""
    clock = ManualClock()
    with pytest.raises(ValueError, match="moves forward by a finite number of seconds"):
        clock.advance(seconds)
    assert clock.offset() == 0.0


def test_the_times_a_store_writes_follow_its_clock(store: Store, clock: ManualClock) -> None:
    """A day's advance shows in what the store writes, on either backend, also on the
    connections it opened before."""
    (before,) = store.enqueue([NewJob("j", "default", "{}", 1)])
    clock.advance(DAY)
    (after,) = store.enqueue([NewJob("j", "default", "{}", 1)])
    gap = (store.get(after).created_at - store.get(before).created_at).total_seconds()
    assert DAY <= gap < DAY + 5
    written = store.get(after).created_at.timestamp()
    assert abs(written - clock.now()) < 5


@pytest.mark.postgres
def test_postgres_reads_the_time_through_jobtrail_now(pg_url: str) -> None:
    """jobtrail_now() is the server's now() unless a session sets jobtrail.clock_offset, and
    the planner inlines it like now()."""
    assert rawsql.fetch(pg_url, "SELECT jobtrail_now() = now()") == [(True,)]
    ((shift,),) = rawsql.fetch(
        pg_url, "SELECT extract(epoch FROM jobtrail_now() - now()) "
        "FROM (SELECT set_config('jobtrail.clock_offset', '90.5', false)) AS setting")
    assert shift == pytest.approx(90.5)
    plan = rawsql.fetch(pg_url, "EXPLAIN (VERBOSE) SELECT 1 FROM jobtrail_jobs "
                        "WHERE status = 'queued' AND run_at <= jobtrail_now()")
    assert "current_setting" in "\n".join(line for (line,) in plan)  # inlined, not called


def test_an_app_passes_its_store_the_clock_it_is_given(make_app: Callable[..., App]) -> None:
    """App(store_options={"clock": ...}): a job due in an hour runs once the clock says so."""
    clock = ManualClock()
    app = make_app(store_options={"clock": clock})

    @app.job
    def ping() -> str:
        return "pong"

    handle = ping.enqueue(delay=3600)  # type: ignore[call-arg]
    run_until_idle(app)
    assert app.get(handle.id).status is Status.QUEUED
    clock.advance(3601)
    run_until_idle(app)
    record = app.get(handle.id)
    assert record.status is Status.SUCCEEDED
    assert record.finished_at is not None and record.finished_at > datetime.now(UTC)
