"""Helpers for acceptance tests: the ``jobtrail`` command run in a subprocess, in a
temporary directory holding a small app module and its SQLite database."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

SHOP_SOURCE = textwrap.dedent(
    '''
    """A small app for the acceptance tests."""

    from jobtrail import App, Context, Permanent, Retry

    app = App("sqlite:///shop.db")
    not_an_app = 42


    @app.job(retry=Retry(max_attempts=2, base=0, jitter="none"))
    def add(ctx: Context, a: int, b: int) -> int:
        ctx.event("adding", a=a, b=b)
        return a + b


    @app.job(queue="mail")
    def greet(name: str, times: int = 1) -> str:
        return " ".join([f"hello {name}"] * times)


    @app.job(retry=Retry(max_attempts=2, base=0, jitter="none"))
    def decline(card: str) -> None:
        raise Permanent(f"card {card} declined")
    '''
)

#: A password put in PostgreSQL URLs to check it is never printed (the test server trusts
#: local connections, so it ignores it).
SECRET = "s3cret-pw"

#: Keys every job has in ``--json`` output.
JOB_KEYS = {
    "id", "job_name", "queue", "status", "priority", "attempts", "max_attempts", "args",
    "result", "error", "outcome", "created_at", "run_at", "started_at", "finished_at",
    "worker_id", "parent_job_id", "trace_id", "variant", "code_version",
}


def with_password(url: str) -> str:
    """*url* with a password in it: its own, else `SECRET` (a SQLite URL is left alone)."""
    parts = urlsplit(url)
    if not url.startswith("postgres") or parts.password:
        return url
    user = parts.username or "postgres"
    netloc = f"{user}:{SECRET}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def password_in(url: str) -> str | None:
    """The password *url* holds, if any."""
    return urlsplit(url).password if url.startswith("postgres") else None


@dataclass(frozen=True)
class Run:
    """What one ``jobtrail`` invocation did."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """Standard output parsed as JSON."""
        return json.loads(self.stdout)

    def error_line(self) -> str:
        """The single line written on standard error (asserting there is exactly one)."""
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1, f"expected one error line, got:\n{self.stderr}"
        assert lines[0].startswith("error: "), lines[0]
        assert "Traceback" not in self.stderr
        return lines[0]


@dataclass(frozen=True)
class Cli:
    """Runs ``python -m jobtrail`` in a directory, with no jobtrail variable inherited."""

    cwd: Path
    env: dict[str, str]

    def __call__(self, *args: str, timeout: float = 60, **env: str) -> Run:
        done = subprocess.run(
            [sys.executable, "-m", "jobtrail", *args],
            cwd=self.cwd, env={**self.env, **env}, capture_output=True, text=True,
            timeout=timeout, check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    def shell(self, script: str, timeout: float = 60, **env: str) -> Run:
        """Run *script* with ``sh``, as a user would paste it, ``jobtrail`` on the PATH."""
        shims = self.cwd / ".bin"
        shims.mkdir(exist_ok=True)
        shim = shims / "jobtrail"
        shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m jobtrail "$@"\n')
        shim.chmod(0o755)
        path = f"{shims}{os.pathsep}{self.env.get('PATH', '')}"
        done = subprocess.run(
            ["sh", "-c", script], cwd=self.cwd, env={**self.env, "PATH": path, **env},
            capture_output=True, text=True, timeout=timeout, check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)


@dataclass(frozen=True)
class Shop:
    """The test app module written to the working directory."""

    target: str = "shop:app"
    url: str = "sqlite:///shop.db"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """The command, run in *tmp_path*."""
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith("JOBTRAIL_") and key != "COLUMNS"
    }
    temporary = tmp_path / "tmp"  # the system's temporary directory, for this test alone
    temporary.mkdir()
    env["TMPDIR"] = str(temporary)
    return Cli(tmp_path, env)


@pytest.fixture
def shop(tmp_path: Path) -> Shop:
    """``shop.py`` (jobs ``add``, ``greet``, ``decline``) in the working directory."""
    (tmp_path / "shop.py").write_text(SHOP_SOURCE)
    return Shop()


def on_server(pg_url: str, database: str, user: str | None = None) -> str:
    """The URL of *database* (as *user*) on the server of the test database *pg_url*."""
    parts = urlsplit(pg_url)
    netloc = parts.netloc if user is None else f"{user}@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{database}"))


@pytest.fixture
def bare_pg_database(pg_url: str) -> Iterator[str]:
    """The URL of a new PostgreSQL database without jobtrail's tables, dropped afterwards."""
    import psycopg

    name = f"jobtrail_bare_{os.getpid()}"
    admin_url = on_server(pg_url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    yield on_server(pg_url, name)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@dataclass(frozen=True)
class Worked:
    """Ids of jobs that ran: one succeeded (``add``) and one dead (``decline``)."""

    added: int
    declined: int


@pytest.fixture
def worked(cli: Cli, shop: Shop) -> Worked:
    """A database where ``add(a=2, b=3)`` succeeded and ``decline`` is a dead letter."""
    added = cli("enqueue", shop.target, "add", "--arg", "a=2", "--arg", "b=3")
    declined = cli("enqueue", shop.target, "decline", "--arg", "card=4000")
    assert added.code == declined.code == 0, added.stderr + declined.stderr
    ran = cli("worker", shop.target, "--burst")
    assert ran.code == 0, ran.stderr
    return Worked(int(added.stdout), int(declined.stdout))
