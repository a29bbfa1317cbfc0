"""Helpers for acceptance tests: the ``jobtrail`` command run in a subprocess, in a
temporary directory holding a small app module and its SQLite database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

#: Keys every job has in ``--json`` output.
JOB_KEYS = {
    "id", "job_name", "queue", "status", "priority", "attempts", "max_attempts", "args",
    "result", "error", "outcome", "created_at", "run_at", "started_at", "finished_at",
    "worker_id", "parent_job_id", "trace_id", "variant", "code_version",
}


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
    return Cli(tmp_path, env)


@pytest.fixture
def shop(tmp_path: Path) -> Shop:
    """``shop.py`` (jobs ``add``, ``greet``, ``decline``) in the working directory."""
    (tmp_path / "shop.py").write_text(SHOP_SOURCE)
    return Shop()


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
