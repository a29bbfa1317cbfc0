"""Idempotency keys, receipts, step checkpoints and at-most-once effects, through real workers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from jobtrail import App, ArgumentError, Context, IdempotencyConflict, Retry, Status, Transient
from jobtrail.clock import ManualClock
from jobtrail.testing import run_until_idle

# Options given beside a job's arguments (``job.enqueue(n=1, delay=5)``) work at run time but
# are outside the signature a type checker sees (``job.options(...)`` is their typed form):
# those calls carry ``type: ignore[call-arg]``.

FAST = Retry(max_attempts=3, base=0, jitter="none")


def test_a_duplicate_enqueue_returns_the_existing_job(make_app: Callable[..., App]) -> None:
    """The same key and arguments twice: one job, the second handle says deduplicated."""
    app = make_app()

    @app.job
    def charge(invoice_id: int) -> None:
        return None

    first = charge.enqueue(invoice_id=42, idempotency_key="inv-42")  # type: ignore[call-arg]
    second = charge.enqueue(invoice_id=42, idempotency_key="inv-42")  # type: ignore[call-arg]
    assert second.id == first.id and second.deduplicated and not first.deduplicated
    assert len(app.jobs()) == 1


def test_one_key_with_other_arguments_is_a_conflict(make_app: Callable[..., App]) -> None:
    """Reusing a key for different arguments raises IdempotencyConflict and stores nothing."""
    app = make_app()

    @app.job
    def charge(invoice_id: int) -> None:
        return None

    charge.enqueue(invoice_id=1, idempotency_key="k")  # type: ignore[call-arg]
    with pytest.raises(IdempotencyConflict, match="idempotency key 'k' belongs to job"):
        charge.enqueue(invoice_id=2, idempotency_key="k")  # type: ignore[call-arg]
    assert len(app.jobs()) == 1


def test_a_key_function_on_the_job_deduplicates_and_finished_keys_run_nothing(
    make_app: Callable[..., App],
) -> None:
    """A declared key function keys every enqueue; a finished key returns its outcome unrun."""
    app = make_app()
    runs: Counter[int] = Counter()

    @app.job(idempotency_key=lambda invoice_id: f"inv-{invoice_id}")
    def charge(invoice_id: int) -> str:
        runs[invoice_id] += 1
        return f"paid-{invoice_id}"

    handle = charge.enqueue(invoice_id=7)
    run_until_idle(app)
    again = charge.enqueue(invoice_id=7)
    run_until_idle(app)
    assert again.id == handle.id and again.deduplicated
    assert again.get().result == "paid-7" and runs == Counter({7: 1})


def test_bad_keys_are_refused_before_anything_is_stored(make_app: Callable[..., App]) -> None:
    """Empty, blank, too long or non-string keys are argument errors."""
    app = make_app()

    @app.job
    def charge(invoice_id: int) -> None:
        return None

    for key in ("", "   ", "x" * 256, 42):
        with pytest.raises(ArgumentError, match="idempotency_key"):
            charge.enqueue(invoice_id=1, idempotency_key=key)  # type: ignore[call-arg]
    assert app.jobs() == []


def test_a_retried_job_resumes_after_its_last_completed_step(make_app: Callable[..., App]) -> None:
    """A job failing after step 2 of 4 re-runs only steps 3 and 4 on its retry."""
    app = make_app()
    calls: Counter[str] = Counter()
    failures = {"left": 1}

    def work(name: str) -> Callable[[], str]:
        def run() -> str:
            calls[name] += 1
            return name.upper()
        return run

    @app.job(retry=FAST)
    def pipeline(ctx: Context) -> list[str]:
        out = [ctx.step("load", work("load")), ctx.step("parse", work("parse"))]
        if failures["left"]:
            failures["left"] -= 1
            raise Transient("network blip after parse")
        out += [ctx.step("store", work("store")), ctx.step("notify", work("notify"))]
        return out

    handle = pipeline.enqueue()
    run_until_idle(app)
    record = handle.get()
    assert record.status is Status.SUCCEEDED and record.attempts == 2
    assert record.result == ["LOAD", "PARSE", "STORE", "NOTIFY"]
    assert calls == Counter({"load": 1, "parse": 1, "store": 1, "notify": 1})
    steps = [(e.attempt, e.name, e.attrs.get("replayed", False)) for e in app.events(handle.id) if e.kind == "step"]
    assert steps == [(1, "load", False), (1, "parse", False), (2, "load", True), (2, "parse", True),
                     (2, "store", False), (2, "notify", False)]


def test_an_effect_is_not_repeated_when_a_later_failure_retries_the_job(make_app: Callable[..., App]) -> None:
    """The charge happens once; the retry gets the recorded charge id back."""
    app = make_app()
    charges: list[int] = []
    failures = {"left": 2}

    @app.job(retry=FAST)
    def bill(ctx: Context, invoice_id: int) -> str:
        def charge() -> str:
            charges.append(invoice_id)
            return f"ch_{invoice_id}"

        charge_id = ctx.effect("charge", charge, key=f"charge-{invoice_id}")
        if failures["left"]:
            failures["left"] -= 1
            raise Transient("mark_paid failed")
        return charge_id

    handle = bill.enqueue(invoice_id=5)
    run_until_idle(app)
    assert handle.get().status is Status.SUCCEEDED and handle.get().result == "ch_5"
    assert charges == [5]
    (effect,) = app.effects(handle.id)
    assert (effect.key, effect.status, effect.result) == ("charge-5", "done", '"ch_5"')


def test_an_effect_cut_off_by_a_crash_dead_letters_as_uncertain_then_resolves(
    make_app: Callable[..., App],
) -> None:
    """A crash between an effect's intent and its end: not re-run, dead as effect_uncertain,
    then an operator's verdict and a replay finish the job without calling it again."""
    clock = ManualClock()
    app = make_app(store_options={"clock": clock})
    charges: list[int] = []

    @app.job(retry=FAST)
    def bill(ctx: Context, invoice_id: int) -> str:
        return ctx.effect("charge", lambda: charges.append(invoice_id) or "ch_new", key=f"c-{invoice_id}")  # type: ignore[func-returns-value]

    handle = bill.enqueue(invoice_id=9)
    (job,) = app.store.claim("crashed-worker", None, 1, 30.0)
    assert app.store.begin_effect(job.id, job.claim, job.attempt, "charge", "c-9", False) is None
    clock.advance(31)  # the crashed worker's lease runs out
    assert app.store.reap_expired() == [job.id]
    run_until_idle(app)
    record = handle.get()
    assert record.status is Status.DEAD and record.outcome == "effect_uncertain"
    assert record.error is not None and "may have happened" in record.error.message
    assert charges == []
    app.resolve_effect(handle.id, "charge", "done", result="ch_checked_by_hand")
    app.replay(handle.id)
    run_until_idle(app)
    assert handle.get().status is Status.SUCCEEDED and handle.get().result == "ch_checked_by_hand"
    assert charges == []
    assert "effect_resolved" in [e.name for e in app.events(handle.id)]


