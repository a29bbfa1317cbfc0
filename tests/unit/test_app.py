"""`App`: settings validation, the job registry, and lookups that fail clearly."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobtrail import (
    App,
    ConfigurationError,
    JobDefinitionError,
    JobNotFound,
    Retry,
    Status,
    UnknownJob,
)
from jobtrail.store import DEFAULT_URL, URL_ENV
from jobtrail.testing import temporary_app


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'app.db'}"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    """An app on a real, temporary SQLite file."""
    real = temporary_app(tmp_path)
    yield real
    real.close()


# -- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize("lease", [0, -1, "30", None])
def test_lease_must_be_a_positive_number(url: str, lease: Any) -> None:
    """A lease of zero, a negative one or a non-number is refused, naming the value."""
    with pytest.raises(ConfigurationError, match=rf"App\(lease={lease!r}\): must be a positive "
                       "number of seconds"):
        App(url, lease=lease)


@pytest.mark.parametrize("grace", [-0.1, "5", None])
def test_grace_must_be_zero_or_more(url: str, grace: Any) -> None:
    """A negative or non-numeric grace period is refused, naming the value."""
    with pytest.raises(ConfigurationError, match=rf"App\(grace={grace!r}\): must be zero or "
                       "more seconds"):
        App(url, grace=grace)


@pytest.mark.parametrize("setting", ["lease", "grace"])
@pytest.mark.parametrize("value", [math.nan, True])
def test_nan_and_bools_are_not_durations(url: str, setting: str, value: Any) -> None:
    """NaN and booleans are refused as a lease or grace period."""
    with pytest.raises(ConfigurationError):
        App(url, **{setting: value})


@pytest.mark.parametrize("limit", [0, 1, -100, 1.5e6, "1000", None])
def test_max_payload_bytes_must_be_a_usable_int(url: str, limit: Any) -> None:
    """The payload limit must be an int big enough for ``{}``."""
    with pytest.raises(ConfigurationError, match=rf"App\(max_payload_bytes={limit!r}\)"):
        App(url, max_payload_bytes=limit)


def test_good_settings_are_kept_as_floats(url: str) -> None:
    """Valid settings are stored, durations as floats; a zero grace is allowed."""
    policy = Retry(max_attempts=2)
    app = App(url, lease=10, grace=0, max_payload_bytes=2, retry=policy, default_queue="q")
    assert (app.lease, app.grace, app.max_payload_bytes) == (10.0, 0.0, 2)
    assert isinstance(app.lease, float) and isinstance(app.grace, float)
    assert app.retry is policy and app.default_queue == "q" and app.backend == "sqlite"


def test_an_app_opens_nothing_until_used(tmp_path: Path) -> None:
    """Making an app (even a PostgreSQL one) connects to nothing, so it can be imported early."""
    App(f"sqlite:///{tmp_path / 'missing-dir' / 'jobs.db'}")
    app = App("postgresql://nobody@127.0.0.1:1/none")
    assert app.backend == "postgres"
    assert not (tmp_path / "missing-dir").exists()


def test_a_bad_url_fails_when_the_app_is_made() -> None:
    """An unusable URL is a `ConfigurationError` at construction, not at first use."""
    with pytest.raises(ConfigurationError, match="unsupported database URL scheme 'mysql'"):
        App("mysql://localhost/jobs")


def test_app_url_falls_back_to_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``App()`` uses ``$JOBTRAIL_URL``, and the embedded default when it is unset."""
    monkeypatch.setenv(URL_ENV, f"sqlite:///{tmp_path / 'env.db'}")
    assert App().url == f"sqlite:///{tmp_path / 'env.db'}"
    assert App("sqlite:///given.db").url == "sqlite:///given.db"
    monkeypatch.delenv(URL_ENV)
    assert App().url == DEFAULT_URL


# -- the registry ------------------------------------------------------------------------------


def test_two_functions_with_one_name_are_refused(url: str) -> None:
    """Registering a second function under a taken name is a `JobDefinitionError`."""
    app = App(url)

    @app.job
    def send() -> None: ...

    with pytest.raises(JobDefinitionError, match=r"two jobs are named 'send'; give one of them "
                       r'name="..."'):

        @app.job(name="send")
        def other() -> None: ...

    assert app.job_named("send") is send


def test_registering_the_same_function_again_is_not_a_duplicate(url: str) -> None:
    """Decorating one function twice (a module imported twice) replaces its definition."""
    app = App(url)

    def send() -> None: ...

    first = app.job(send)
    second = app.job(queue="mail")(send)
    assert app.job_named("send") is second and second is not first
    assert second.queue == "mail"


def test_unknown_job_name_lists_the_known_ones(url: str) -> None:
    """Looking up a name nobody registered raises `UnknownJob` with the registered names."""
    app = App(url)
    with pytest.raises(UnknownJob, match=r"no job named 'send' \(known: none\)"):
        app.job_named("send")

    @app.job
    def zeta() -> None: ...

    @app.job
    def alpha() -> None: ...

    with pytest.raises(UnknownJob, match=r"no job named 'send' \(known: alpha, zeta\)"):
        app.job_named("send")
    with pytest.raises(LookupError):
        app.enqueue("send")


def test_a_job_needs_a_name(url: str) -> None:
    """A callable without ``__name__`` must be given ``name=``."""
    app = App(url)

    class Callable:
        def __call__(self) -> None: ...

    with pytest.raises(JobDefinitionError, match=r"cannot name job .*: pass name="):
        app.job(Callable())
    assert app.job(name="called")(Callable()).name == "called"


# -- reading --------------------------------------------------------------------------------


def test_get_of_an_unknown_id_raises_job_not_found(app: App) -> None:
    """There is no fake record for a job that does not exist."""
    with pytest.raises(JobNotFound, match="999"):
        app.get(999)
    with pytest.raises(JobNotFound):
        app.events(999)


@pytest.mark.parametrize("status", ["bogus", ["queued", "bogus"], ("QUEUED",)])
def test_unknown_status_filter_lists_the_allowed_ones(url: str, status: Any) -> None:
    """A status that does not exist is a `ConfigurationError` naming every real one."""
    app = App(url)
    allowed = ", ".join(s.value for s in Status)
    with pytest.raises(ConfigurationError, match=rf"unknown status in .*: use {allowed}"):
        app.jobs(status=status)


def test_status_filter_accepts_names_and_members(app: App) -> None:
    """``status=`` takes a Status, its value, or a list of either."""

    @app.job
    def work(n: int) -> None: ...

    queued = work.enqueue(1)
    app.cancel(work.enqueue(2).id)
    assert [j.id for j in app.jobs(status="queued")] == [queued.id]
    assert [j.id for j in app.jobs(status=Status.QUEUED)] == [queued.id]
    assert len(app.jobs(status=["queued", Status.CANCELLED])) == 2
    assert app.jobs(status="dead") == []
    assert len(app.jobs()) == 2
