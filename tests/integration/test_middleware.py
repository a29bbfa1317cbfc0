"""The seam: middleware around every attempt and observers of every change, on both backends."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from jobtrail import (
    App,
    AttemptInfo,
    Context,
    JobTimeout,
    Observer,
    Outcome,
    Retry,
    Status,
    Transient,
)
from jobtrail.observers import EnqueuedJob
from jobtrail.testing import run_until_idle

# Options given beside a job's arguments (``job.enqueue(n=1, delay=5)``) work at run time but
# are outside the signature a type checker sees (``job.options(...)`` is their typed form):
# those calls carry ``type: ignore[call-arg]``.

TWICE = Retry(max_attempts=2, base=0, jitter="none")


def test_middlewares_wrap_sync_and_async_jobs_as_an_onion(make_app: Callable[..., App]) -> None:
    """Registered middlewares run outermost-first around sync and async jobs, see the attempt
    and the stored outcome, and async jobs still run on the worker's event loop."""
    app = make_app()
    seen: list[tuple[str, ...]] = []

    @app.middleware
    def outer(attempt: AttemptInfo, call_next: Callable[[], Outcome]) -> Outcome:
        seen.append(("outer-in", attempt.job_name, str(attempt.number), repr(dict(attempt.payload))))
        outcome = call_next()
        seen.append(("outer-out", attempt.job_name, outcome.status.value, outcome.result or ""))
        return outcome

    @app.middleware
    def inner(attempt: AttemptInfo, call_next: Callable[[], Outcome]) -> Outcome:
        seen.append(("inner-in", attempt.job_name))
        outcome = call_next()
        seen.append(("inner-out", attempt.job_name))
        return outcome

    @app.job
    def double(n: int) -> int:
        seen.append(("job", "double"))
        return n * 2

    @app.job
    async def triple(n: int) -> int:
        asyncio.get_running_loop()  # the coroutine runs on an event loop
        seen.append(("job", "triple", threading.current_thread().name.split("-")[1]))
        return n * 3

    first = double.enqueue(n=2)
    run_until_idle(app)
    second = triple.enqueue(n=2)
    run_until_idle(app)
    assert (first.get().result, second.get().result) == (4, 6)
    assert seen == [
        ("outer-in", "double", "1", "{'n': 2}"), ("inner-in", "double"), ("job", "double"),
        ("inner-out", "double"), ("outer-out", "double", "succeeded", "4"),
        ("outer-in", "triple", "1", "{'n': 2}"), ("inner-in", "triple"), ("job", "triple", "loop"),
        ("inner-out", "triple"), ("outer-out", "triple", "succeeded", "6"),
    ]


def test_an_error_before_call_next_fails_the_attempt_like_the_jobs_own(
    make_app: Callable[..., App],
) -> None:
    """A middleware raising before call_next fails the attempt (retried by the job's policy)
    and the job is not called; once it lets the attempt through, the job succeeds."""
    app = make_app()
    calls: list[int] = []

    @app.middleware
    def gate(attempt: AttemptInfo, call_next: Callable[[], Outcome]) -> Outcome:
        if attempt.number == 1:
            raise Transient("gateway not ready")
        return call_next()

    @app.job(retry=TWICE)
    def work(n: int) -> int:
        calls.append(n)
        return n

    handle = work.enqueue(n=7)
    run_until_idle(app)
    record = handle.get()
    assert (record.status, record.attempts, calls) == (Status.SUCCEEDED, 2, [7])
    failed = [e for e in record.path if e.name == "retry_scheduled"]
    assert failed and failed[0].attrs["error"] == "jobtrail.errors.Transient"


def test_an_error_after_call_next_is_logged_and_changes_nothing(
    make_app: Callable[..., App], caplog: pytest.LogCaptureFixture,
) -> None:
    """A middleware failing after call_next leaves the stored outcome as the job made it."""
    app = make_app()

    @app.middleware
    def careless(attempt: AttemptInfo, call_next: Callable[[], Outcome]) -> Outcome:
        call_next()
        raise RuntimeError("metrics backend down")

    @app.job
    def work() -> str:
        return "done"

    handle = work.enqueue()
    with caplog.at_level(logging.ERROR, logger="jobtrail.middleware"):
        run_until_idle(app)
    assert (handle.get().status, handle.get().result) == (Status.SUCCEEDED, "done")
    assert any("careless" in r.getMessage() and "outcome stands" in r.getMessage()
               for r in caplog.records)


