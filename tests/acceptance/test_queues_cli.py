"""``jobtrail queues``: each queue's jobs by status, its oldest runnable job, its throughput
and p95 wait, as a table, as JSON and watched (in a subprocess, on both backends)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import pytest

from jobtrail import App, Permanent, Retry
from jobtrail.testing import run_until_idle
from tests.acceptance.conftest import Cli
from tests.support.proxy import FlakyProxy

STATUSES = {"queued", "running", "retrying", "succeeded", "dead", "orphaned", "cancelled"}
QUEUE_KEYS = {"queue", "total", "counts", "ready", "scheduled", "oldest_ready", "finished",
              "throughput_per_minute", "started", "p95_wait"}


def fill(app: App) -> None:
    """Three greetings that succeed and one scheduled for later on ``mail``, one charge
    that dies on ``billing``."""

    @app.job(queue="mail")
    def greet(name: str) -> str:
        return f"hello {name}"

    @app.job(queue="billing", retry=Retry(max_attempts=1))
    def charge(card: str) -> None:
        raise Permanent(f"card {card} declined")

    for name in ("ada", "bob", "cy"):
        greet.enqueue(name=name)
    greet.enqueue(name="later", delay=3600)  # type: ignore[call-arg]
    charge.enqueue(card="4000")
    run_until_idle(app)


@pytest.fixture
def filled(make_app: Callable[..., App], db_url: str) -> str:
    """The URL of a database holding the jobs `fill` makes, run."""
    fill(make_app())
    return db_url


def test_queues_json_counts_each_queue_and_its_flow(cli: Cli, filled: str) -> None:
    """--json gives the time, the window in seconds and one entry per queue, by name: its
    jobs by status, ready and scheduled, jobs finished and the p95 wait of its claims."""
    run = cli("queues", "--url", filled, "--json")
    assert run.code == 0, run.stderr
    report = run.json()
    assert set(report) == {"at", "window", "queues"} and report["window"] == 300.0
    assert datetime.fromisoformat(report["at"]).utcoffset() is not None
    billing, mail = report["queues"]
    assert set(mail) == QUEUE_KEYS and set(mail["counts"]) == STATUSES
    assert (billing["queue"], mail["queue"]) == ("billing", "mail")
    assert billing["counts"]["dead"] == 1 and billing["finished"] == 1
    assert (mail["counts"]["succeeded"], mail["counts"]["queued"], mail["total"]) == (3, 1, 4)
    assert (mail["ready"], mail["scheduled"], mail["oldest_ready"]) == (0, 1, None)
    assert mail["finished"] == mail["started"] == 3
    assert mail["throughput_per_minute"] == pytest.approx(3 / 5)
    assert isinstance(mail["p95_wait"], float) and 0 <= mail["p95_wait"] < 60


def test_queues_prints_the_flow_and_the_statuses_of_each_queue(cli: Cli, filled: str) -> None:
    """The table names each queue with its ready, scheduled and running jobs, its oldest
    ready job, jobs done per minute and p95 wait, then its jobs by status."""
    run = cli("queues", "--url", filled)
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("Queues at ") and lines[0].endswith("over the last 5m")
    assert lines[1].split() == ["Queue", "Ready", "Scheduled", "Running", "Oldest", "ready", "Done/min", "p95",
            "wait"]
    mail = next(line.split() for line in lines[3:] if line.startswith("mail"))
    assert mail[:5] == ["mail", "0", "1", "0", "-"] and mail[5] == "0.6"
    assert "Jobs by status" in run.stdout
    by_status = [line.split() for line in lines if line.startswith("billing")][-1]
    assert by_status == ["billing", "0", "0", "0", "0", "1", "0", "0"]


@pytest.mark.parametrize(("given", "seconds"), [("90s", 90), ("5m", 300), ("2h", 7200),
                                                ("1.5d", 129_600), ("366d", 31_622_400)])
def test_the_window_takes_seconds_minutes_hours_or_days(
    cli: Cli, filled: str, given: str, seconds: float
) -> None:
    """--window reads a number with its unit, and the report says what it covered."""
    run = cli("queues", "--url", filled, "--json", "--window", given)
    assert run.code == 0, run.stderr
    assert run.json()["window"] == seconds


@pytest.mark.parametrize(("given", "reason"), [
    ("5", "is not a duration"), ("five minutes", "is not a duration"), ("-5m", "is not a duration"),
    ("0m", "out of range"), ("367d", "out of range"), ("1e9s", "is not a duration"),
])
def test_a_bad_window_is_one_clear_line(cli: Cli, filled: str, given: str, reason: str) -> None:
    """A window without its unit, of nothing, or beyond a year and a day is a usage error."""
    run = cli("queues", "--url", filled, "--window", given)
    assert run.code == 2 and run.stdout == ""
    line = run.error_line()
    assert "--window" in line and reason in line and repr(given) in line


def test_an_empty_database_has_no_jobs(cli: Cli, make_app: Callable[..., App],
                                       db_url: str) -> None:
    """A database with no job says so, and --json gives an empty list of queues; both exit 0."""
    make_app()
    human = cli("queues", "--url", db_url)
    assert (human.code, human.stdout, human.stderr) == (0, "no jobs\n", "")
    as_json = cli("queues", "--url", db_url, "--json")
    assert as_json.code == 0 and as_json.json()["queues"] == []


def test_queues_reads_the_app_named_by_module_app(cli: Cli, filled: str) -> None:
    """--app MODULE:APP reads that app's database, like every read command."""
    (cli.cwd / "mailer.py").write_text(
        "import os\nfrom jobtrail import App\napp = App(os.environ['MAILER_URL'])\n")
    run = cli("queues", "--app", "mailer:app", "--json", MAILER_URL=filled)
    assert run.code == 0, run.stderr
    assert [q["queue"] for q in run.json()["queues"]] == ["billing", "mail"]