def test_a_repeat_safe_effect_is_simply_called_again_after_a_crash(make_app: Callable[..., App]) -> None:
    """An effect declared repeat_safe is re-run instead of flagged uncertain."""
    clock = ManualClock()
    app = make_app(store_options={"clock": clock})
    calls: list[int] = []

    @app.job(retry=FAST)
    def warm(ctx: Context, n: int) -> int:
        return ctx.effect("warm_cache", lambda: calls.append(n) or n, repeat_safe=True)  # type: ignore[func-returns-value]

    handle = warm.enqueue(n=3)
    (job,) = app.store.claim("crashed-worker", None, 1, 30.0)
    app.store.begin_effect(job.id, job.claim, job.attempt, "warm_cache", f"{job.id}:warm_cache", True)
    clock.advance(31)
    app.store.reap_expired()
    run_until_idle(app)
    assert handle.get().status is Status.SUCCEEDED and calls == [3]


def test_bad_step_results_fail_with_a_message_naming_them(make_app: Callable[..., App]) -> None:
    """An unserialisable step result is a clear error at the call."""
    app = make_app()

    @app.job(retry=Retry(max_attempts=1))
    def unserialisable(ctx: Context) -> None:
        ctx.step("load", lambda: {1, 2})

    first = unserialisable.enqueue()
    run_until_idle(app)
    assert (error := first.get().error) is not None and "step 'load' returned a set, which cannot be recorded as JSON" in error.message


def test_guarantees_are_derived_from_retry_policy_and_effects(make_app: Callable[..., App]) -> None:
    """One attempt is at-most-once; keyed effects make effectively-once; else at-least-once."""
    app = make_app()

    @app.job(retry=Retry(max_attempts=1))
    def once() -> None:
        return None

    @app.job
    def keyed(ctx: Context, n: int) -> None:
        ctx.effect("send", print, n, key=f"send-{n}")

    @app.job
    def unkeyed(ctx: Context, n: int) -> None:
        ctx.effect("send", print, n)

    @app.job(guarantee="effectively_once")
    def declared() -> None:
        return None

    assert [j.guarantee for j in (once, keyed, unkeyed, declared)] == [
        "at_most_once", "effectively_once", "at_least_once", "effectively_once"
    ]


def test_sqlite_enqueue_joins_the_callers_transaction(tmp_path: object) -> None:
    """With connection=, a job exists only if the caller's transaction commits."""
    import sqlite3
    from pathlib import Path

    path = Path(str(tmp_path)) / "shop.db"
    app = App(f"sqlite:///{path}")
    app.upgrade()

    @app.job
    def ship(order_id: int) -> None:
        return None

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    conn.execute("BEGIN")
    conn.execute("INSERT INTO orders VALUES (1)")
    ship.enqueue(order_id=1, connection=conn)  # type: ignore[call-arg]
    conn.execute("ROLLBACK")
    assert app.jobs() == []
    conn.execute("BEGIN")
    conn.execute("INSERT INTO orders VALUES (2)")
    handle = ship.enqueue(order_id=2, connection=conn)  # type: ignore[call-arg]
    conn.execute("COMMIT")
    assert [j.id for j in app.jobs()] == [handle.id]
    conn.close()
    app.close()


@pytest.mark.postgres
def test_postgres_enqueue_joins_the_callers_transaction(pg_url: str) -> None:
    """With connection=, a job exists only if the caller's psycopg transaction commits."""
    import psycopg

    from tests.conftest import _empty_pg

    _empty_pg(pg_url)
    app = App(pg_url)

    @app.job
    def ship(order_id: int) -> None:
        return None

    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TEMP TABLE orders (id int)")
        conn.execute("INSERT INTO orders VALUES (1)")
        ship.enqueue(order_id=1, connection=conn)  # type: ignore[call-arg]
        conn.rollback()
        assert app.jobs() == []
        conn.execute("CREATE TEMP TABLE orders (id int)")
        conn.execute("INSERT INTO orders VALUES (2)")
        handle = ship.enqueue(order_id=2, connection=conn)  # type: ignore[call-arg]
        conn.commit()
    assert [j.id for j in app.jobs()] == [handle.id]
    app.close()
