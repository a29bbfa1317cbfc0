"""The databases the core benchmark measures: a temporary SQLite file, a PostgreSQL database."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

from corebench.terminal import console
from jobtrail import App


class Backend:
    name: str
    url: str

    def reset(self) -> None:
        """Leave an empty, migrated database."""
        raise NotImplementedError

    def analyze(self) -> None:
        """Refresh the planner's statistics after a fill (a no-op where there are none)."""

    def cleanup(self) -> None:
        pass


class SQLiteBackend(Backend):
    name = "sqlite"

    def __init__(self, directory: str | None) -> None:
        self.dir = tempfile.mkdtemp(prefix="jobtrail-bench-", dir=directory)
        self.path = os.path.join(self.dir, "bench.db")
        self.url = f"sqlite:///{self.path}"

    def reset(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path + suffix)
        app = App(self.url)
        try:
            app.upgrade()
        finally:
            app.close()

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresBackend(Backend):
    name = "postgres"

    def __init__(self, url: str) -> None:
        self.url = url

    @staticmethod
    def check(url: str) -> str | None:
        """``None`` when the benchmark can use *url* (creating its database if
        missing), else why not."""
        try:
            import psycopg
        except ImportError:
            return "psycopg is not installed (pip install -e '.[postgres]')"
        try:
            import jobtrail.store.postgres  # noqa: F401
        except ImportError as exc:
            return f"jobtrail has no PostgreSQL backend here ({exc})"
        try:
            psycopg.connect(url, connect_timeout=3).close()
            return None
        except psycopg.OperationalError as exc:
            if "does not exist" not in str(exc):
                return f"cannot connect to {url}: {str(exc).strip()}"
        # The server answers but the database is missing: create it.
        from psycopg import conninfo, sql

        info = conninfo.conninfo_to_dict(url)
        dbname = info.get("dbname")
        if not dbname:
            return f"{url} names no database"
        admin = conninfo.make_conninfo(url, dbname="postgres")
        try:
            with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(dbname))))
        except psycopg.Error as exc:
            return f"cannot create database {dbname!r}: {str(exc).strip()}"
        console.print(f"[dim]created PostgreSQL database {dbname!r}[/]")
        return None

    def reset(self) -> None:
        import psycopg

        app = App(self.url)
        try:
            app.upgrade()
        finally:
            app.close()
        with psycopg.connect(self.url, autocommit=True) as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename LIKE 'jobtrail\\_%' AND tablename <> 'jobtrail_schema'"
                )
            ]
            if tables:
                conn.execute(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY"
                )
            conn.execute("VACUUM ANALYZE")

    def analyze(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE jobtrail_jobs")


def chosen(which: str, pg_url: str) -> list[Backend] | None:
    """The backends a script's ``--backend sqlite|postgres|all`` asks for. PostgreSQL is
    skipped, saying why, when ``all`` asked for it and it cannot be used; ``None`` (the
    script exits 1) when it was asked for by name."""
    backends: list[Backend] = []
    if which in ("sqlite", "all"):
        backends.append(SQLiteBackend(None))
    if which in ("postgres", "all"):
        reason = PostgresBackend.check(pg_url)
        if reason is None:
            backends.append(PostgresBackend(pg_url))
        elif which == "postgres":
            console.print(f"[red]PostgreSQL unavailable: {reason}[/]")
            return None
        else:
            console.print(f"[yellow]PostgreSQL skipped: {reason}[/]")
    return backends
