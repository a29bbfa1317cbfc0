"""The store's own errors: jobtrail's error classes, in the user's terms, with the driver's
error chained (both backends, real databases)."""

from __future__ import annotations

import inspect
import os
import sqlite3
from pathlib import Path

import pytest

from jobtrail.errors import SchemaOutdated, StoreError, StoreLost, StoreRejected
from jobtrail.store import Store, open_store
from jobtrail.store.base import NewJob
from jobtrail.store.errors import DOING, store_error
from jobtrail.store.sqlite import SQLiteStore
from tests.conftest import PG_ADMIN_URL


def on_server(database: str, port: int | None = None) -> str:
    """A URL of the test server (or of *port* on its host) naming *database*."""
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    if port is not None:
        base = base.rsplit(":", 1)[0] + f":{port}"
    return f"{base}/{database}"


@pytest.mark.postgres
def test_a_server_that_refuses_connections_is_said_so_on_one_line() -> None:
    """Nothing listening at the port: the error says PostgreSQL cannot be reached there."""
    store = open_store(on_server("jobs", port=1), connect_timeout=1.0)
    try:
        with pytest.raises(StoreError) as caught:
            store.counts()
    finally:
        store.close()
    message = str(caught.value)
    assert message.startswith("cannot reach PostgreSQL at 127.0.0.1:1: connection refused (")
    assert "\n" not in message and type(caught.value) is StoreError
    assert type(caught.value.__cause__).__module__.startswith("psycopg")


@pytest.mark.postgres
def test_a_missing_database_is_said_with_how_to_create_it(pg_url: str) -> None:
    """A database the server does not have: the error names it, createdb and the upgrade."""
    store = open_store(on_server("jobtrail_nowhere"))
    try:
        with pytest.raises(StoreError) as caught:
            store.schema_version()
    finally:
        store.close()
    message = str(caught.value)
    assert message.startswith("database 'jobtrail_nowhere' does not exist on PostgreSQL at ")
    assert "`createdb " in message and "(or CREATE DATABASE jobtrail_nowhere)" in message
    assert message.endswith("then run `jobtrail db upgrade`")


def test_a_value_the_database_cannot_take_is_rejected_saying_what_was_done(store: Store) -> None:
    """Text that is not valid UTF-8 is a StoreRejected naming the operation, and stores nothing."""
    with pytest.raises(StoreRejected, match=r"refused a value while enqueueing jobs: .*surrogate"):
        store.enqueue([NewJob("j", "default", '{"a": "\ud800"}', 1)])
    assert store.counts() == {}


def test_a_database_locked_past_the_busy_timeout_is_said_so(tmp_path: Path) -> None:
    """Another connection holding SQLite's write lock: the error names the file and says to
    try again."""
    path = str(tmp_path / "jobs.db")
    store = open_store(f"sqlite:///{path}", busy_timeout=0.05)
    store.migrate()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError) as caught:
            store.enqueue([NewJob("j", "default", "{}", 1)])
    finally:
        other.execute("ROLLBACK")
        other.close()
        store.close()
    assert str(caught.value) == (f"SQLite database {path!r} stayed locked by another "
                                 "connection past the busy timeout: try again")
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)


def test_a_file_that_is_not_a_database_is_lost_for_good(tmp_path: Path) -> None:
    """A file SQLite cannot read: StoreLost, naming the file and what to do."""
    path = tmp_path / "notes.db"
    path.write_text("shopping list\n" * 200)
    store = open_store(f"sqlite:///{path}")
    try:
        with pytest.raises(StoreLost, match=r"is not a usable SQLite database \(file is not a "
                           r"database\): check the path, or restore"):
            store.counts()
    finally:
        store.close()


def test_missing_tables_mean_the_schema_is_outdated(tmp_path: Path) -> None:
    """A driver's 'no such table' is SchemaOutdated: the database needs an upgrade."""
    with sqlite3.connect(tmp_path / "x.db") as conn:
        try:
            conn.execute("SELECT * FROM jobtrail_jobs")
        except sqlite3.OperationalError as exc:
            error = store_error("sqlite", exc, "listing jobs")
    assert isinstance(error, SchemaOutdated)


def test_another_driver_error_names_the_database_and_what_was_being_done(tmp_path: Path) -> None:
    """A driver error of no known kind keeps the driver's words after the file and the
    operation; an error that is no driver's passes as it is."""
    with sqlite3.connect(tmp_path / "x.db") as conn:
        try:
            conn.execute("SELECT nothing_here")
        except sqlite3.OperationalError as exc:
            error = store_error("sqlite", exc, "claiming jobs", "jobs.db")
    assert error is not None and type(error) is StoreError
    assert str(error) == "SQLite database 'jobs.db' failed while claiming jobs: no such column: nothing_here"
    assert store_error("sqlite", MemoryError(), "claiming jobs") is None
    assert store_error("postgres", KeyError("x"), "claiming jobs") is None


def test_the_missing_directory_of_a_sqlite_file_is_named(tmp_path: Path) -> None:
    """A SQLite path in a directory that does not exist: the error names both, creates nothing."""
    path = tmp_path / "nowhere" / "jobs.db"
    store = open_store(f"sqlite:///{path}")
    try:
        with pytest.raises(StoreError, match=rf"cannot open SQLite database '{path}': "
                           rf"{path.parent} does not exist"):
            store.counts()
    finally:
        store.close()
    assert not os.path.exists(path.parent)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_every_operation_says_what_it_was_doing(backend: str) -> None:
    """Each operation a store translates the errors of has its words for the messages."""
    if backend == "sqlite":
        store_class: type = SQLiteStore
    else:
        from jobtrail.store.postgres import PostgresStore  # needs the postgres extra

        store_class = PostgresStore
    translated = [name for name, member in inspect.getmembers(store_class, inspect.isfunction)
                  if not name.startswith("_") and getattr(member, "__wrapped__", None)]
    assert len(translated) > 25
    assert [name for name in translated if name not in DOING] == []
