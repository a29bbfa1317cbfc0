"""Schema migrations: numbered files per backend that build the same tables, idempotently."""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

import jobtrail.store.sqlite.schema as sqlite_runner
from jobtrail.errors import SchemaOutdated
from jobtrail.store import open_store
from jobtrail.store.base import StepRecord
from jobtrail.store.sqlfiles import latest_version, migrations
from jobtrail.store.sqlite import SQLiteStore

BACKENDS = ("sqlite", "postgres")
FILE_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")
#: Created by the stores themselves, before the first migration runs.
SCHEMA_TABLE = "jobtrail_schema"
#: Words that open a table constraint rather than a column inside CREATE TABLE (...).
CONSTRAINTS = {"constraint", "primary", "unique", "check", "foreign", "exclude"}

Schema = dict[str, set[str]]


def migration_files(backend: str) -> list[str]:
    folder = resources.files("jobtrail.store").joinpath("migrations", backend)
    return sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".sql"))


def split_top_level(body: str) -> list[str]:
    """Split the inside of ``CREATE TABLE x (...)`` on commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in body:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part.strip() for part in parts if part.strip()]


def parse_schema(scripts: list[str]) -> Schema:
    """Tables and their columns as SQL scripts declare them, applied in order.

    A rough reading of the SQL: ``CREATE TABLE``, ``ALTER TABLE ... ADD/DROP [COLUMN]``,
    ``ALTER TABLE ... RENAME [COLUMN] a TO b`` and ``DROP TABLE``; names are lower-cased.
    """
    tables: Schema = {}
    for script in scripts:
        sql = re.sub(r"--[^\n]*", "", script)
        for statement in (part.strip() for part in sql.split(";")):
            words = statement.lower().split()
            if words[:2] == ["create", "table"]:
                match = re.match(r"create\s+table\s+(?:if\s+not\s+exists\s+)?(\w+)\s*\(",
                                 statement, re.IGNORECASE)
                assert match, f"unreadable CREATE TABLE: {statement[:60]}"
                body = statement[match.end():statement.rindex(")")]
                tables[match[1].lower()] = {
                    item.split()[0].strip('"').lower()
                    for item in split_top_level(body)
                    if item.split()[0].lower() not in CONSTRAINTS
                }
            elif words[:2] == ["drop", "table"]:
                tables.pop(words[-1], None)
            elif words[:2] == ["alter", "table"]:
                _alter(tables, words[2], statement.split(None, 3)[3].lower())
    return tables


def _alter(tables: Schema, table: str, actions: str) -> None:
    for action in split_top_level(actions):
        verb, *rest = [w for w in action.split() if w not in ("column", "if", "not", "exists")]
        if verb == "add" and rest[0] not in CONSTRAINTS:
            tables[table].add(rest[0])
        elif verb == "drop" and rest[0] != "constraint":
            tables[table].discard(rest[0])
        elif verb == "rename" and len(rest) == 3 and rest[1] == "to":
            tables[table].discard(rest[0])
            tables[table].add(rest[2])


def declared_schema(backend: str) -> Schema:
    """Tables and columns the migrations of *backend* declare."""
    return parse_schema([migration.sql for migration in migrations(backend)])


def declared_indexes(backend: str) -> set[str]:
    """The indexes the migrations of *backend* create and do not drop, by name."""
    found: set[str] = set()
    for migration in migrations(backend):
        sql = re.sub(r"--[^\n]*", "", migration.sql).lower()
        for verb, name in re.findall(
                r"\b(create(?:\s+unique)?\s+index|drop\s+index)\s+(?:if\s+(?:not\s+)?exists\s+)?(\w+)",
                sql):
            if verb.startswith("create"):
                found.add(name)
            else:
                found.discard(name)
    return found


def sqlite_schema(path: Path) -> Schema:
    """Tables and columns that exist in a SQLite file."""
    with sqlite3.connect(path) as conn:
        names = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )]
        schema = {
            name: {row[1] for row in conn.execute(f"PRAGMA table_info({name})")}
            for name in names
        }
    conn.close()
    return schema


def sqlite_ddl(path: Path) -> list[tuple[str, str, str]]:
    """Every object's definition in a SQLite file, to compare snapshots."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
        ddl = [tuple(row) for row in rows]
    conn.close()
    return ddl


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "jobs.db"


@pytest.fixture
def sqlite_store(db_file: Path) -> Iterator[SQLiteStore]:
    """A store on a SQLite file that does not exist yet, migrating only when told to."""
    opened = SQLiteStore(str(db_file), auto_migrate=False)
    yield opened
    opened.close()