def test_a_queue_named_with_control_characters_is_shown_escaped(
    cli: Cli, make_app: Callable[..., App], db_url: str
) -> None:
    """A queue name holding an escape sequence, a newline and wide characters is printed
    escaped on one line, and comes back exact in JSON."""
    app = make_app()
    name = "mail\x1b[2J\n✉ 漢字"

    @app.job(queue=name)
    def post() -> None:
        """A job of the hostile queue."""

    post.enqueue()
    human = cli("queues", "--url", db_url, COLUMNS="80")
    assert human.code == 0, human.stderr
    assert "\x1b" not in human.stdout and "mail\\x1b[2J\\n✉ 漢字" in human.stdout
    (queue,) = cli("queues", "--url", db_url, "--json").json()["queues"]
    assert queue["queue"] == name and queue["ready"] == 1


def test_a_database_that_is_away_is_one_line_and_exit_4(cli: Cli, backend: str,
                                                        db_url: str) -> None:
    """A SQLite file that does not exist, or a PostgreSQL server that does not answer,
    ends the command at once with one line and the store's exit code, watching or not."""
    if backend == "sqlite":
        url = "sqlite:///missing.db"
    else:
        url = urlunsplit(urlsplit(db_url)._replace(netloc="postgres@127.0.0.1:1"))
    for extra in ([], ["--watch", "0.2"], ["--json"]):
        run = cli("queues", "--url", url, *extra)
        assert run.code == 4 and run.stdout == ""
        assert ("no SQLite database" if backend == "sqlite" else "cannot reach") in (
            run.error_line())
    assert not (cli.cwd / "missing.db").exists()


