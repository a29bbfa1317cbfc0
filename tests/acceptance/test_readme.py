"""The README's Quick start runs as written: its files copied into an empty directory, its
commands run as a user would paste them."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from jobtrail import App, Status
from tests.acceptance.conftest import Cli

README = Path(__file__).resolve().parents[2] / "README.md"
#: The worker waits up to this long for every job (retries back off for up to seconds).
SETTLE_TIMEOUT = 90.0
PYTHON = shlex.quote(sys.executable)  # the README's ``python``


def quick_start() -> tuple[dict[str, str], list[str]]:
    """The Quick start's Python files (by the name on their first line) and its shell lines."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    files = {}
    for block in re.findall(r"```python\n(.*?)```", section, re.S):
        first = block.splitlines()[0]
        assert first.startswith("# ") and first.endswith(".py"), first
        files[first[2:]] = block
    commands = [
        line.split("#", 1)[0].strip()
        for block in re.findall(r"```sh\n(.*?)```", section, re.S)
        for line in block.splitlines() if line.strip()
    ]
    return files, commands


def final_jobs(url: str) -> list[tuple[str, dict[str, object], Status, object]] | None:
    """Every job of *url* as (name, args, status, result) once all are final, else None."""
    app = App(url)
    try:
        jobs = app.jobs(limit=1_000)
    finally:
        app.close()
    if not jobs or not all(job.is_final for job in jobs):
        return None
    return [(job.job_name, job.args or {}, job.status, job.result) for job in jobs]


def test_the_quick_start_runs_as_written(cli: Cli) -> None:
    """tasks.py, enqueue.py, the worker command and report.py of the README run from an
    empty directory: every charge is paid but the declined cards, dead-lettered, and the
    notification is delivered; nothing dies of a missing name."""
    files, commands = quick_start()
    assert set(files) == {"tasks.py", "enqueue.py", "report.py"}
    for name, source in files.items():
        (cli.cwd / name).write_text(source, encoding="utf-8")
    enqueued = cli.shell(f"{PYTHON} enqueue.py")
    assert enqueued.code == 0, enqueued.stderr
    assert "job 'charge': argument 'invoice_id' expected int, got 'seven'" in enqueued.stdout
    assert "enqueued job 1: queued" in enqueued.stdout

    long_running, burst = commands
    assert "--burst" in burst and "--burst" not in long_running
    worker = subprocess.Popen(
        ["sh", "-c", f"exec {long_running}"], cwd=cli.cwd, env=shell_env(cli),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    url = f"sqlite:///{cli.cwd / 'jobtrail.db'}"
    try:
        deadline = time.monotonic() + SETTLE_TIMEOUT
        jobs = None
        while jobs is None and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.2)
            jobs = final_jobs(url)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    assert jobs is not None, f"jobs not all final within {SETTLE_TIMEOUT:g}s:\n{err[-2000:]}"
    assert worker.returncode == 0, err[-2000:]
    assert "NameError" not in err
    charges = [(int(str(args["invoice_id"])), status, result)
               for name, args, status, result in jobs if name == "charge"]
    declined = {invoice for invoice, _, _ in charges if invoice % 50 == 13}
    assert declined == {13, 63}
    assert sorted(invoice for invoice, _, _ in charges) == [7, 8, *range(10, 100)]
    for invoice, status, result in charges:
        expected = (Status.DEAD, None) if invoice in declined else (Status.SUCCEEDED, "paid")
        assert (status, result) == expected, invoice
    assert [(name, status) for name, _, status, _ in jobs if name == "notify"] == [
        ("notify", Status.SUCCEEDED)]
    assert "to user 1: your invoice is paid" in out

    nothing_left = cli.shell(burst, timeout=60)
    assert nothing_left.code == 0, nothing_left.stderr
    report = cli.shell(f"{PYTHON} report.py")
    assert report.code == 0, report.stderr
    lines = report.stdout.splitlines()
    assert [line.split()[1] for line in lines[:3]] == ["succeeded"] * 3
    dead = [line for line in lines if line.startswith("dead letter:")]
    assert len(dead) == 2 and all("card declined" in line for line in dead)


def shell_env(cli: Cli) -> dict[str, str]:
    """The environment `Cli.shell` gives a pasted command: ``jobtrail`` on the PATH."""
    cli.shell("true")  # writes the ``jobtrail`` shim
    return {**cli.env, "PATH": f"{cli.cwd / '.bin'}{os.pathsep}{cli.env.get('PATH', '')}"}