# -- the files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_files_are_numbered_consecutively_from_one(backend: str) -> None:
    """Every .sql file is named NNNN_description.sql and the numbers run 1, 2, 3… without gaps."""
    names = migration_files(backend)
    assert names, f"no migrations for {backend}"
    unnamed = [name for name in names if not FILE_NAME.match(name)]
    assert unnamed == [], "these files would be silently ignored"
    numbers = [int(FILE_NAME.match(name)[1]) for name in names]  # type: ignore[index]
    assert numbers == list(range(1, len(names) + 1))
    assert [m.version for m in migrations(backend)] == numbers
    assert latest_version(backend) == len(names)


def test_both_backends_have_the_same_migrations() -> None:
    """Each schema change exists for SQLite and PostgreSQL, under the same number and name."""
    assert migration_files("sqlite") == migration_files("postgres")


def test_both_backends_declare_the_same_tables_and_columns() -> None:
    """The two dialects describe one schema: same tables, same columns in each."""
    sqlite, postgres = declared_schema("sqlite"), declared_schema("postgres")
    assert sqlite, "found no CREATE TABLE in the SQLite migrations"
    assert sorted(sqlite) == sorted(postgres)
    for table in sqlite:
        assert sqlite[table] == postgres[table], table


def test_both_backends_declare_the_same_indexes() -> None:
    """Each index exists in both dialects under the same name, the index of runs among them."""
    sqlite, postgres = declared_indexes("sqlite"), declared_indexes("postgres")
    assert sqlite == postgres
    assert {"jobtrail_jobs_runs", "jobtrail_divergences_by_kind"} <= sqlite


def test_every_table_is_namespaced() -> None:
    """Tables start with ``jobtrail_`` so they can share a database with the application's."""
    for backend in BACKENDS:
        assert all(name.startswith("jobtrail_") for name in declared_schema(backend))


def test_the_schema_reader_follows_later_alterations() -> None:
    """The rough SQL reader used here understands the statements later migrations will use."""
    scripts = [
        """-- a comment; with a semicolon
        CREATE TABLE IF NOT EXISTS jobtrail_a (
            id INTEGER PRIMARY KEY,
            kind TEXT CHECK (kind IN ('x', 'y')),
            n numeric(10, 2),
            PRIMARY KEY (id),
            CONSTRAINT positive CHECK (n > 0)
        );
        CREATE TABLE jobtrail_b (id bigint);""",
        """ALTER TABLE jobtrail_a ADD COLUMN extra text, DROP COLUMN kind;
        ALTER TABLE jobtrail_a RENAME COLUMN n TO amount;
        ALTER TABLE jobtrail_a ADD CONSTRAINT u UNIQUE (extra);
        DROP TABLE jobtrail_b;""",
    ]
    assert parse_schema(scripts) == {"jobtrail_a": {"id", "amount", "extra"}}


# -- SQLite ----------------------------------------------------------------------------------


def test_an_empty_sqlite_file_is_at_version_zero(sqlite_store: SQLiteStore) -> None:
    """Before any migration the schema version is 0."""
    assert sqlite_store.schema_version() == 0


def test_migrating_an_empty_sqlite_file_creates_every_declared_table(
    sqlite_store: SQLiteStore, db_file: Path
) -> None:
    """After migrating, the tables of both backends' CREATE TABLE statements exist, with
    exactly the columns SQLite's migrations declare."""
    latest = latest_version("sqlite")
    assert sqlite_store.migrate() == list(range(1, latest + 1))
    assert sqlite_store.schema_version() == latest
    actual = sqlite_schema(db_file)
    expected = set(declared_schema("sqlite")) | set(declared_schema("postgres")) | {SCHEMA_TABLE}
    assert sorted(actual) == sorted(expected)
    for table, columns in declared_schema("sqlite").items():
        assert actual[table] == columns, table


