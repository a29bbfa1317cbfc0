"""Every table and view the command line prints fits an 80-column terminal: ids whole, long
names, paths and errors elided in the middle or wrapped, control characters escaped; and
``--wide`` shows every text whole (in a subprocess, on both backends)."""

from __future__ import annotations

import re
import runpy
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from rich.cells import cell_len

from jobtrail import App
from jobtrail.testing import run_until_idle
from tests.acceptance.conftest import Cli, Run
from tests.support import rawsql

#: Ids this long (19 digits, near PostgreSQL's bigint limit) must never be cut.
BIG_ID = 9_000_000_000_000_000_001
JOB = "process_" + "x" * 180 + "_END"
QUEUE = "queue-" + "q" * 180 + "-END"
#: The first line of the error of the jobs that die, and how it reads when shown.
ERROR_LINE = "START-OF-ERROR " + "e" * 400 + " \x1b[31mred END-OF-LINE-ONE"
SHOWN_ERROR_LINE = "Permanent: " + ERROR_LINE.replace("\x1b", "\\x1b")

HOSTILE_SOURCE = f'''
import os

from jobtrail import App, Context, Permanent, Retry
from jobtrail.paths.rules import enqueued, succeeded

app = App(os.environ["HOSTILE_URL"])


@app.job(name={JOB!r}, queue={QUEUE!r}, retry=Retry(max_attempts=1),
         expect="load effect:charge")
def fails(ctx: Context, n: int) -> None:
    ctx.step("load-" + "s" * 150 + "-END", lambda: n)
    for i in range(20):
        ctx.step(f"visit-{{i:02d}}-" + "v" * 10, lambda: i)
    ctx.event("milestone-" + "m" * 150 + "-END")
    ctx.effect("charge-" + "c" * 150, lambda: "ok", key="key-" + "k" * 150 + f"-{{n}}")
    if n % 2:
        raise Permanent({ERROR_LINE!r} + "\\nsecond line")


def fails_v2(ctx: Context, n: int) -> None:
    ctx.step("load-" + "s" * 150 + "-END", lambda: n)


@app.job(name="follow_up_" + "f" * 150)
def follow_up(n: int) -> None:
    pass


app.paths.shadow(fails, fails_v2)
app.paths.rule("every order " + "r" * 150 + " is followed up", when=succeeded(fails),
               then=enqueued(follow_up), within=0.001)
'''


@dataclass(frozen=True)
class Command:
    """A command that prints a table, the exit code it ends with here, and what it shows
    whole even at 80 columns (ids)."""

    args: tuple[str, ...]
    code: int = 0
    shows_ids: bool = False


def commands() -> list[Command]:
    """Every command that prints a table or a view, on the hostile database."""
    source = ("--app", "hostile:app")
    job = str(BIG_ID)
    return [
        Command(("jobs", "list", *source), shows_ids=True),
        Command(("jobs", "show", job, *source), shows_ids=True),
        Command(("dlq", "list", *source), shows_ids=True),
        Command(("dlq", "show", job, *source), shows_ids=True),
        Command(("paths", "show", job, *source), shows_ids=True),
        Command(("paths", "variants", JOB, *source)),
        Command(("paths", "funnel", JOB, *source)),
        Command(("paths", "divergences", *source), shows_ids=True),
        Command(("paths", "shadow", JOB, *source), shows_ids=True),
        Command(("queues", *source)),
        Command(("retries", *source)),
        Command(("capacity", *source)),
        Command(("resources", *source)),
        Command(("describe", "hostile:app")),
        Command(("flows", "coverage", "hostile:app")),
        Command(("rules", "check", "hostile:app"), code=1, shows_ids=True),
        Command(("run", "hostile:app", JOB, "--dry-run", "--arg", "n=1"), code=1),
    ]


