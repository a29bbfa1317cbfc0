"""Read and change rows behind the store's back, to test what it stores and how it copes
with damaged data."""

from __future__ import annotations

import sqlite3
from typing import Any

from jobtrail.store import parse_url


def execute(url: str, sql: str, params: tuple[Any, ...] = ()) -> None:
    """Run one statement with ``?`` placeholders on the database at *url*, committed."""
    backend, target = parse_url(url)
    if backend == "sqlite":
        with sqlite3.connect(target) as conn:
            conn.execute(sql, params)
        return
    import psycopg

    with psycopg.connect(target) as conn:
        conn.execute(sql.replace("?", "%s"), params)


def fetch(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read rows behind the store's back, with ``?`` placeholders."""
    backend, target = parse_url(url)
    if backend == "sqlite":
        with sqlite3.connect(target) as conn:
            return conn.execute(sql, params).fetchall()
    import psycopg

    with psycopg.connect(target) as conn:
        return conn.execute(sql.replace("?", "%s"), params).fetchall()
