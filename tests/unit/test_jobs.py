"""Job definitions: ``@app.job`` options, and what ``enqueue`` checks before storing anything."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from jobtrail import App, ArgumentError, JobDefinitionError, PayloadTooLarge, Retry, Status
from jobtrail.handle import JobHandle
from jobtrail.jobs import JobDef
from jobtrail.store.base import NewJob
from jobtrail.testing import temporary_app


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the offline app would put its database (it must never appear)."""
    return tmp_path / "never-opened.db"


@pytest.fixture
def offline(db_path: Path) -> Iterator[App]:
    """An app whose database is never opened: validation must not need it."""
    app = App(f"sqlite:///{db_path}")
    yield app
    assert not db_path.exists(), "validation touched the database"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    """An app on a real, temporary SQLite file."""
    real = temporary_app(tmp_path)
    yield real
    real.close()


def define_charge(app: App) -> JobDef[Any, Any]:
    @app.job(queue="billing", priority=3, retry=Retry(max_attempts=7))
    def charge(invoice_id: int, amount: float = 0.0) -> None:
        """Charge an invoice."""

    return charge


# -- build: checks without storing --------------------------------------------------------------


def test_build_returns_the_row_to_store_without_opening_the_database(offline: App) -> None:
    """``build`` checks and encodes the arguments into a `NewJob` and stores nothing."""
    charge = define_charge(offline)
    job = charge.build((7,), {"amount": 2.5})
    assert isinstance(job, NewJob)
    assert (job.job_name, job.queue, job.payload, job.priority, job.max_attempts) == (
        "charge", "billing", '{"invoice_id":7,"amount":2.5}', 3, 7,
    )
    assert job.delay is None and job.run_at is None and job.parent_job_id is None
    assert job.trace_id and len(job.trace_id) == 32


def test_each_built_job_gets_its_own_trace_id(offline: App) -> None:
    """Without a parent, every job starts a new trace."""
    charge = define_charge(offline)
    assert charge.build((1,), {}).trace_id != charge.build((1,), {}).trace_id


def test_priority_option_overrides_the_job_default(offline: App) -> None:
    """``priority=`` at enqueue beats the one declared on the job, and 0 is a real value."""
    charge = define_charge(offline)
    assert charge.build((1,), {}, priority=9).priority == 9
    assert charge.build((1,), {}, priority=0).priority == 0


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("7",), {}, r"job 'charge': argument 'invoice_id' expected int, got '7'"),
        ((True,), {}, r"argument 'invoice_id' expected int, got True"),
        ((), {}, r"missing required argument 'invoice_id' \(int\)"),
        ((1,), {"amont": 1.0}, r"unexpected argument 'amont'"),
        ((1, 2.0, 3), {}, r"takes 2 arguments \(invoice_id, amount\), got 3 positional"),
        ((1,), {"amount": math.nan}, r"arguments cannot be stored as JSON"),
    ],
)
def test_bad_arguments_raise_argument_error_before_the_database_is_opened(
    offline: App, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    """``enqueue`` with arguments that do not fit raises `ArgumentError` and stores nothing."""
    charge = define_charge(offline)
    with pytest.raises(ArgumentError, match=message):
        charge.enqueue(*args, **kwargs)


def test_a_job_declared_with_options_keeps_its_signature(offline: App) -> None:
    """``@app.job(...)`` types its job like a bare ``@app.job``: a wrong argument is a type error and an `ArgumentError`."""

    @offline.job(queue="billing")
    def charge(invoice_id: int) -> None:
        """Charge an invoice."""

    with pytest.raises(ArgumentError, match=r"argument 'invoice_id' expected int, got '7'"):
        charge.enqueue(invoice_id="7")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"delay": -1}, r"job 'charge': delay must be a finite, non-negative number of seconds, got -1"),
        ({"delay": "5"}, r"delay must be a finite, non-negative number of seconds, got '5'"),
        ({"delay": True}, r"delay must be a finite, non-negative number of seconds, got True"),
        (
            {"delay": 5, "run_at": datetime.now(UTC)},
            r"job 'charge': give delay or run_at, not both",
        ),
        ({"run_at": datetime(2030, 1, 1)}, r"run_at must be a timezone-aware datetime, got "
         r"datetime.datetime\(2030, 1, 1, 0, 0\)"),
        ({"run_at": "2030-01-01T00:00:00Z"}, r"run_at must be a timezone-aware datetime"),
        ({"run_at": time.time()}, r"run_at must be a timezone-aware datetime"),
        ({"priority": 1.5}, r"job 'charge': priority must be an int, got 1.5"),
        ({"priority": "high"}, r"priority must be an int, got 'high'"),
        ({"priority": True}, r"priority must be an int, got True"),
    ],
)
def test_bad_enqueue_options_raise_argument_error_before_the_database_is_opened(
    offline: App, options: dict[str, Any], message: str
) -> None:
    """Negative or non-numeric delays, delay with run_at, naive run_at and non-int priority."""
    charge = define_charge(offline)
    with pytest.raises(ArgumentError, match=message):
        charge.enqueue(1, **options)


