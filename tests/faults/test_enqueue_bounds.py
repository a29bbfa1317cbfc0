"""Absurd enqueue and declaration options are refused where they are given, the same on
every backend, and a row stored with absurd values before the bounds existed still reads."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from jobtrail import App, Context, Retry
from jobtrail.errors import ArgumentError, ConfigurationError, JobDefinitionError
from jobtrail.jobs import JobDef
from jobtrail.limits import HORIZON, MAX_PRIORITY, MIN_PRIORITY
from jobtrail.records import utc_from_epoch
from jobtrail.testing import run_until_idle
from tests.acceptance.conftest import Cli
from tests.support import rawsql

TEN_YEARS = "315,576,000 seconds (10 years)"
TEN_YEARS_RE = re.escape(TEN_YEARS)


def _declare(app: App) -> JobDef[Any, Any]:
    @app.job
    def ping(n: int) -> int:
        return n

    return ping


@pytest.mark.parametrize("delay", [10**20, 1e308, HORIZON + 1, 10**5000],
                         ids=["1e20", "1e308", "horizon+1", "5001-digits"])
def test_a_delay_past_ten_years_is_refused_and_nothing_is_stored(
    make_app: Callable[..., App], delay: float
) -> None:
    """A delay beyond the horizon is an `ArgumentError` naming the job and the limit."""
    app = make_app()
    ping = _declare(app)
    with pytest.raises(ArgumentError) as caught:
        ping.enqueue(1, delay=delay)
    message = str(caught.value)
    assert message.startswith("job 'ping': delay of ")
    assert f"is beyond the limit of {TEN_YEARS}" in message
    assert app.jobs() == []


def test_enqueue_many_and_enqueue_child_are_bounded_the_same(make_app: Callable[..., App]) -> None:
    """The batch and the in-job enqueue refuse the same delay, priority and run_at."""
    app = make_app(retry=Retry(max_attempts=1))
    ping = _declare(app)
    with pytest.raises(ArgumentError, match=r"enqueue_many item 0: job 'ping': delay of 1e\+20"):
        ping.enqueue_many([{"n": 1}], delay=1e20)
    with pytest.raises(ArgumentError, match="priority must be an int from -2,147,483,648"):
        ping.enqueue_many([{"n": 1}], priority=2**31)

    @app.job
    def parent(ctx: Context) -> list[str]:
        refused = []
        for options in ({"delay": 1e20}, {"priority": 2**31},
                        {"run_at": datetime.now(UTC) + timedelta(days=4000)}):
            try:
                ctx.enqueue(ping, 1, **options)  # enqueue_child
            except ArgumentError as exc:
                refused.append(str(exc))
        return refused

    handle = parent.enqueue()
    run_until_idle(app)
    refused = handle.get().result
    assert len(refused) == 3
    assert f"is beyond the limit of {TEN_YEARS}" in refused[0]
    assert "(a 32-bit integer), got 2147483648" in refused[1]
    assert f"is beyond the limit of {TEN_YEARS} from now" in refused[2]
    assert [job.job_name for job in app.jobs()] == ["parent"]


def test_a_delay_at_the_horizon_is_stored_and_read_back(make_app: Callable[..., App]) -> None:
    """The longest delay allowed is stored, listed, and leaves idle workers working."""
    app = make_app()
    ping = _declare(app)
    before = datetime.now(UTC)
    handle = ping.enqueue(1, delay=HORIZON)
    run_at = handle.get().run_at
    assert before + timedelta(seconds=HORIZON - 60) < run_at < datetime.now(UTC) + timedelta(
        seconds=HORIZON + 60)
    assert app.store.next_run_at(None) == run_at
    assert run_until_idle(app).finished == 0


def test_run_at_is_bounded_by_the_same_horizon(make_app: Callable[..., App]) -> None:
    """run_at ten years and a day away is refused; a far past one, in any zone, runs now."""
    app = make_app()
    ping = _declare(app)
    too_far = datetime.now(UTC) + timedelta(days=3653 + 1)
    with pytest.raises(ArgumentError, match=rf"job 'ping': run_at {re.escape(too_far.isoformat())} is beyond "
                       rf"the limit of {TEN_YEARS_RE} from now \(\d{{4}}-\d\d-\d\d UTC\)"):
        ping.enqueue(1, run_at=too_far)
    eastern_end = datetime.max.replace(tzinfo=timezone(timedelta(hours=-5)))
    with pytest.raises(ArgumentError, match="is beyond the limit"):
        ping.enqueue(1, run_at=eastern_end)
    before_year_one = datetime.min.replace(tzinfo=timezone(timedelta(hours=14)))
    with pytest.raises(ArgumentError, match=r"is before the first date a datetime holds in UTC \(year 1\)"):
        ping.enqueue(1, run_at=before_year_one)
    assert app.jobs() == []
    long_ago = datetime(1970, 1, 2, tzinfo=timezone(timedelta(hours=9)))
    handle = ping.enqueue(2, run_at=long_ago)
    assert handle.get().run_at == long_ago
    assert run_until_idle(app).outcomes["succeeded"] == 1


@pytest.mark.parametrize("priority", [2**31, -(2**31) - 1, 2**63, 2**64])
def test_priorities_outside_32_bits_are_refused_alike(
    make_app: Callable[..., App], priority: int
) -> None:
    """A priority no 32-bit integer holds is an `ArgumentError`, not a store error."""
    app = make_app()
    ping = _declare(app)
    with pytest.raises(ArgumentError, match=(
        r"job 'ping': priority must be an int from -2,147,483,648 to 2,147,483,647 "
        rf"\(a 32-bit integer\), got {priority}"
    )):
        ping.enqueue(1, priority=priority)
    assert app.jobs() == []


def test_the_extreme_priorities_are_stored_and_read_back(make_app: Callable[..., App]) -> None:
    """The lowest and highest 32-bit priorities are stored and claimed in order."""
    app = make_app()
    ping = _declare(app)
    low = ping.enqueue(1, priority=MIN_PRIORITY)
    high = ping.enqueue(2, priority=MAX_PRIORITY)
    assert (low.get().priority, high.get().priority) == (MIN_PRIORITY, MAX_PRIORITY)
    assert run_until_idle(app, concurrency=1).outcomes["succeeded"] == 2
    assert high.get().started_at <= low.get().started_at  # type: ignore[operator]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"priority": 2**31}, r"job 'work': priority must be an int from -2,147,483,648"),
        ({"priority": -(2**63)}, r"priority must be an int from .*, got -9223372036854775808"),
        ({"timeout": math.inf}, r"job 'work': timeout must be a positive number of seconds, "
         r"got inf"),
        ({"timeout": math.nan}, r"timeout must be a positive number of seconds, got nan"),
        ({"timeout": True}, r"timeout must be a positive number of seconds, got True"),
        ({"timeout": 1e20}, rf"job 'work': timeout of 1e\+20 seconds is beyond the limit of "
         rf"{TEN_YEARS_RE}"),
    ],
)
def test_declared_priority_and_timeout_are_bounded(
    tmp_path: Any, options: dict[str, Any], message: str
) -> None:
    """``@app.job`` refuses a priority outside 32 bits and an unbounded or absurd timeout."""
    app = App(f"sqlite:///{tmp_path / 'never.db'}")
    with pytest.raises(JobDefinitionError, match=message):

        @app.job(**options)
        def work() -> None: ...

    assert not (tmp_path / "never.db").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_attempts": 2**31}, r"Retry\(max_attempts=2147483648\): must be at most "
         r"2,147,483,647"),
        ({"cap": math.inf}, rf"Retry\(cap=inf\): delays are at most {TEN_YEARS_RE}"),
        ({"base": 1e300, "cap": 1e300}, r"Retry\(base=1e\+300\): delays are at most"),
    ],
)
def test_retry_policies_are_bounded(options: dict[str, Any], message: str) -> None:
    """Attempts fit a 32-bit integer and retry delays the horizon, as enqueue's delay does."""
    with pytest.raises(ConfigurationError, match=message):
        Retry(**options)
    assert Retry(max_attempts=2**31 - 1, cap=HORIZON).max_attempts == 2**31 - 1


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (1e20, datetime.max.replace(tzinfo=UTC)),
        (math.inf, datetime.max.replace(tzinfo=UTC)),
        (2**63 - 1, datetime.max.replace(tzinfo=UTC)),
        (-1e20, datetime.min.replace(tzinfo=UTC)),
        (-math.inf, datetime.min.replace(tzinfo=UTC)),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        (None, None),
    ],
)
def test_times_out_of_range_read_as_the_first_or_last_date(
    seconds: float | None, expected: datetime | None
) -> None:
    """Epoch seconds beyond what a datetime holds are clamped, never an OverflowError."""
    assert utc_from_epoch(seconds) == expected


