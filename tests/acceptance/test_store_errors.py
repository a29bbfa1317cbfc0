"""A database that cannot be used ends the command with one line on stderr, in the user's
terms, and exit code 4 — PostgreSQL away, missing or refusing the user; a SQLite file
that cannot be opened, read or written. A password is never printed."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.acceptance.conftest import SECRET, Cli, on_server, with_password

APP_SOURCE = '''
import os

from jobtrail import App

app = App(os.environ["STORE_URL"])

@app.job
def add(a: int, b: int) -> int:
    return a + b
'''

COMMANDS = {
    "jobs list": ["jobs", "list", "--url", "{url}"],
    "jobs show": ["jobs", "show", "1", "--url", "{url}"],
    "dlq list": ["dlq", "list", "--url", "{url}"],
    "db upgrade": ["db", "upgrade", "--url", "{url}"],
    "enqueue": ["enqueue", "store_app:app", "add", "--arg", "a=1", "--arg", "b=2"],
    "cancel": ["cancel", "1", "2", "--url", "{url}"],
    "dlq replay --all": ["dlq", "replay", "--all", "--since", "1h", "--yes", "--url", "{url}"],
}


def run_command(cli: Cli, name: str, url: str) -> str:
    """Run command *name* on the database *url*; return its one error line (exit 4)."""
    (cli.cwd / "store_app.py").write_text(APP_SOURCE)
    run = cli(*(arg.format(url=url) for arg in COMMANDS[name]), STORE_URL=url)
    assert run.code == 4, (name, run.code, run.stdout, run.stderr)
    assert SECRET not in run.stdout + run.stderr, name
    line = run.error_line()
    assert not re.match(r"error: (PostgreSQL|SQLite) \w+ failed: ", line), line
    return line


def run_every_command(cli: Cli, url: str) -> dict[str, str]:
    """Each command of `COMMANDS` on *url*, a few at once (each waits about a second for
    the connection pool): its one error line."""
    with ThreadPoolExecutor(max_workers=len(COMMANDS)) as pool:
        lines = pool.map(lambda name: run_command(cli, name, url), COMMANDS)
        return dict(zip(COMMANDS, lines, strict=True))


def test_a_server_that_refuses_connections_is_one_line(cli: Cli) -> None:
    """Nothing listening at the URL's port: each command says PostgreSQL cannot be reached
    there."""
    lines = run_every_command(cli, f"postgresql://postgres:{SECRET}@127.0.0.1:1/jobs")
    expected = "error: cannot reach PostgreSQL at 127.0.0.1:1: connection refused"
    assert {name: line for name, line in lines.items() if not line.startswith(expected)} == {}


@pytest.mark.postgres
def test_an_unknown_database_is_one_line_saying_how_to_create_it(cli: Cli, pg_url: str) -> None:
    """A database the server does not have: each command names it and how to create it."""
    lines = run_every_command(cli, with_password(on_server(pg_url, "jobtrail_nowhere")))
    for line in lines.values():
        assert "database 'jobtrail_nowhere' does not exist on PostgreSQL at " in line
        assert "createdb " in line and "CREATE DATABASE jobtrail_nowhere" in line


@pytest.mark.postgres
def test_an_unknown_user_is_one_line(cli: Cli, pg_url: str) -> None:
    """A role the server does not know: each command names it."""
    url = with_password(on_server(pg_url, "postgres", user="jobtrail_nobody"))
    for line in run_every_command(cli, url).values():
        assert "has no user 'jobtrail_nobody': check the user in the URL" in line


@pytest.mark.postgres
def test_db_upgrade_of_a_missing_database_says_how_to_create_it_and_creates_nothing(
    cli: Cli, pg_url: str
) -> None:
    """db upgrade does not create a PostgreSQL database: it exits 4 naming createdb and
    CREATE DATABASE, and how to upgrade afterwards with the password masked."""
    url = with_password(on_server(pg_url, "jobtrail_nowhere"))
    line = run_command(cli, "db upgrade", url)
    assert line.endswith(
        f"then run `jobtrail db upgrade --url '{url.replace(SECRET, '***')}'` "
        "(with the password in place of ***)"
    ), line
    assert cli("jobs", "list", "--url", url).code == 4
    help_text = cli("db", "upgrade", "--help").stdout
    assert "SQLite: creates the database file" in help_text
    assert "PostgreSQL: the database must exist" in help_text


@pytest.mark.postgres
def test_a_database_without_tables_names_the_upgrade_that_works_as_printed(
    cli: Cli, bare_pg_database: str
) -> None:
    """A command on a database without jobtrail's tables suggests db upgrade with its --url,
    and that command, run as printed, lets the first one work."""
    line = run_command(cli, "jobs list", bare_pg_database)
    hint = line.split("run `", 1)[1].rstrip("`")
    assert hint == f"jobtrail db upgrade --url {bare_pg_database}"
    assert cli.shell(hint).code == 0
    assert cli("jobs", "list", "--url", bare_pg_database).code == 0


def test_debug_shows_the_driver_logs(cli: Cli) -> None:
    """--debug lets the database driver's warnings through, before the error line."""
    run = cli("--debug", "jobs", "list", "--url", "postgresql://postgres@127.0.0.1:1/jobs")
    assert run.code == 4
    assert "WARNING psycopg.pool" in run.stderr
    assert run.stderr.rstrip().splitlines()[-1].startswith("error: cannot reach PostgreSQL")