@pytest.mark.parametrize("delay", [math.nan, math.inf])
def test_non_finite_delays_are_refused(offline: App, delay: float) -> None:
    """A NaN or infinite delay is an `ArgumentError`, like a negative one."""
    charge = define_charge(offline)
    with pytest.raises(ArgumentError, match="delay must be a finite, non-negative number of seconds"):
        charge.build((1,), {}, delay=delay)


def test_good_options_are_accepted(offline: App) -> None:
    """A zero delay, an aware run_at in any zone and an int priority are fine."""
    charge = define_charge(offline)
    at = datetime(2030, 1, 1, tzinfo=UTC)
    assert charge.build((1,), {}, delay=0).delay == 0
    assert charge.build((1,), {}, delay=0.5).delay == 0.5
    assert charge.build((1,), {}, run_at=at).run_at == at
    tokyo = at.astimezone(timezone(timedelta(hours=9)))
    assert charge.build((1,), {}, run_at=tokyo).run_at == at


def test_payload_limit_comes_from_the_app(db_path: Path) -> None:
    """``App(max_payload_bytes=...)`` bounds what ``enqueue`` accepts."""
    app = App(f"sqlite:///{db_path}", max_payload_bytes=30)

    @app.job
    def note(text: str) -> None: ...

    assert note.build(("x" * 10,), {}).payload == '{"text":"' + "x" * 10 + '"}'
    with pytest.raises(PayloadTooLarge, match=r"job 'note': payload is 31 bytes, over the "
                       r"limit of 30"):
        note.enqueue("x" * 20)
    assert not db_path.exists()


# -- job definition options ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": 0}, r"job 'work': timeout must be a positive number of seconds, got 0"),
        ({"timeout": -1.5}, r"timeout must be a positive number of seconds, got -1.5"),
        ({"timeout": "10"}, r"timeout must be a positive number of seconds, got '10'"),
        ({"retry": 3}, r"job 'work': retry must be a Retry\(...\), got 3"),
        ({"priority": 1.0}, r"job 'work': priority must be an int, got 1.0"),
        ({"priority": True}, r"priority must be an int, got True"),
        ({"queue": 7}, r"job 'work': queue must be a non-empty str, got 7"),
    ],
)
def test_bad_job_options_fail_at_decoration(
    offline: App, options: dict[str, Any], message: str
) -> None:
    """A job declared with an unusable timeout, retry, priority or queue is refused at once."""
    with pytest.raises(JobDefinitionError, match=message):

        @offline.job(**options)
        def work() -> None: ...


def test_job_defaults_come_from_the_app(db_path: Path) -> None:
    """A job without options uses the app's default queue and retry policy."""
    policy = Retry(max_attempts=9)
    app = App(f"sqlite:///{db_path}", retry=policy, default_queue="main")

    @app.job
    def work() -> None:
        """Do the work."""

    assert (work.queue, work.retry, work.priority, work.timeout) == ("main", policy, 0, None)
    assert work.__doc__ == "Do the work." and work.__wrapped__ is not None
    assert repr(work) == "<JobDef work queue=main>"


def test_name_option_renames_the_job(offline: App) -> None:
    """``name=`` registers the job under that name instead of the function's."""

    @offline.job(name="billing.charge", timeout=5)
    def charge() -> None: ...

    assert charge.name == "billing.charge" and charge.timeout == 5.0
    assert offline.job_named("billing.charge") is charge


def test_async_jobs_are_recognised(offline: App) -> None:
    """A coroutine function is marked as async."""

    @offline.job
    async def fetch(url: str) -> None: ...

    @offline.job
    def plain() -> None: ...

    assert fetch.is_async and not plain.is_async


# -- against a real database --------------------------------------------------------------------