# -- watching ------------------------------------------------------------------------------------
@contextmanager
def watching(cli: Cli, *args: str, terminal: bool = False) -> Iterator[Watch]:
    """``jobtrail queues --watch`` running, its output on a pipe or a terminal; killed if
    the test leaves it running."""
    env = {**cli.env, "COLUMNS": "80", "LINES": "40", "TERM": "xterm"}
    command = [sys.executable, "-m", "jobtrail", "queues", *args]
    if terminal:
        main, child = pty.openpty()
        process = subprocess.Popen(command, cwd=cli.cwd, env=env, stdin=child, stdout=child,
                                   stderr=child)
        os.close(child)
        watch = Watch(process, main)
    else:
        process = subprocess.Popen(command, cwd=cli.cwd, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        assert process.stdout is not None
        watch = Watch(process, process.stdout.fileno())
    try:
        yield watch
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        if terminal:
            os.close(watch.fd)


class Watch:
    """A watch in a subprocess, and what it has printed so far."""

    def __init__(self, process: subprocess.Popen[bytes], fd: int) -> None:
        self.process, self.fd, self.output = process, fd, ""

    def until(self, text: str, count: int = 1, timeout: float = 30.0) -> str:
        """Read until *text* was printed *count* times in all; return everything so far."""
        deadline = time.monotonic() + timeout
        while self.output.count(text) < count:
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} not printed {count} times in:\n{self.output}"
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.5))
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # a terminal whose other end closed
                    chunk = b""
                assert chunk, f"the watch ended early:\n{self.output}"
                self.output += chunk.decode("utf-8", "replace")
        return self.output

    def interrupt(self) -> int:
        """Ctrl-C: the exit code the watch ends with."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=30)


def test_watch_on_a_pipe_prints_one_snapshot_after_another(cli: Cli, filled: str) -> None:
    """Not on a terminal, --watch prints a whole snapshot per refresh; Ctrl-C ends it with
    exit 0 and nothing on standard error."""
    with watching(cli, "--url", filled, "--watch", "0.2") as watch:
        shown = watch.until("Jobs by status", count=3)
        assert watch.interrupt() == 0
        assert watch.process.stderr is not None and watch.process.stderr.read() == b""
    assert shown.count("Queues at ") >= 3 and "\x1b[" not in shown


def test_watch_with_json_prints_one_object_per_line(cli: Cli, filled: str) -> None:
    """--watch --json prints each refresh as one JSON object on its own line."""
    with watching(cli, "--url", filled, "--watch", "0.2", "--json") as watch:
        shown = watch.until("\n", count=2)
        assert watch.interrupt() == 0
    reports = [json.loads(line) for line in shown.splitlines()[:2]]
    assert [[q["queue"] for q in r["queues"]] for r in reports] == [["billing", "mail"]] * 2


def test_watch_on_a_terminal_refreshes_in_place(cli: Cli, filled: str) -> None:
    """On a terminal the report is redrawn over itself (the cursor goes back up), and
    Ctrl-C leaves the last one on screen, the cursor shown, with exit 0."""
    with watching(cli, "--url", filled, "--watch", "0.2", terminal=True) as watch:
        watch.until("Queues at ", count=3)
        assert watch.interrupt() == 0
        shown = watch.until("\x1b[?25h")  # the cursor shown again
    assert "\x1b[1A" in shown and "Traceback" not in shown and "interrupted" not in shown


def test_a_watch_says_when_the_database_is_lost_and_carries_on(
    cli: Cli, filled: str, backend: str
) -> None:
    """A refresh that cannot read the database says why, in one line, and a later one shows
    the queues again: PostgreSQL cut off and back, a SQLite file deleted and made anew."""
    if backend == "postgres":
        parts = urlsplit(filled)
        proxy = FlakyProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
        url = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    else:
        url = filled
    try:
        with watching(cli, "--url", url, "--watch", "0.2") as watch:
            watch.until("Jobs by status")
            if backend == "postgres":
                proxy.cut()
            else:  # as `jobtrail demo` does: the file deleted, a new one made at its path
                path = urlsplit(filled).path
                for suffix in ("", "-wal", "-shm"):
                    os.remove(path + suffix)
                other = App(filled)
                other.upgrade()

                @other.job(queue="cleanup")
                def sweep() -> None:
                    """A job of the database that takes the watched one's place."""

                sweep.enqueue()
                other.close()
            shown = watch.until("cannot read the queues")
            if backend == "postgres":
                proxy.restore()
            after = len(shown)
            shown = watch.until("Jobs by status", count=shown.count("Jobs by status") + 1)
            assert watch.interrupt() == 0
    finally:
        if backend == "postgres":
            proxy.close()
    words = " ".join(shown.split())  # the line wraps at 80 columns
    failure = words[words.index("cannot read the queues"):]
    assert "); trying again" in failure
    if backend == "sqlite":
        assert failure.startswith("cannot read the queues (the SQLite database")
        # Deleted, or already replaced by the new file, when the refresh came.
        assert re.search(r"was (deleted|replaced by another file) while in use\); trying again",
                         failure)
        assert "cleanup" in shown[after:]  # the file now at the path
    else:
        assert failure.startswith("cannot read the queues (")
        assert "mail" in shown[after:]


@pytest.mark.parametrize("given", ["0", "0.01", "1x", "soon", "2d"])
def test_a_bad_watch_interval_is_one_clear_line(cli: Cli, filled: str, given: str) -> None:
    """--watch takes from a tenth of a second to a day."""
    run = cli("queues", "--url", filled, f"--watch={given}")
    assert run.code == 2 and "--watch" in run.error_line()
