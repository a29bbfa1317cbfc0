"""The schema of a SQLite file: its version and the migrations that bring it up to date."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from jobtrail.errors import StoreError
from jobtrail.store.audit import migrated_attrs
from jobtrail.store.sqlfiles import migrations, queries

_Q = queries("sqlite")


def version(conn: sqlite3.Connection) -> int:
    """The newest migration applied to the file (0 for an empty one)."""
    ((exists,),) = conn.execute(_Q["schema_table_exists"]).fetchall()
    return int(conn.execute(_Q["schema_version"]).fetchone()[0]) if exists else 0


def migrate(conn: sqlite3.Connection, now: float) -> list[int]:
    """Apply the migrations the file lacks, all in one write transaction, recording them
    as applied at *now*; return their versions."""
    applied: list[int] = []
    conn.execute(_Q["migration_lock"])
    try:
        conn.execute(_Q["create_schema_table"])
        current = version(conn)
        for migration in migrations("sqlite"):
            if migration.version <= current:
                continue
            for statement in statements(migration.sql):
                conn.execute(statement)
            conn.execute(_Q["record_migration"], {
                "version": migration.version, "description": migration.description,
                "now": now})
            applied.append(migration.version)
        if applied:
            conn.execute(_Q["audit_migrated"], {"now": now, "attrs": migrated_attrs(applied)})
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    return applied


def statements(script: str) -> Iterator[str]:
    """Split a migration script into complete statements."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statement = pending.strip()
            pending = ""
            if not _only_comments(statement):
                yield statement
    if not _only_comments(pending):
        raise StoreError(f"incomplete statement in migration: {pending.strip()[:80]}")


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in text.splitlines())
