"""The backends' SQL files: the same named queries on both sides, each one run by its backend."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from jobtrail.store.sqlfiles import queries, steps

BACKENDS = ("sqlite", "postgres")
#: Queries a file defines and documents as run by nobody: psycopg begins PostgreSQL's
#: transactions and savepoints itself (see begin_write in postgres.sql); SQLite notifies
#: no waiters, and reads its clock in Python.
NOT_RUN = {("postgres", "begin_write"), ("postgres", "enqueue_savepoint"),
           ("sqlite", "waiters_listening"), ("sqlite", "audit_now")}


def backend_source(backend: str) -> str:
    """The text of every module of *backend*'s package."""
    package = resources.files("jobtrail.store").joinpath(backend)
    return "\n".join(entry.read_text("utf-8") for entry in package.iterdir()
                     if entry.name.endswith(".py"))


def test_both_files_define_the_same_query_names() -> None:
    """sqlite.sql and postgres.sql name the same operations, so each reads side by side."""
    sqlite, postgres = set(queries("sqlite")), set(queries("postgres"))
    assert sqlite, "no named query found in sqlite.sql"
    assert sorted(sqlite - postgres) == [], "only in sqlite.sql"
    assert sorted(postgres - sqlite) == [], "only in postgres.sql"


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_query_is_run_by_its_backend(backend: str) -> None:
    """Each named query is used by the backend's code, but for those its file says nothing
    runs: no SQL is left behind when code stops using it."""
    source = backend_source(backend)
    unused = [name for name in queries(backend)
              if f'"{name}"' not in source and (backend, name) not in NOT_RUN]
    assert unused == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_step_holds_a_statement(backend: str) -> None:
    """No query, nor any step of one, is only comments."""
    for name in queries(backend):
        for step, text in steps(backend, name).items():
            code = re.sub(r"--[^\n]*", "", text).strip()
            assert code, f"{backend} query {name}, step {step}, holds no statement"


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_backend_modules_hold_no_statement_of_their_own(backend: str) -> None:
    """What a backend runs is in its .sql file: its modules add only the fixed clauses of
    optional filters."""
    source = backend_source(backend)
    statements = re.findall(r'"\s*(?:SELECT|INSERT|UPDATE|DELETE|CREATE|PRAGMA|BEGIN|COMMIT|ROLLBACK)\b',
                            source)
    assert statements == []
