"""A worker running real jobs against a real store, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest

from jobtrail import App, Context, JobTimeout, Permanent, Retry, Status, Transient, Worker
from jobtrail.clock import ManualClock
from jobtrail.store.base import NewJob
from jobtrail.testing import run_until_idle

# Options given beside a job's arguments (``job.enqueue(n=1, delay=5)``) work at run time but
# are outside the signature a type checker sees (``job.options(...)`` is their typed form):
# those calls carry ``type: ignore[call-arg]``.

FAST = Retry(max_attempts=3, base=0, jitter="none")


def test_transient_failures_are_retried_until_success(make_app: Callable[..., App]) -> None:
    """A job failing twice with a transient error succeeds on its third attempt."""
    app = make_app()
    calls: Counter[int] = Counter()

    @app.job(retry=FAST)
    def flaky(n: int) -> int:
        calls[n] += 1
        if calls[n] < 3:
            raise Transient(f"try {calls[n]}")
        return n * 10

    handle = flaky.enqueue(n=4)
    stats = run_until_idle(app)
    record = handle.get()
    assert (record.status, record.result, record.attempts) == (Status.SUCCEEDED, 40, 3)
    assert stats.outcomes == Counter({"retrying": 2, "succeeded": 1})
    names = [e.name for e in app.events(handle.id)]
    assert names == ["enqueued", "claimed", "started", "failed", "retry_scheduled",
                     "claimed", "started", "failed", "retry_scheduled",
                     "claimed", "started", "succeeded"]


def test_permanent_failure_goes_straight_to_the_dead_letters(make_app: Callable[..., App]) -> None:
    """A Permanent error is not retried: the job is dead after one attempt, with its traceback."""
    app = make_app()

    @app.job(retry=FAST)
    def decline(card: str) -> None:
        raise Permanent(f"card {card} declined")

    handle = decline.enqueue(card="4242")
    run_until_idle(app)
    record = handle.get()
    assert record.status is Status.DEAD and record.attempts == 1
    assert record.error is not None and "card 4242 declined" in record.error.message
    assert "raise Permanent" in record.error.traceback
    assert [job.id for job in app.dead_letters()] == [handle.id]


def test_exhausted_retries_dead_letter_and_replay_runs_again(make_app: Callable[..., App]) -> None:
    """An unknown error is retried up to max_attempts, then dead; replay gives it a fresh start."""
    app = make_app()
    broken = {"on": True}

    @app.job(retry=FAST)
    def sync_accounts() -> str:
        if broken["on"]:
            raise RuntimeError("upstream down")
        return "synced"

    handle = sync_accounts.enqueue()
    run_until_idle(app)
    assert handle.get().status is Status.DEAD and handle.get().attempts == 3
    broken["on"] = False
    app.replay(handle.id)
    run_until_idle(app)
    record = handle.get()
    assert (record.status, record.result, record.attempts) == (Status.SUCCEEDED, "synced", 1)


def test_retry_on_and_give_up_on_classify_plain_exceptions(make_app: Callable[..., App]) -> None:
    """retry_on makes an error transient; give_up_on makes it permanent; both beat the default."""
    app = make_app()
    policy = Retry(max_attempts=4, base=0, retry_on=(ConnectionError,), give_up_on=(KeyError,),
                   retry_unknown=False)
    seen: Counter[str] = Counter()

    @app.job(retry=policy)
    def classify(kind: str) -> None:
        seen[kind] += 1
        raise {"conn": ConnectionError, "key": KeyError, "other": ValueError}[kind](kind)

    handles = {kind: classify.enqueue(kind=kind) for kind in ("conn", "key", "other")}
    run_until_idle(app)
    assert seen == Counter({"conn": 4, "key": 1, "other": 1})
    assert all(h.get().status is Status.DEAD for h in handles.values())


def test_async_jobs_run_on_the_event_loop(make_app: Callable[..., App]) -> None:
    """An async def job is awaited and its result stored."""
    app = make_app()

    @app.job
    async def fetch(ctx: Context, url: str) -> dict[str, str]:
        await asyncio.sleep(0.01)
        return {"url": url, "job": str(ctx.job_id)}

    handle = fetch.enqueue(url="https://example.org")
    run_until_idle(app, concurrency=2)
    assert handle.get().result == {"url": "https://example.org", "job": str(handle.id)}


def test_async_timeout_is_retried_then_dead(make_app: Callable[..., App]) -> None:
    """An async job past its timeout fails with JobTimeout, which is transient."""
    app = make_app()

    @app.job(retry=Retry(max_attempts=2, base=0), timeout=0.1)
    async def slow() -> None:
        await asyncio.sleep(5)

    handle = slow.enqueue()
    run_until_idle(app)
    record = handle.get()
    assert record.status is Status.DEAD and record.attempts == 2
    assert record.error is not None and record.error.type == "jobtrail.errors.JobTimeout"


def test_sync_timeout_stops_python_code_and_frees_the_slot(make_app: Callable[..., App]) -> None:
    """A sync job looping past its timeout is interrupted; the worker keeps its concurrency."""
    app = make_app()
    interrupted = threading.Event()

    @app.job(retry=Retry(max_attempts=1), timeout=0.2)
    def spin() -> None:
        try:
            while True:
                time.sleep(0.01)
        except JobTimeout:
            interrupted.set()
            raise

    @app.job
    def after() -> str:
        return "ran"

    stuck = spin.enqueue()
    later = after.enqueue(priority=-1)  # type: ignore[call-arg]
    run_until_idle(app, concurrency=1)
    assert stuck.get().status is Status.DEAD
    assert (error := stuck.get().error) is not None and error.type.endswith("JobTimeout")
    assert interrupted.wait(2)
    assert later.get().result == "ran"


def test_unknown_job_and_drifted_payloads_end_orphaned(make_app: Callable[..., App]) -> None:
    """Jobs that cannot run (unknown name, payload that no longer fits, damaged JSON) are orphaned."""
    app = make_app()

    @app.job
    def welcome(user_id: int) -> None:
        return None

    ids = app.store.enqueue([
        NewJob("removed_job", "default", "{}", max_attempts=3),
        NewJob("welcome", "default", '{"user_id": "u-17"}', max_attempts=3),
        NewJob("welcome", "default", '{"user": 1}', max_attempts=3),
        NewJob("welcome", "default", "{broken", max_attempts=3),
    ])
    stats = run_until_idle(app)
    assert stats.outcomes == Counter({"orphaned": 4})
    errors = [app.get(job_id).error for job_id in ids]
    assert [e.type for e in errors if e] == ["UnknownJob", "PayloadMismatch", "PayloadMismatch",
                                             "CorruptPayload"]
    assert errors[1] is not None and "argument 'user_id' expected int, got 'u-17'" in errors[1].message
    assert errors[2] is not None and "unexpected argument 'user'" in errors[2].message
    assert all(app.get(job_id).attempts == 1 for job_id in ids)


def test_a_result_that_is_not_json_is_a_dead_letter_not_a_crash(make_app: Callable[..., App]) -> None:
    """A return value that cannot be stored fails the job with a clear error."""
    app = make_app()

    @app.job
    def leaky() -> object:
        return object()

    handle = leaky.enqueue()
    run_until_idle(app)
    record = handle.get()
    assert record.status is Status.DEAD and record.error is not None
    assert "cannot be stored as JSON" in record.error.message


def test_children_carry_their_parent_and_trace(make_app: Callable[..., App]) -> None:
    """A job enqueued with ctx.enqueue links to its parent and shares its trace id."""
    app = make_app()

    @app.job
    def follow_up(user_id: int) -> None:
        return None

    @app.job
    def sign_up(ctx: Context, user_id: int) -> int:
        ctx.event("account_created", user_id=user_id)
        return ctx.enqueue(follow_up, user_id=user_id, delay=0).id

    parent = sign_up.enqueue(user_id=3)
    run_until_idle(app)
    child_id = parent.get().result
    child = app.get(child_id)
    assert child.parent_job_id == parent.id and child.trace_id == parent.get().trace_id
    assert child.status is Status.SUCCEEDED


def test_a_job_longer_than_its_lease_is_never_run_twice(make_app: Callable[..., App]) -> None:
    """While its worker heartbeats, a job outliving the lease is not handed to another worker."""
    app = make_app(lease=0.6)
    runs: Counter[int] = Counter()

    @app.job
    def long_report(n: int) -> None:
        runs[n] += 1
        time.sleep(2.0)

    handle = long_report.enqueue(n=1)
    workers = [Worker(app, burst=True, install_signals=False) for _ in range(2)]
    threads = [threading.Thread(target=w.run) for w in workers]
    for thread in threads:
        thread.start()
        time.sleep(0.3)
    for thread in threads:
        thread.join(10)
    assert runs == Counter({1: 1})
    assert handle.get().status is Status.SUCCEEDED and handle.get().attempts == 1


def test_graceful_stop_waits_for_running_jobs(make_app: Callable[..., App]) -> None:
    """stop() lets the running job finish within the grace period and claims nothing more."""
    app = make_app(grace=5)
    started = threading.Event()

    @app.job
    def report(n: int) -> int:
        started.set()
        time.sleep(0.5)
        return n

    first = report.enqueue(n=1)
    second = report.enqueue(n=2, priority=-1)  # type: ignore[call-arg]
    worker = Worker(app, concurrency=1, install_signals=False)
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert started.wait(5)
    worker.stop()
    thread.join(10)
    assert first.get().status is Status.SUCCEEDED
    assert second.get().status is Status.QUEUED


def test_stop_after_grace_releases_running_jobs_without_spending_attempts(
    make_app: Callable[..., App],
) -> None:
    """Jobs still running when the grace period ends go back to the queue, attempt not spent."""
    app = make_app(grace=0.2)
    started = threading.Event()

    @app.job
    def stuck() -> None:
        started.set()
        time.sleep(3)

    handle = stuck.enqueue()
    worker = Worker(app, concurrency=1, install_signals=False)
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert started.wait(5)
    worker.stop()
    thread.join(10)
    record = handle.get()
    assert record.status is Status.QUEUED and record.attempts == 0
    assert worker.stats.released == 1
    assert [e.name for e in app.events(handle.id)][-1] == "released"


def test_worker_serves_only_its_queues(make_app: Callable[..., App]) -> None:
    """A worker given queues leaves other queues' jobs waiting."""
    app = make_app()

    @app.job(queue="billing")
    def bill() -> None:
        return None

    @app.job(queue="mail")
    def mail() -> None:
        return None

    billed, mailed = bill.enqueue(), mail.enqueue()
    run_until_idle(app, queues=["billing"])
    assert billed.get().status is Status.SUCCEEDED and mailed.get().status is Status.QUEUED


def test_scheduled_jobs_wait_for_their_time(make_app: Callable[..., App]) -> None:
    """A delayed job is not run by a burst worker before its time, and is afterwards."""
    clock = ManualClock()
    app = make_app(store_options={"clock": clock})

    @app.job
    def remind() -> str:
        return "sent"

    handle = remind.enqueue(delay=3600)  # type: ignore[call-arg]
    run_until_idle(app)
    assert handle.get().status is Status.QUEUED
    clock.advance(3601)
    run_until_idle(app)
    assert handle.get().status is Status.SUCCEEDED


@pytest.mark.parametrize("concurrency", [1, 8])
def test_many_jobs_all_finish_exactly_once(make_app: Callable[..., App], concurrency: int) -> None:
    """A thousand jobs drained by one worker each run exactly once."""
    app = make_app()
    runs: Counter[int] = Counter()
    lock = threading.Lock()

    @app.job
    def count(n: int) -> None:
        with lock:
            runs[n] += 1

    count.enqueue_many([{"n": i} for i in range(1000)])
    stats = run_until_idle(app, concurrency=concurrency)
    assert stats.outcomes["succeeded"] == 1000
    assert runs == Counter(range(1000))
