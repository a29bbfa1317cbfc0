"""A bad network between real worker processes and PostgreSQL: connections dropped
mid-transaction, stalled past a lease, slowed down. Workers recover, no job is lost, and
no effect is performed twice.

Each test runs ``jobtrail worker`` processes whose store URL leads through a `FlakyProxy`,
while the test enqueues and reads through a direct connection. The jobs are the test
workload's: ``pay`` performs one keyed ``ctx.effect`` that appends a line to a ledger file
(so the ledger shows how often each effect really happened), ``work`` is a plain job that
logs each run (plain bodies run at least once: they may run again after a lost lease).
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from jobtrail import App, Status
from jobtrail.effects import BEGIN_RETRIES
from tests.conftest import _empty_pg
from tests.support import workload
from tests.support.processes import kill_worker, runs_by_job, start_worker, worker_errors
from tests.support.proxy import Direction, FlakyProxy

pytestmark = pytest.mark.postgres


@dataclass
class Rig:
    """The database seen directly (`app`) and through the proxy (`url`), and the files
    the workers write next to `log`."""

    app: App
    proxy: FlakyProxy
    url: str
    log: Path
    workers: list[subprocess.Popen[bytes]]

    def start(self, *args: str, lease: float = 3.0, grace: float = 5.0) -> None:
        """Start a ``jobtrail worker`` on the workload through the proxy."""
        self.workers.append(start_worker(self.url, self.log, "--concurrency", "6", *args,
                                         lease=lease, env={"WORKLOAD_GRACE": str(grace)}))

    def enqueue(self, count: int, *, first: int = 0, sleep: float = 0.01) -> list[int]:
        """Enqueue *count* jobs, ``pay`` and ``work`` in turn, numbered from *first*."""
        rng = random.Random(first)
        pays = [{"n": n, "sleep": rng.uniform(0, sleep)} for n in range(first, first + count, 2)]
        works = [{"n": n, "sleep": rng.uniform(0, sleep)}
                 for n in range(first + 1, first + count, 2)]
        handles = [*self.app.job_named("pay").enqueue_many(pays),
                   *self.app.job_named("work").enqueue_many(works)]
        return [h.id for h in handles]

    def finished(self) -> int:
        """How many jobs reached a final status."""
        return sum(n for (_, status), n in self.app.counts().items() if status.is_final)

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Wait for *condition*, failing after *timeout* seconds with what the workers said."""
        deadline = time.monotonic() + timeout
        while not condition():
            for proc in self.workers:
                assert proc.poll() is None, f"a worker exited ({proc.returncode}) before {what}:\n" \
                    + worker_errors(self.log)
            if time.monotonic() > deadline:
                raise AssertionError(f"not {what} within {timeout}s; counts "
                                     f"{self.app.counts()}\n{worker_errors(self.log)[-3000:]}")
            time.sleep(0.1)

    def wait_all_final(self, total: int, timeout: float = 60) -> None:
        self.wait_until(lambda: self.finished() == total, timeout, f"all {total} jobs final")

    def assert_all_succeeded(self, total: int) -> None:
        """Every job succeeded, every effect happened once, every plain job ran to its end."""
        assert self.app.counts() == {("default", Status.SUCCEEDED): total}
        assert self.assert_promises_kept(total) == []

    def assert_promises_kept(self, total: int) -> list[str]:
        """What jobtrail promises whatever the network did: no job lost (each of *total* is
        final), no effect performed twice, every plain job succeeded after running to its
        end at least once, and every ``pay`` job either succeeded with its effect performed
        once or ended ``effect_uncertain``: an earlier attempt's intent or end could not
        be recorded (its writes cut off, or the attempt left to its lease mid-effect), and
        an effect nobody knows the end of is reported, never called again. Returns the
        keys of those effects."""
        records = self.app.jobs(limit=total + 1)
        assert len(records) == total and all(rec.status.is_final for rec in records)
        charges = Counter(line.split()[0] for line in self.ledger())
        assert not [key for key, times in charges.items() if times > 1], "an effect ran twice"
        ended = {job for job, lines in runs_by_job(self.log).items() if lines[-1][0] == "end"}
        uncertain = []
        for rec in records:
            assert rec.args is not None
            if rec.job_name == "work":
                assert rec.status is Status.SUCCEEDED and rec.id in ended, rec
            elif rec.status is Status.SUCCEEDED:
                assert charges[f"charge-{rec.args['n']}"] == 1, rec
            else:
                assert (rec.status, rec.outcome) == (Status.DEAD, "effect_uncertain"), rec
                uncertain.append(f"charge-{rec.args['n']}")
        return uncertain

    def assert_recovered(self, total: int) -> None:
        """The same worker processes, never restarted, work through a fresh batch: each of
        its jobs succeeds, and nothing changes for the earlier ones."""
        before = self.assert_promises_kept(total)
        self.enqueue(100, first=total)
        self.wait_all_final(total + 100, timeout=30)
        assert self.assert_promises_kept(total + 100) == before
        assert self.app.counts()[("default", Status.SUCCEEDED)] == total + 100 - len(before)
        assert "restarting" not in worker_errors(self.log)

    def ledger(self) -> list[str]:
        path = self.log.parent / "ledger.txt"
        return path.read_text().splitlines() if path.exists() else []

    def stop(self, within: float = 20) -> None:
        """SIGTERM the workers; each must exit 0 within *within* seconds."""
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.workers:
            try:
                code = proc.wait(within)
            except subprocess.TimeoutExpired:
                kill_worker(proc)
                raise AssertionError(f"a worker did not stop within {within}s:\n"
                                     + worker_errors(self.log)[-3000:]) from None
            assert code == 0, worker_errors(self.log)[-3000:]