def test_an_old_sqlite_row_with_absurd_values_lists_shows_and_idles(
    cli: Cli, tmp_path: Any
) -> None:
    """A job stored with run_at 1e20, created_at 1e300 and priority 2**63-1 reads fine."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    app = App(url)
    app.upgrade()
    rawsql.execute(
        url,
        "INSERT INTO jobtrail_jobs (job_name, queue, status, priority, payload, max_attempts,"
        " run_at, created_at, attempts) VALUES ('ping', 'default', 'queued', ?, '{}', 3,"
        " 1e20, 1e300, 0)",
        (2**63 - 1,),
    )
    assert app.store.next_run_at(None) == datetime.max.replace(tzinfo=UTC)
    assert app.jobs()[0].run_at == datetime.max.replace(tzinfo=UTC)
    app.close()
    listed = cli("jobs", "list", "--url", url)
    assert listed.code == 0, listed.stderr
    assert "9999-12-31 23:59:59" in listed.stdout
    shown = cli("jobs", "show", "1", "--url", url, "--json")
    assert shown.code == 0, shown.stderr
    job = shown.json()["job"]
    assert job["run_at"] == job["created_at"] == "9999-12-31T23:59:59.999999+00:00"
    assert job["priority"] == 2**63 - 1


def test_the_cli_refuses_absurd_delay_and_priority_in_one_line(cli: Cli, shop: Any) -> None:
    """``enqueue --delay 1e20`` and ``--priority 2**31`` exit 2 with one line, storing nothing."""
    run = cli("enqueue", shop.target, "add", "--arg", "a=1", "--arg", "b=2", "--delay", "1e20")
    assert run.code == 2
    assert run.error_line() == (
        f"error: job 'add': delay of 1e+20 seconds is beyond the limit of {TEN_YEARS}; "
        "schedule far-off work from a job that runs sooner"
    )
    run = cli("enqueue", shop.target, "add", "--arg", "a=1", "--arg", "b=2",
              "--priority", str(2**31))
    assert run.code == 2
    assert "priority must be an int from -2,147,483,648" in run.error_line()
    assert not (cli.cwd / "shop.db").exists()  # refused before the store was opened