def test_a_failing_middleware_never_logs_a_redacted_value(
    make_app: Callable[..., App], caplog: pytest.LogCaptureFixture,
) -> None:
    """The worker's log is an operator view: the traceback of a middleware that failed
    after call_next, quoting the job's sensitive argument, is logged masked."""
    app = make_app()

    @app.middleware
    def audit(attempt: AttemptInfo, call_next: Callable[[], Outcome]) -> Outcome:
        call_next()
        raise RuntimeError(f"audit sink refused card {attempt.payload['card']}")

    @app.job(redact=["card"])
    def pay(card: str) -> str:
        return "paid"

    handle = pay.enqueue(card="4111-SECRET-1111")
    with caplog.at_level(logging.ERROR, logger="jobtrail.middleware"):
        run_until_idle(app)
    assert handle.get().status is Status.SUCCEEDED
    (logged,) = [r for r in caplog.records if "outcome stands" in r.getMessage()]
    assert logged.exc_text is not None
    assert "RuntimeError: audit sink refused card [redacted]" in logged.exc_text
    assert "SECRET" not in caplog.text and "SECRET" not in logged.exc_text


def test_a_middleware_must_call_call_next(make_app: Callable[..., App]) -> None:
    """Returning without calling call_next fails the attempt with a MiddlewareError naming
    the middleware, and the job is not run."""
    app = make_app()
    calls: list[str] = []

    @app.middleware
    def skipping(attempt: AttemptInfo, call_next: Callable[[], Outcome]) -> Outcome:
        return None  # type: ignore[return-value]

    @app.job(retry=Retry(max_attempts=1))
    def work() -> None:
        calls.append("ran")

    handle = work.enqueue()
    run_until_idle(app)
    record = handle.get()
    assert record.status is Status.DEAD and record.error is not None
    assert record.error.type == "jobtrail.errors.MiddlewareError"
    assert "skipping returned without calling call_next" in record.error.message
    assert calls == []


def test_a_second_call_next_raises_and_the_first_outcome_stands(
    make_app: Callable[..., App], caplog: pytest.LogCaptureFixture,
) -> None:
    """call_next runs the attempt once: calling it again raises MiddlewareError in the
    middleware, which (raised after the first call) is logged; the job ran once."""
    app = make_app()
    calls: list[str] = []

    @app.middleware
    def greedy(attempt: AttemptInfo, call_next: Callable[[], Outcome]) -> Outcome:
        call_next()
        return call_next()

    @app.job
    def work() -> str:
        calls.append("ran")
        return "once"

    handle = work.enqueue()
    with caplog.at_level(logging.ERROR, logger="jobtrail.middleware"):
        run_until_idle(app)
    assert (handle.get().status, handle.get().result, calls) == (Status.SUCCEEDED, "once", ["ran"])
    assert any("called call_next twice" in (r.exc_text or "") or
               "called call_next twice" in str(r.exc_info[1] if r.exc_info else "")
               for r in caplog.records)


def test_a_middleware_sees_masked_errors_and_the_runs_summary(make_app: Callable[..., App]) -> None:
    """The outcome a middleware sees is the one stored: redacted, and summarised when final."""
    app = make_app()
    outcomes: list[Outcome] = []

    @app.middleware
    def record(attempt: AttemptInfo, call_next: Callable[[], Outcome]) -> Outcome:
        outcomes.append(call_next())
        return outcomes[-1]

    @app.job(redact=["card"], retry=Retry(max_attempts=1), expect="load")
    def pay(ctx: Context, card: str) -> None:
        ctx.step("load", lambda: 1)
        raise PermissionError(f"card {card} refused")

    pay.enqueue(card="4111-SECRET-1111")
    run_until_idle(app)
    (outcome,) = outcomes
    assert outcome.error is not None and "SECRET" not in outcome.error.message
    assert outcome.run is not None and outcome.run.variant == "load"