@pytest.fixture
def rig(pg_url: str, tmp_path: Path) -> Iterator[Rig]:
    """An empty database knowing the workload's jobs, a proxy to it, and no worker yet."""
    _empty_pg(pg_url)
    app = App(pg_url)
    for job in (workload.pay, workload.work):
        app.job(retry=job.retry)(job.fn)
    parts = urlsplit(pg_url)
    proxy = FlakyProxy(parts.hostname or "127.0.0.1", parts.port or 5432, seed=11)
    url = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    made = Rig(app, proxy, url, tmp_path / "runs.log", [])
    try:
        yield made
    finally:
        for proc in made.workers:  # a failed test leaves no worker behind
            if proc.poll() is None:
                kill_worker(proc)
        proxy.close()
        app.close()


def test_connections_dropped_mid_transaction_lose_and_repeat_nothing(rig: Rig) -> None:
    """Connections reset at random moments and all at once, over and over, while two worker
    processes drain 1000 jobs: no job is lost, no effect happens twice, and the workers
    keep working and stop cleanly."""
    total = 1000
    rig.enqueue(total, sleep=0.05)
    rig.start("--processes", "2")
    rig.wait_until(lambda: rig.finished() >= 30, 30, "the first jobs finished")
    rig.proxy.drop_randomly(0.03)
    during_faults = rig.finished()
    phase = time.monotonic() + 5
    while time.monotonic() < phase and rig.finished() < total:
        time.sleep(0.4)
        rig.proxy.reset()  # and every connection at once, whatever it was doing
    rig.proxy.drop_randomly(0)
    assert rig.finished() > during_faults + 50, "jobs should have finished despite the faults"
    rig.wait_all_final(total)
    assert rig.proxy.resets >= 20
    # A job whose effect could not record its intent or its end through every retry (a
    # few seconds of failed writes) ends effect_uncertain, as an attempt cut off by a
    # crash there would: rare, never silent, and never an effect performed twice.
    uncertain = rig.assert_promises_kept(total)
    said = worker_errors(rig.log)
    assert all(f"record the intent of effect '{key}'" in said
               or f"record the end of effect '{key}'" in said for key in uncertain), uncertain
    assert len(uncertain) <= 5
    assert rig.app.counts()[("default", Status.SUCCEEDED)] == total - len(uncertain)
    rig.assert_recovered(total)
    rig.stop()


@pytest.mark.parametrize(("direction", "then"), [("both", "release"), ("down", "release"),
                                                 ("up", "cut")])
def test_connections_stalled_past_the_lease_lose_and_repeat_nothing(
        rig: Rig, direction: Direction, then: str) -> None:
    """Every connection stops forwarding (both ways, only the answers, or only the
    statements) for three leases, then flows again or is cut: no job is lost, no effect
    happens twice, and the workers go on and stop cleanly."""
    total = 600
    lease = 1.0
    rig.enqueue(total, sleep=0.05)
    rig.start("--processes", "2", lease=lease)
    rig.wait_until(lambda: rig.finished() >= 30, 30, "the first jobs finished")
    rig.proxy.stall(direction)
    time.sleep(0.5)  # what was under way when the stall began finishes
    stalled_at = rig.finished()
    time.sleep(3 * lease)
    if direction != "down":  # (with only the answers held, statements still commit)
        assert rig.finished() == stalled_at, "nothing finishes while the network stalls"
    if then == "cut":
        rig.proxy.cut()
        time.sleep(0.3)
        rig.proxy.restore()
    rig.proxy.release()
    rig.wait_all_final(total)
    uncertain = rig.assert_promises_kept(total)
    if then == "release":  # each stalled write lands before another worker could take
        assert uncertain == []  # the job over: all succeed, each effect done once
    else:  # a write cut off mid-effect may leave it unknown, at most one per running job
        assert len(uncertain) <= 12
    rig.assert_recovered(total)
    rig.stop()


