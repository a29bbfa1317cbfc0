"""Database URLs: which ones jobtrail accepts, what they mean, and where the default comes from."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobtrail.errors import ConfigurationError
from jobtrail.store import DEFAULT_URL, URL_ENV, open_store, parse_url, resolve_url


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("sqlite:///jobs.db", ("sqlite", "jobs.db")),
        ("sqlite:///data/jobs.db", ("sqlite", "data/jobs.db")),
        ("sqlite:////var/lib/jobs.db", ("sqlite", "/var/lib/jobs.db")),
        ("postgresql://user:pw@db.example:5432/jobs", ("postgres", "postgresql://user:pw@db.example:5432/jobs")),
        ("postgres://user@localhost/jobs", ("postgres", "postgres://user@localhost/jobs")),
    ],
)
def test_accepted_urls(url: str, parsed: tuple[str, str]) -> None:
    """SQLite URLs give a relative or absolute path; PostgreSQL URLs pass through whole."""
    assert parse_url(url) == parsed


def test_the_default_url_is_a_relative_sqlite_file() -> None:
    """The embedded default stores jobs in ./jobtrail.db."""
    assert parse_url(DEFAULT_URL) == ("sqlite", "jobtrail.db")


@pytest.mark.parametrize("url", ["sqlite://jobs.db", "sqlite:jobs.db", "sqlite://"])
def test_sqlite_urls_need_three_slashes(url: str) -> None:
    """A SQLite URL with too few slashes is refused, showing both correct forms."""
    with pytest.raises(ConfigurationError, match=r"must look like sqlite:///relative\.db or "
                       r"sqlite:////abs/path\.db"):
        parse_url(url)


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite:///"])
def test_sqlite_urls_must_name_a_file(url: str) -> None:
    """In-memory and empty SQLite paths are refused: workers must share the database."""
    with pytest.raises(ConfigurationError, match="must name a database file: workers in other "
                       "threads and processes share it"):
        parse_url(url)


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("mysql://root@localhost/jobs", "mysql"),
        ("redis://localhost:6379/0", "redis"),
        ("postgresql+psycopg://localhost/jobs", "postgresql+psycopg"),
        ("jobs.db", "jobs.db"),
        ("", ""),
    ],
)
def test_other_urls_are_refused_naming_the_scheme(url: str, scheme: str) -> None:
    """Unknown schemes, bare paths and the empty string name what was given and what works."""
    with pytest.raises(ConfigurationError) as caught:
        parse_url(url)
    message = str(caught.value)
    assert f"unsupported database URL scheme {scheme!r} in {url!r}" in message
    assert "use sqlite:///path.db or postgresql://user@host/db" in message


def test_open_store_refuses_a_bad_url() -> None:
    """Opening a store checks the URL the same way."""
    with pytest.raises(ConfigurationError, match="unsupported database URL scheme 'mysql'"):
        open_store("mysql://localhost/jobs")


def test_open_store_on_sqlite_does_not_create_the_file_yet(tmp_path: Path) -> None:
    """A SQLite store is opened lazily: the file appears on first use."""
    store = open_store(f"sqlite:///{tmp_path / 'lazy.db'}")
    try:
        assert not (tmp_path / "lazy.db").exists()
    finally:
        store.close()


def test_resolve_url_prefers_the_given_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit URL wins over the environment."""
    monkeypatch.setenv(URL_ENV, "postgresql://env/db")
    assert resolve_url("sqlite:///given.db") == "sqlite:///given.db"


def test_resolve_url_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a URL, ``$JOBTRAIL_URL`` is used."""
    monkeypatch.setenv(URL_ENV, "postgresql://env/db")
    assert resolve_url(None) == "postgresql://env/db"


def test_resolve_url_falls_back_to_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a URL or ``$JOBTRAIL_URL`` (unset or empty), the embedded default is used."""
    monkeypatch.delenv(URL_ENV, raising=False)
    assert resolve_url(None) == DEFAULT_URL
    monkeypatch.setenv(URL_ENV, "")
    assert resolve_url(None) == DEFAULT_URL
