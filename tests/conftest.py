"""Fixtures shared by every test: a real SQLite file and a real PostgreSQL database.

PostgreSQL: ``JOBTRAIL_TEST_PG`` names a server/database to administer (default
``postgresql://postgres@127.0.0.1:5432/postgres``). The suite creates its own database
there for the session and empties it before each test. When the server cannot be
reached, PostgreSQL tests are skipped with the reason, except in CI (``CI`` set),
where they fail: CI must never pass without them.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jobtrail import App
from jobtrail.store import Store, open_store

PG_ADMIN_URL = os.environ.get("JOBTRAIL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgres"]


def _pg_admin() -> Any:
    import psycopg

    return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session", autouse=True)
def no_process_outlives_the_session() -> Iterator[None]:
    """Worker processes a failed test left running are killed when the session ends."""
    yield
    from tests.support.processes import children_of

    for pid in children_of(os.getpid()):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database of this test session, migrated, dropped at the end."""
    try:
        admin = _pg_admin()
    except Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {exc}")
    name = f"jobtrail_test_{os.getpid()}"
    with admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    store = open_store(url)
    store.migrate()
    store.close()
    yield url
    with _pg_admin() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _empty_pg(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE tablename LIKE 'jobtrail\\_%' "
                "AND tablename <> 'jobtrail_schema'"
            )
        ]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The name of the backend under test: each test using it runs on both."""
    if request.param == "postgres":
        request.node.add_marker(pytest.mark.postgres)
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Any, request: pytest.FixtureRequest) -> str:
    """An empty, migrated database of the backend under test."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.db'}"
    url: str = request.getfixturevalue("pg_url")
    _empty_pg(url)
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """An open store on the empty database."""
    opened = open_store(db_url)
    opened.migrate()
    yield opened
    opened.close()


@pytest.fixture
def make_app(db_url: str) -> Iterator[Callable[..., App]]:
    """Build apps on the empty database; they are closed after the test."""
    apps: list[App] = []

    def factory(**options: Any) -> App:
        app = App(db_url, **options)
        app.upgrade()
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.close()
