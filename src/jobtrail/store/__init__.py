"""Storage: the `Store` contract and the function that opens a backend from a URL.

URLs:

- ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (the embedded default
  is ``sqlite:///jobtrail.db``);
- ``postgresql://user@host:port/dbname`` (needs the ``postgres`` extra).
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from jobtrail.errors import ConfigurationError
from jobtrail.store.base import Store

DEFAULT_URL = "sqlite:///jobtrail.db"
URL_ENV = "JOBTRAIL_URL"

__all__ = ["DEFAULT_URL", "URL_ENV", "Store", "open_store", "parse_url", "resolve_url"]


def resolve_url(url: str | None) -> str:
    """The URL to use: *url*, else ``$JOBTRAIL_URL``, else the embedded default."""
    return url or os.environ.get(URL_ENV) or DEFAULT_URL


def parse_url(url: str) -> tuple[str, str]:
    """Split a URL into (backend, target); raise `ConfigurationError` when it is unusable."""
    if url.startswith("sqlite:"):
        if not url.startswith("sqlite:///"):
            raise ConfigurationError(
                f"SQLite URL {url!r} must look like sqlite:///relative.db or sqlite:////abs/path.db"
            )
        path = url[len("sqlite:///"):]
        if not path or path == ":memory:":
            raise ConfigurationError(
                f"SQLite URL {url!r} must name a database file: workers in other threads and "
                "processes share it, which an in-memory database cannot do"
            )
        return "sqlite", path
    if url.startswith(("postgresql://", "postgres://")):
        return "postgres", url
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise ConfigurationError(
        f"unsupported database URL scheme {scheme!r} in {url!r}: "
        "use sqlite:///path.db or postgresql://user@host/db"
    )


def open_store(url: str | None = None, **options: Any) -> Store:
    """Open the backend a URL names; raise `ConfigurationError` for a URL it cannot use."""
    backend, target = parse_url(resolve_url(url))
    if backend == "sqlite":
        from jobtrail.store.sqlite import SQLiteStore

        return SQLiteStore(target, **options)
    if not all(importlib.util.find_spec(name) for name in ("psycopg", "psycopg_pool")):
        raise ConfigurationError(
            "PostgreSQL support needs the postgres extra: pip install 'jobtrail[postgres]'"
        )
    from jobtrail.store.postgres import PostgresStore

    return PostgresStore(target, **options)