class Recording(Observer):
    """Keeps what it is told."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def enqueued(self, jobs: Sequence[EnqueuedJob]) -> None:
        self.seen.append(("enqueued", [(j.job_name, j.deduplicated) for j in jobs]))

    def finished(self, outcomes: Sequence[Outcome]) -> None:
        self.seen.append(("finished", [o.status.value for o in outcomes]))

    def replayed(self, job: Any) -> None:
        self.seen.append(("replayed", job.id))

    def cancelled(self, job: Any) -> None:
        self.seen.append(("cancelled", job.id))

    def discarded(self, job: Any) -> None:
        self.seen.append(("discarded", job.id))


class Failing(Observer):
    """Fails at everything it is told."""

    def finished(self, outcomes: Sequence[Outcome]) -> None:
        raise RuntimeError("observer down")


def test_observers_are_told_of_every_change_once_committed(make_app: Callable[..., App]) -> None:
    """Enqueues (deduplicated ones marked), written outcomes and operators' actions reach
    every observer; one that fails is logged and the others are still told."""
    app = make_app()
    failing, recording = app.observe(Failing()), app.observe(Recording())
    assert isinstance(recording, Recording) and isinstance(failing, Failing)

    @app.job(retry=Retry(max_attempts=1))
    def flaky(n: int) -> int:
        if n < 0:
            raise ValueError("negative")
        return n

    flaky.enqueue(n=1, idempotency_key="k-1")  # type: ignore[call-arg]
    flaky.enqueue(n=1, idempotency_key="k-1")  # type: ignore[call-arg]
    dead = flaky.enqueue(n=-1)
    waiting = flaky.options(delay=3600).enqueue(n=2)
    run_until_idle(app)
    app.replay(dead.id)
    app.cancel(waiting.id)
    run_until_idle(app)
    app.discard(dead.id)
    assert recording.seen == [
        ("enqueued", [("flaky", False)]), ("enqueued", [("flaky", True)]),
        ("enqueued", [("flaky", False)]), ("enqueued", [("flaky", False)]),
        ("finished", ["succeeded"]), ("finished", ["dead"]),
        ("replayed", dead.id), ("cancelled", waiting.id), ("finished", ["dead"]),
        ("discarded", dead.id),
    ]


def test_a_job_enqueues_a_child_by_name(make_app: Callable[..., App]) -> None:
    """ctx.enqueue takes the name of a declared job as well as the job; an unknown name is
    an UnknownJob naming the known ones."""
    app = make_app()

    @app.job
    def parent(ctx: Context, child: str) -> int:
        return ctx.enqueue(child, n=3).id

    @app.job
    def child(n: int) -> int:
        return n

    ok = parent.enqueue(child="child")
    bad = parent.enqueue(child="nobody")
    run_until_idle(app)
    kid = app.get(ok.get().result)
    assert (kid.job_name, kid.parent_job_id, kid.trace_id) == ("child", ok.id, ok.get().trace_id)
    error = bad.get().error
    assert error is not None and "no job of that name is declared (known: child, parent)" in error.message


def test_options_are_typed_apart_from_the_jobs_arguments(make_app: Callable[..., App]) -> None:
    """job.options(...).enqueue(...) sets delay, priority and key; bad options fail at once."""
    app = make_app()

    @app.job
    def bill(invoice_id: int) -> int:
        return invoice_id

    later = bill.options(delay=3600, priority=7).enqueue(invoice_id=1)
    keyed = bill.options(idempotency_key="inv-1").enqueue(invoice_id=1)
    again = bill.options(idempotency_key="inv-1").enqueue(invoice_id=1)
    many = bill.options(priority=3).enqueue_many([{"invoice_id": 2}, {"invoice_id": 3}])
    record = later.get()
    assert record.priority == 7 and (record.run_at - record.created_at).total_seconds() > 3500
    assert again.id == keyed.id and again.deduplicated
    assert [h.get().priority for h in many] == [3, 3]
    from jobtrail import ArgumentError

    with pytest.raises(ArgumentError, match="delay must be a finite, non-negative"):
        bill.options(delay=-1)
    with pytest.raises(ArgumentError, match="one idempotency_key cannot be given to enqueue_many"):
        bill.options(idempotency_key="k").enqueue_many([{"invoice_id": 4}])


def test_an_async_job_inside_middleware_still_times_out(make_app: Callable[..., App]) -> None:
    """An async job run in a thread because of middleware is timed out like any other: the
    watchdog reports JobTimeout, and call_next raises it in the middleware."""
    app = make_app()
    statuses: list[str] = []

    @app.middleware
    def watch(attempt: AttemptInfo, call_next: Callable[[], Outcome]) -> Outcome:
        try:
            return call_next()
        except JobTimeout:
            statuses.append("timed out")
            raise

    @app.job(timeout=0.2, retry=Retry(max_attempts=1))
    async def stubborn() -> str:
        for _ in range(50):
            try:
                await asyncio.sleep(0.1)
            except asyncio.CancelledError:
                continue
        return "too late"

    handle = stubborn.enqueue()
    run_until_idle(app)
    error = handle.get().error
    assert handle.get().status is Status.DEAD and error is not None
    assert error.type == "jobtrail.errors.JobTimeout"
    assert statuses == ["timed out"]
