"""The outcome writer: in order, nothing dropped while the database refuses writes, in
the worker's thread and on a thread of its own (a real SQLite file, locked for real)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from jobtrail.errors import StoreError
from jobtrail.records import Status
from jobtrail.store import Store, open_store
from jobtrail.store.base import NewJob, Outcome
from jobtrail.writer import OutcomeWriter

WORKER = "w-1"


class Recorder:
    """What the writer reported, from whichever thread it reported on."""

    def __init__(self) -> None:
        self.written: list[int] = []
        self.lost: set[int] = set()
        self.errors: list[StoreError] = []
        self.wakes = 0
        self.lock = threading.Lock()

    def on_written(self, batch: Sequence[Outcome], lost: set[int]) -> None:
        with self.lock:
            self.written += [o.job_id for o in batch]
            self.lost |= lost

    def on_error(self, exc: StoreError) -> None:
        self.errors.append(exc)

    def wake(self) -> None:
        self.wakes += 1


def claimed_outcomes(path: Path, count: int) -> tuple[Store, list[Outcome]]:
    store = open_store(f"sqlite:///{path}", busy_timeout=0.1)
    store.enqueue([NewJob("j", "default", "{}", 1) for _ in range(count)])
    claimed = store.claim(WORKER, None, count, 60.0)
    return store, [Outcome(job.id, job.attempt, Status.SUCCEEDED, result="1", claim=job.claim) for job in claimed]


@pytest.mark.parametrize("background", [True, False], ids=["background", "inline"])
def test_outcomes_are_written_in_order_and_survive_a_locked_database(
    tmp_path: Path, background: bool
) -> None:
    store, outcomes = claimed_outcomes(tmp_path / "jobs.db", 60)
    seen = Recorder()
    writer = OutcomeWriter(store, WORKER, background=background,
                           on_written=seen.on_written, on_error=seen.on_error, wake=seen.wake)
    writer.add(outcomes[:20])
    assert writer.close(timeout=10) == 0 and seen.written == [o.job_id for o in outcomes[:20]]
    blocker = sqlite3.connect(tmp_path / "jobs.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    writer = OutcomeWriter(store, WORKER, background=background,
                           on_written=seen.on_written, on_error=seen.on_error, wake=seen.wake)
    if background:
        writer.add(outcomes[20:40])
        time.sleep(0.5)  # it keeps failing and retrying meanwhile
        writer.add(outcomes[40:])
        assert writer.busy and sorted(writer.unwritten_ids()) == [o.job_id for o in outcomes[20:]]
        assert seen.errors
    else:
        with pytest.raises(StoreError):
            writer.add(outcomes[20:40])
        with pytest.raises(StoreError):
            writer.add(outcomes[40:])
        assert writer.unwritten_ids() == [o.job_id for o in outcomes[20:]]
    blocker.execute("ROLLBACK")
    blocker.close()
    if not background:
        writer.flush()
    assert writer.close(timeout=10) == 0
    assert not writer.busy
    assert seen.written == [o.job_id for o in outcomes] and not seen.lost
    assert {store.get(o.job_id).status for o in outcomes} == {Status.SUCCEEDED}
    store.close()


@pytest.mark.parametrize("background", [True, False], ids=["background", "inline"])
def test_close_reports_what_could_not_be_written(tmp_path: Path, background: bool) -> None:
    store, outcomes = claimed_outcomes(tmp_path / "jobs.db", 5)
    seen = Recorder()
    blocker = sqlite3.connect(tmp_path / "jobs.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    writer = OutcomeWriter(store, WORKER, background=background,
                           on_written=seen.on_written, on_error=seen.on_error, wake=seen.wake)
    if background:
        writer.add(outcomes)
    else:
        with pytest.raises(StoreError):
            writer.add(outcomes)
    assert writer.close(timeout=0.5) == 5
    assert seen.written == []
    blocker.execute("ROLLBACK")
    blocker.close()
    assert {store.get(o.job_id).status for o in outcomes} == {Status.RUNNING}
    store.close()


def test_an_outcome_whose_lease_moved_on_is_reported_lost(tmp_path: Path) -> None:
    store, outcomes = claimed_outcomes(tmp_path / "jobs.db", 2)
    seen = Recorder()
    writer = OutcomeWriter(store, "another-worker", background=True,
                           on_written=seen.on_written, on_error=seen.on_error, wake=seen.wake)
    writer.add(outcomes)
    assert writer.close(timeout=10) == 0
    assert seen.lost == {o.job_id for o in outcomes} and seen.wakes >= 1
    store.close()