def test_enqueue_stores_the_arguments_and_options(app: App) -> None:
    """A good enqueue stores the arguments; options do not leak into them."""
    charge = define_charge(app)
    before = datetime.now(UTC)
    handle = charge.enqueue(7, amount=1.5, delay=60, priority=5)
    assert isinstance(handle, JobHandle) and handle.job_name == "charge"
    assert repr(handle) == f"<JobHandle charge#{handle.id}>"
    record = handle.get()
    assert record.args == {"invoice_id": 7, "amount": 1.5}
    assert (record.queue, record.priority, record.max_attempts) == ("billing", 5, 7)
    assert record.run_at >= before + timedelta(seconds=59)
    assert handle.status is Status.QUEUED


def test_enqueue_by_name_uses_the_registered_job(app: App) -> None:
    """``app.enqueue("name", ...)`` checks arguments like the job's own enqueue."""
    define_charge(app)
    handle = app.enqueue("charge", invoice_id=3)
    assert handle.get().args == {"invoice_id": 3}
    with pytest.raises(ArgumentError, match="argument 'invoice_id' expected int"):
        app.enqueue("charge", invoice_id="3")


def test_failed_enqueues_store_nothing(app: App) -> None:
    """Argument, option and size errors leave the database without any job."""
    charge = define_charge(app)
    bad: Callable[[], object]
    for bad in (
        lambda: charge.enqueue("7"),
        lambda: charge.enqueue(7, delay=-1),
        lambda: charge.enqueue(7, run_at=datetime(2030, 1, 1)),
        lambda: charge.enqueue(7, priority="1"),
        lambda: charge.enqueue(7, amount=math.inf),
    ):
        with pytest.raises(ArgumentError):
            bad()
    assert app.jobs() == []


def test_enqueue_many_stores_every_item(app: App) -> None:
    """Five good items become five jobs, in order, with shared options."""
    charge = define_charge(app)
    handles = charge.enqueue_many([{"invoice_id": n} for n in range(5)], priority=2)
    assert [h.id for h in handles] == sorted(h.id for h in handles)
    records = [h.get() for h in handles]
    assert [r.args for r in records] == [{"invoice_id": n} for n in range(5)]
    assert {r.priority for r in records} == {2}


def test_enqueue_many_with_a_bad_item_stores_nothing_and_names_the_item(app: App) -> None:
    """When item 3 of 5 does not fit, no item is stored and the message names index 2."""
    charge = define_charge(app)
    items: list[dict[str, Any]] = [{"invoice_id": n} for n in range(5)]
    items[2] = {"invoice_id": "two"}
    with pytest.raises(ArgumentError) as caught:
        charge.enqueue_many(items)
    assert str(caught.value).startswith(
        "enqueue_many item 2: job 'charge': argument 'invoice_id' expected int, got 'two'"
    )
    assert app.jobs() == []


def test_enqueue_many_rejects_items_that_are_not_dicts(app: App) -> None:
    """Each item must be a mapping of arguments; the message names the item and its type."""
    charge = define_charge(app)
    with pytest.raises(ArgumentError, match=r"job 'charge': enqueue_many item 1 must be a dict "
                       r"of arguments, got list"):
        charge.enqueue_many([{"invoice_id": 1}, [2]])  # type: ignore[list-item]
    assert app.jobs() == []


def test_enqueue_many_checks_shared_options(app: App) -> None:
    """A bad shared option fails the batch before anything is stored."""
    charge = define_charge(app)
    with pytest.raises(ArgumentError, match=r"enqueue_many item 0: .*delay must be a "
                       "finite, non-negative number"):
        charge.enqueue_many([{"invoice_id": 1}], delay=-5)
    assert app.jobs() == []


def test_enqueue_many_of_nothing_stores_nothing(app: App) -> None:
    """An empty batch returns no handles."""
    assert define_charge(app).enqueue_many([]) == []
    assert app.jobs() == []


def test_enqueue_many_with_an_oversized_item_stores_nothing(tmp_path: Path) -> None:
    """A payload over the limit in item 3 of 5 fails the whole batch."""
    app = temporary_app(tmp_path, max_payload_bytes=64)
    try:

        @app.job
        def note(text: str) -> None: ...

        items = [{"text": "short"} for _ in range(5)]
        items[2] = {"text": "x" * 100}
        with pytest.raises(PayloadTooLarge):
            note.enqueue_many(items)
        assert app.jobs() == []
    finally:
        app.close()


def test_enqueue_many_size_errors_name_the_item(offline: App) -> None:
    """An oversized item's error names its index like any other bad item."""
    app = App(offline.url, max_payload_bytes=64)

    @app.job
    def note(text: str) -> None: ...

    items = [{"text": "short"} for _ in range(5)]
    items[2] = {"text": "x" * 100}
    with pytest.raises(PayloadTooLarge, match="item 2"):
        note.enqueue_many(items)
