"""The schema of a PostgreSQL database: its version and the migrations that bring it up
to date, serialised by an advisory lock."""

from __future__ import annotations

from typing import Any

from jobtrail.store.audit import migrated_attrs
from jobtrail.store.sqlfiles import migrations, queries

_Q = queries("postgres")
#: "jobtrail": the advisory lock every migrator takes.
MIGRATION_LOCK = 0x6A6F62747261696C


def version(conn: Any) -> int:
    """The newest migration applied to the database (0 for an empty one)."""
    ((exists,),) = conn.execute(_Q["schema_table_exists"]).fetchall()
    return int(conn.execute(_Q["schema_version"]).fetchall()[0][0]) if exists else 0


def migrate(conn: Any) -> list[int]:
    """Apply the migrations the database lacks, inside the caller's transaction; return
    their versions."""
    # Held until commit: a concurrent migrator waits, then finds nothing left to do.
    conn.execute(_Q["migration_lock"], {"key": MIGRATION_LOCK})
    conn.execute(_Q["create_schema_table"])
    current = version(conn)
    applied: list[int] = []
    for migration in migrations("postgres"):
        if migration.version > current:
            conn.execute(migration.sql)  # no parameters: runs as a multi-statement script
            conn.execute(
                _Q["record_migration"],
                {"version": migration.version, "description": migration.description},
            )
            applied.append(migration.version)
    if applied:
        conn.execute(_Q["audit_migrated"], {"attrs": migrated_attrs(applied)})
    return applied