@pytest.fixture
def hostile(cli: Cli, db_url: str, backend: str, monkeypatch: pytest.MonkeyPatch,
            make_app: Callable[..., App]) -> str:
    """A database of jobs with names and a queue of about 200 characters, errors of 400
    with a control character, paths of 20 steps, and ids of 19 digits, all run."""
    make_app()  # the tables
    (cli.cwd / "hostile.py").write_text(HOSTILE_SOURCE)
    monkeypatch.setenv("HOSTILE_URL", db_url)
    app: App = runpy.run_path(str(cli.cwd / "hostile.py"))["app"]
    job = app.job_named(JOB)
    if backend == "postgres":
        rawsql.execute(db_url, f"ALTER TABLE jobtrail_jobs ALTER COLUMN id RESTART WITH {BIG_ID}")
        job.enqueue(n=1)
    else:  # SQLite numbers the next job after the highest id
        job.enqueue(n=1)
        rawsql.execute(db_url, "UPDATE jobtrail_jobs SET id = ? WHERE id = 1", (BIG_ID,))
        rawsql.execute(db_url, "UPDATE jobtrail_events SET job_id = ? WHERE job_id = 1", (BIG_ID,))
    for n in range(2, 5):
        job.enqueue(n=n)
    for _ in range(2):  # the shadow runs the first pass enqueued
        run_until_idle(app)
    app.close()
    return db_url


def run_all(cli: Cli, url: str, *extra: str) -> list[tuple[Command, Run]]:
    done = []
    for command in commands():
        run = cli(*command.args, *extra, COLUMNS="80", HOSTILE_URL=url)
        assert run.code == command.code, (command.args[:2], run.stderr)
        done.append((command, run))
    return done


def test_every_table_fits_80_columns_with_ids_whole(cli: Cli, hostile: str) -> None:
    """At 80 columns no line of any table or view is wider, every id is shown whole,
    long texts keep their start and end around "…", and no control character reaches
    the terminal."""
    for command, run in run_all(cli, hostile):
        where = command.args[:2]
        too_wide = [line for line in run.stdout.splitlines() if cell_len(line) > 80]
        assert too_wide == [], where
        assert "\x1b" not in run.stdout, where
        if command.shows_ids:
            ids = re.findall(r"9000000\d*", run.stdout)
            assert ids, where
            assert {len(found) for found in ids} == {19}, (where, ids)
    listed = cli("jobs", "list", "--app", "hostile:app", COLUMNS="80", HOSTILE_URL=hostile)
    (dead,) = [line for line in listed.stdout.splitlines() if line.startswith(str(BIG_ID))]
    error = dead.split()[-1]
    assert error.startswith("Perm") and "…" in error and error.endswith("ONE")


def test_wide_shows_every_text_whole(cli: Cli, hostile: str) -> None:
    """With --wide nothing is elided: the whole job name, queue and first line of the
    error are in the lists, and every command shows the job's or the queue's full name."""
    for command, run in run_all(cli, hostile, "--wide"):
        where = command.args[:2]
        assert "…" not in run.stdout, where
        assert JOB in run.stdout or QUEUE in run.stdout, where
        assert "\x1b" not in run.stdout, where
    for listing in (("jobs", "list"), ("dlq", "list")):
        run = cli(*listing, "--app", "hostile:app", "--wide", COLUMNS="80", HOSTILE_URL=hostile)
        assert JOB in run.stdout and SHOWN_ERROR_LINE in run.stdout
        assert QUEUE in run.stdout and str(BIG_ID) in run.stdout


def test_at_80_columns_the_error_comes_before_the_creation_time(cli: Cli, worked: object) -> None:
    """Jobs with short names show every column; when an error needs the room, the list
    leaves out the creation time rather than cut the error."""
    url = "sqlite:///shop.db"
    succeeded = cli("jobs", "list", "--status", "succeeded", COLUMNS="80", JOBTRAIL_URL=url)
    assert succeeded.code == 0, succeeded.stderr
    header = succeeded.stdout.splitlines()[0].split()
    assert header == ["ID", "Job", "Queue", "Status", "Attempts", "Created", "(UTC)", "Error"]
    everything = cli("jobs", "list", COLUMNS="80", JOBTRAIL_URL=url)
    assert everything.stdout.splitlines()[0].split() == [
        "ID", "Job", "Queue", "Status", "Attempts", "Error"]
    assert "Permanent: card 4000 declined" in everything.stdout
    for run in (succeeded, everything):
        assert all(cell_len(line) <= 80 for line in run.stdout.splitlines())