def test_a_migrated_sqlite_file_has_every_declared_index(
    sqlite_store: SQLiteStore, db_file: Path
) -> None:
    """After migrating, SQLite holds exactly the indexes the migrations declare (besides
    those it makes for primary keys and unique columns)."""
    sqlite_store.migrate()
    with sqlite3.connect(db_file) as conn:
        names = {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    conn.close()
    assert names == declared_indexes("sqlite")


def test_migrating_twice_changes_nothing(sqlite_store: SQLiteStore, db_file: Path) -> None:
    """A second migrate applies nothing and leaves the schema exactly as it was."""
    sqlite_store.migrate()
    before = sqlite_ddl(db_file)
    assert sqlite_store.migrate() == []
    again = SQLiteStore(str(db_file))
    try:
        assert again.migrate() == []
        assert again.schema_version() == latest_version("sqlite")
    finally:
        again.close()
    assert sqlite_ddl(db_file) == before
    with sqlite3.connect(db_file) as conn:
        versions = [row[0] for row in conn.execute(f"SELECT version FROM {SCHEMA_TABLE}")]
    conn.close()
    assert versions == list(range(1, latest_version("sqlite") + 1))


@pytest.mark.parametrize("start", range(latest_version("sqlite")))
def test_an_older_sqlite_schema_is_upgraded_to_the_latest(
    start: int, db_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database made by a jobtrail that knew fewer migrations gets the missing ones only."""
    known = migrations("sqlite")
    latest = latest_version("sqlite")
    if start:
        with monkeypatch.context() as patch:
            patch.setattr(sqlite_runner, "migrations", lambda backend: known[:start])
            old = SQLiteStore(str(db_file), auto_migrate=False)
            assert old.migrate() == list(range(1, start + 1))
            old.close()
    store = SQLiteStore(str(db_file), auto_migrate=False)
    try:
        assert store.schema_version() == start
        assert store.migrate() == list(range(start + 1, latest + 1))
        assert store.schema_version() == latest
    finally:
        store.close()
    fresh = db_file.with_name("fresh.db")
    reference = SQLiteStore(str(fresh))
    reference.migrate()
    reference.close()
    assert sqlite_schema(db_file) == sqlite_schema(fresh)


def test_an_outdated_sqlite_schema_is_refused_without_auto_migrate(
    sqlite_store: SQLiteStore,
) -> None:
    """With ``auto_migrate=False`` an old database is an error telling how to upgrade."""
    with pytest.raises(SchemaOutdated, match=r"has schema version 0, expected \d+: run "
                       "`jobtrail db upgrade`"):
        sqlite_store.counts()


def test_a_schema_newer_than_this_jobtrail_is_refused(db_file: Path) -> None:
    """A database migrated by a newer jobtrail is not touched by this one, even auto-migrating."""
    first = SQLiteStore(str(db_file))
    first.migrate()
    first.close()
    newer = latest_version("sqlite") + 1
    with sqlite3.connect(db_file) as conn:
        conn.execute(f"INSERT INTO {SCHEMA_TABLE} VALUES (?, 'from the future', 0)", (newer,))
    conn.close()
    store = SQLiteStore(str(db_file))
    try:
        with pytest.raises(SchemaOutdated, match=f"schema version {newer}, newer than this "
                           "jobtrail knows"):
            store.counts()
    finally:
        store.close()


def test_an_empty_sqlite_file_is_migrated_on_first_use_by_default(db_file: Path) -> None:
    """Without ``auto_migrate=False`` the first operation brings the schema up to date."""
    store = SQLiteStore(str(db_file))
    try:
        assert store.counts() == {}
        assert store.schema_version() == latest_version("sqlite")
    finally:
        store.close()


# -- PostgreSQL -------------------------------------------------------------------------------


def postgres_schema(url: str) -> Schema:
    """Tables (named ``jobtrail_*``) and columns in the current schema of a database."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.table_name, c.column_name FROM information_schema.columns AS c "
            "JOIN information_schema.tables AS t USING (table_schema, table_name) "
            "WHERE c.table_schema = current_schema() AND c.table_name LIKE 'jobtrail\\_%' "
            "AND t.table_type = 'BASE TABLE'"
        ).fetchall()
    schema: Schema = {}
    for table, column in rows:
        schema.setdefault(table, set()).add(column)
    return schema


@pytest.fixture
def empty_pg_url(pg_url: str) -> Iterator[str]:
    """A brand-new, unmigrated PostgreSQL database on the test server, dropped afterwards."""
    import psycopg

    from tests.conftest import PG_ADMIN_URL

    name = f"jobtrail_migrations_{os.getpid()}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    yield f"{pg_url.rsplit('/', 1)[0]}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.postgres
def test_postgres_migrations_create_the_declared_tables_and_columns(pg_url: str) -> None:
    """After migrate, information_schema shows exactly the declared tables and columns."""
    actual = postgres_schema(pg_url)
    declared = declared_schema("postgres")
    assert sorted(actual) == sorted({*declared, SCHEMA_TABLE})
    for table, columns in declared.items():
        assert actual[table] == columns, table


@pytest.mark.postgres
def test_both_backends_end_up_with_the_same_tables_and_columns(
    pg_url: str, sqlite_store: SQLiteStore, db_file: Path
) -> None:
    """Migrated SQLite and PostgreSQL databases hold the same tables with the same columns,
    the schema-version table included."""
    sqlite_store.migrate()
    assert sqlite_schema(db_file) == postgres_schema(pg_url)


@pytest.mark.postgres
def test_postgres_has_every_declared_index(pg_url: str) -> None:
    """After migrate, PostgreSQL holds the declared indexes (besides those of its primary
    keys and unique constraints)."""
    import psycopg

    with psycopg.connect(pg_url) as conn:
        names = {row[0] for row in conn.execute(
            "SELECT i.indexname FROM pg_indexes AS i WHERE i.schemaname = current_schema() "
            "AND i.tablename LIKE 'jobtrail\\_%' AND NOT EXISTS (SELECT 1 FROM pg_constraint "
            "AS c WHERE c.conname = i.indexname)")}
    assert names == declared_indexes("postgres")


@pytest.mark.postgres
def test_postgres_migrate_is_idempotent(pg_url: str) -> None:
    """Migrating an up-to-date PostgreSQL database applies nothing."""
    store = open_store(pg_url)
    try:
        assert store.migrate() == []
        assert store.schema_version() == latest_version("postgres")
    finally:
        store.close()


@pytest.mark.postgres
def test_an_empty_postgres_database_is_upgraded_from_zero(empty_pg_url: str) -> None:
    """A new PostgreSQL database starts at version 0, migrates to the latest, then is stable."""
    store = open_store(empty_pg_url)
    try:
        assert store.schema_version() == 0
        with pytest.raises(SchemaOutdated):
            store.counts()
        latest = latest_version("postgres")
        assert store.migrate() == list(range(1, latest + 1))
        assert store.schema_version() == latest
        assert store.migrate() == []
        assert store.counts() == {}
    finally:
        store.close()
    assert sorted(postgres_schema(empty_pg_url)) == sorted(
        {*declared_schema("postgres"), SCHEMA_TABLE}
    )


def test_a_version_2_checkpoint_reads_the_same_after_upgrading_to_version_3(
    db_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 3 moves a stored path segment into its own column: its steps still resume."""
    with monkeypatch.context() as patch:
        patch.setattr(sqlite_runner, "migrations", lambda backend: migrations("sqlite")[:2])
        old = SQLiteStore(str(db_file), auto_migrate=False)
        old.migrate()
        old.close()
    segment = '[["step","load",0,1500,null,{"rows":3}],["event","sent",10,null,{"to":"x"}]]'
    with sqlite3.connect(db_file) as conn:
        conn.execute(
            "INSERT INTO jobtrail_jobs (id, job_name, queue, status, payload, max_attempts, "
            "attempts, run_at, created_at) VALUES (1, 'j', 'default', 'retrying', '{}', 3, 1, 0, 0)")
        conn.execute(
            "INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, attrs) "
            "VALUES (1, 1, 'path', 'segment', 1800000000.0, ?)", (segment,))
    conn.close()
    store = SQLiteStore(str(db_file), auto_migrate=False)
    try:
        assert store.migrate() == list(range(3, latest_version("sqlite") + 1))
        assert store.completed_steps([1]) == {1: {"load": [StepRecord('{"rows":3}')]}}
        assert [(e.kind, e.name, e.attrs) for e in store.events(1)] == [
            ("step", "load", {}), ("event", "sent", {"to": "x"})]
    finally:
        store.close()


def test_rows_of_version_5_read_the_same_after_upgrading_to_version_6(
    db_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 6 adds claims to path rows, repeated effects, milestones and redacted fields:
    older rows have none of them, and read as before (steps by attempt, nothing masked)."""
    with monkeypatch.context() as patch:
        patch.setattr(sqlite_runner, "migrations", lambda backend: migrations("sqlite")[:5])
        old = SQLiteStore(str(db_file), auto_migrate=False)
        old.migrate()
        old.close()
    segment = '[1800000000.0,["step","load",0,1500,null,1],["step","load",9,1500,null,2]]'
    with sqlite3.connect(db_file) as conn:
        conn.execute(
            "INSERT INTO jobtrail_jobs (id, job_name, queue, status, payload, max_attempts, "
            "attempts, run_at, created_at, finished_at, variant, claim) "
            "VALUES (1, 'j', 'default', 'dead', '{}', 3, 1, 0, 0, 1, 'step:load', 7)")
        conn.execute(
            "INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, path) "
            "VALUES (1, 1, 'path', 'segment', 1800000000.0, ?)", (segment,))
        conn.execute(
            "INSERT INTO jobtrail_effects (key, job_id, name, attempt, status, repeat_safe, "
            "started_at, claim) VALUES ('k', 1, 'pay', 1, 'started', 1, 0, 7)")
    conn.close()
    store = SQLiteStore(str(db_file), auto_migrate=False)
    try:
        assert store.migrate() == list(range(6, latest_version("sqlite") + 1))
        assert store.completed_steps([1]) == {1: {"load": [StepRecord("1"), StepRecord("2")]}}
        assert [e.result for e in store.saved_path(1)] == ["1", "2"]  # of no claim
        assert [e.claim for e in store.events(1)] == [None, None]
        assert store.effects(1)[0].repeated is False
        assert store.get(1).redact == frozenset()
        assert store.runs("j")[0].milestones == ()
    finally:
        store.close()