# -- SQLite ----------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["db upgrade", "enqueue", "jobs list"])
def test_a_database_in_a_missing_directory_is_one_line(cli: Cli, command: str) -> None:
    """A SQLite path whose directory does not exist: one line naming the path, nothing created."""
    line = run_command(cli, command, "sqlite:///nowhere/jobs.db")
    assert "SQLite database" in line and "'nowhere/jobs.db'" in line, line
    assert not (cli.cwd / "nowhere").exists()


@pytest.mark.parametrize("command", ["db upgrade", "enqueue", "jobs list", "jobs show"])
def test_a_file_that_is_not_a_database_is_one_line(cli: Cli, command: str) -> None:
    """A file that is not SQLite: one line naming it, and the file is left as it was."""
    junk = cli.cwd / "notes.db"
    junk.write_text("shopping list: milk, eggs, and a working database\n")
    line = run_command(cli, command, "sqlite:///notes.db")
    assert line == ("error: 'notes.db' is not a usable SQLite database (file is not a database): "
                    "check the path, or restore the database from a backup")
    assert junk.read_text().startswith("shopping list")


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make *path* read-only, even for root (which ignores the mode: ``chattr +i``)."""
    path.chmod(0o444)
    immutable = False
    try:
        with contextlib.suppress(PermissionError), path.open("a"):
            if not shutil.which("chattr"):
                pytest.skip("running as root without chattr: no way to make a file read-only")
            chattr = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
            if chattr.returncode != 0:
                pytest.skip(f"running as root and chattr +i failed: {chattr.stderr!r}")
            immutable = True
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(0o644)


def test_a_read_only_database_is_one_line_and_loses_nothing(cli: Cli) -> None:
    """Enqueueing into a read-only SQLite file exits 4 with one line saying it is read-only;
    the jobs already in it can still be listed."""
    url = "sqlite:///shop.db"
    (cli.cwd / "store_app.py").write_text(APP_SOURCE)
    assert cli("enqueue", "store_app:app", "add", "--arg", "a=1", "--arg", "b=2",
               STORE_URL=url).code == 0
    with read_only(cli.cwd / "shop.db"):
        line = run_command(cli, "enqueue", url)
        assert line == (
            "error: cannot write to SQLite database 'shop.db': it is read-only "
            "(check the permissions of the file and of its directory)"
        )
        assert run_command(cli, "cancel", url) == line  # nothing cancelled, nothing lost
        listed = cli("jobs", "list", "--url", url, "--json")
        assert listed.code == 0, listed.stderr
        assert [(job["job_name"], job["status"]) for job in listed.json()["jobs"]] == [
            ("add", "queued")]
    assert os.access(cli.cwd / "shop.db", os.W_OK)