def test_a_slow_link_loses_and_repeats_nothing(rig: Rig) -> None:
    """Every chunk forwarded is held back 50 ms (a slow link, each round trip ten times the
    usual and more) while two worker processes drain 600 jobs: jobs keep finishing, every
    job succeeds, every effect happens once, and the workers stop cleanly."""
    total = 600
    rig.enqueue(total, sleep=0.02)
    rig.start("--processes", "2")
    rig.wait_until(lambda: rig.finished() >= 30, 30, "the first jobs finished")
    rig.proxy.slow(0.05)
    slowed_at, chunks = rig.finished(), rig.proxy.chunks
    rig.wait_until(lambda: rig.finished() >= min(total, slowed_at + 100), 30,
                   "jobs finished over the slow link")
    time.sleep(2)
    assert rig.proxy.chunks > chunks + 20
    rig.proxy.slow(0)
    rig.wait_all_final(total)
    rig.assert_all_succeeded(total)
    rig.assert_recovered(total)
    rig.stop()


@pytest.mark.parametrize(("signals", "limit"), [(1, 15.0), (2, 4.5)])
def test_a_stalled_database_holds_no_stop_back(rig: Rig, signals: int, limit: float) -> None:
    """The network stalls while a worker runs jobs: one SIGTERM stops it soon after the
    grace period, a second one at once; the jobs it left behind are run by the next
    worker, and none is lost or performs its effect twice."""
    total = 16
    rig.enqueue(total, sleep=2.0)
    rig.start(lease=2.0, grace=1.0)
    rig.wait_until(lambda: bool(rig.ledger()), 30, "an effect happened")
    rig.proxy.stall("both")
    time.sleep(0.3)
    (proc,) = rig.workers
    started = time.monotonic()
    for _ in range(signals):
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
    try:
        code = proc.wait(limit)
    except subprocess.TimeoutExpired:
        kill_worker(proc)
        raise AssertionError(f"{signals} SIGTERM did not stop a worker whose database "
                             f"stalled within {limit}s:\n{worker_errors(rig.log)[-3000:]}"
                             ) from None
    assert code == 0 and time.monotonic() - started < limit, worker_errors(rig.log)[-3000:]
    rig.proxy.release()
    rig.workers.clear()
    rig.start(lease=2.0)
    rig.wait_all_final(total, timeout=60)
    assert len(rig.assert_promises_kept(total)) <= 6  # at most the jobs it was running
    rig.stop()


def test_an_intent_whose_answer_was_lost_is_withdrawn_not_left_uncertain(rig: Rig) -> None:
    """The intent of an effect commits but its answer never comes back, and every retry of
    the write fails: the attempt never called the effect, so its outcome withdraws the
    intent, and the next attempt performs the effect once — the job succeeds rather than
    ending effect_uncertain."""
    rig.app.job(retry=workload.gated_pay.retry)(workload.gated_pay.fn)
    (job_id,) = [h.id for h in rig.app.job_named("gated_pay").enqueue_many([{"n": 7}])]
    rig.start(lease=30.0)
    rig.wait_until(lambda: runs_by_job(rig.log).get(job_id) is not None, 30,
                   "the job reached its effect")
    rig.proxy.stall("down")  # statements reach the database; their answers are held
    (rig.log.parent / "go-7").touch()
    rig.wait_until(lambda: bool(rig.app.effects(job_id)), 10, "the intent committed")
    rig.proxy.cut()  # the held answer is lost, and every retry of the write fails
    said = "could not record the intent of effect 'charge-7'"
    rig.wait_until(lambda: worker_errors(rig.log).count(said) == len(BEGIN_RETRIES), 30,
                   "the intent's write was retried")
    time.sleep(BEGIN_RETRIES[-1] + 3)  # its last try fails too: the attempt ends uncalled
    rig.proxy.restore()
    rig.proxy.release()
    rig.wait_all_final(1, timeout=30)
    record = rig.app.get(job_id)
    assert (record.status, record.result) == (Status.SUCCEEDED, "ch_7"), record
    assert [line.split()[0] for line in rig.ledger()] == ["charge-7"]
    (effect,) = rig.app.effects(job_id)
    assert effect.status == "done" and effect.attempt >= 2
    rig.stop()
