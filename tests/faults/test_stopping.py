"""A worker is always stoppable, quiet while its store fails, and leaves when it cannot go on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from jobtrail import App, Worker
from tests.conftest import _empty_pg
from tests.support import faulty
from tests.support.processes import ROOT, kill_worker, start_worker, worker_errors
from tests.support.proxy import FlakyProxy

FAULTY = "tests.support.faulty:app"


def stopped_within(proc: subprocess.Popen[bytes], seconds: float) -> int:
    """The exit code of *proc*, which must end within *seconds* (it is killed otherwise)."""
    try:
        return proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"the worker did not stop within {seconds}s") from None


def log_lines(log: Path, text: str) -> list[str]:
    return [line for line in worker_errors(log).splitlines() if text in line]


@pytest.fixture
def unmigrated_pg(pg_url: str) -> Iterator[str]:
    """An empty PostgreSQL database that was never upgraded."""
    import psycopg

    from tests.conftest import PG_ADMIN_URL

    name = f"jobtrail_unmigrated_{os.getpid()}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.postgres
def test_a_worker_on_an_unreachable_database_stops_on_sigterm(tmp_path: Path) -> None:
    """Nothing answers at the database's address: SIGTERM still stops the worker at once, cleanly."""
    log = tmp_path / "marks.log"
    proc = start_worker("postgresql://postgres@127.0.0.1:1/nowhere", log, app=FAULTY)
    time.sleep(2.0)
    assert proc.poll() is None, worker_errors(log)
    proc.send_signal(signal.SIGTERM)
    assert stopped_within(proc, 15) == 0, worker_errors(log)
    assert len(log_lines(log, "store error")) <= 3  # backed off, and said so once or twice


@pytest.mark.postgres
def test_a_database_lost_mid_job_holds_no_stop_back(pg_url: str, tmp_path: Path) -> None:
    """The database goes away while a job runs: SIGTERM ends the worker once the grace
    period is over, leaving the job to its lease, and a second SIGTERM ends it at once."""
    _empty_pg(pg_url)
    app = App(pg_url)
    job = app.job(retry=faulty.TWICE)(faulty.sleeper.fn)
    parts = urlsplit(pg_url)
    proxy = FlakyProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    via_proxy = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    log = tmp_path / "marks.log"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for round_, (grace, signals, limit) in enumerate(((1.0, 1, 12.0), (60.0, 2, 8.0))):
            job.enqueue(seconds=120)
            proc = start_worker(via_proxy, log, "--grace", str(grace), app=FAULTY)
            procs.append(proc)
            deadline = time.monotonic() + 30
            while log.exists() is False or len(log.read_text().splitlines()) <= round_:
                assert time.monotonic() < deadline, worker_errors(log)
                time.sleep(0.05)
            proxy.cut()
            time.sleep(0.5)
            started = time.monotonic()
            for _ in range(signals):
                proc.send_signal(signal.SIGTERM)
                time.sleep(0.2)
            stopped_within(proc, limit)
            assert time.monotonic() - started < limit
            proxy.restore()
            app.store.reap_expired()
    finally:
        for proc in procs:  # a failed assertion leaves no worker behind
            if proc.poll() is None:
                kill_worker(proc)
        proxy.close()
        app.close()


@pytest.mark.postgres
def test_a_burst_worker_on_an_unmigrated_database_says_what_to_do(unmigrated_pg: str,
                                                                   tmp_path: Path) -> None:
    """--burst on a database that was never upgraded exits 4 at once with the command to run."""
    log = tmp_path / "marks.log"
    proc = start_worker(unmigrated_pg, log, "--burst", app=FAULTY)
    assert stopped_within(proc, 30) == 4
    (line,) = log_lines(log, "jobtrail db upgrade --url")
    assert "schema version 0" in line and unmigrated_pg.rsplit("/", 1)[1] in line
    assert "Traceback" not in worker_errors(log)


@pytest.mark.postgres
def test_a_worker_on_an_unmigrated_database_waits_quietly_and_stops(unmigrated_pg: str,
                                                                     tmp_path: Path) -> None:
    """A long-running worker waits for the upgrade with backoff — a few log lines, not dozens
    a second — and stops at once on SIGTERM."""
    log = tmp_path / "marks.log"
    proc = start_worker(unmigrated_pg, log, app=FAULTY)
    time.sleep(4.0)
    proc.send_signal(signal.SIGTERM)
    assert stopped_within(proc, 15) == 0, worker_errors(log)
    assert 1 <= len(log_lines(log, "store error")) <= 3, worker_errors(log)


@pytest.mark.postgres
def test_a_burst_worker_gives_up_on_an_unreachable_database(tmp_path: Path) -> None:
    """--burst facing a database that never answers exits 4 after a bounded number of tries."""
    log = tmp_path / "marks.log"
    proc = start_worker("postgresql://postgres@127.0.0.1:1/nowhere", log, "--burst", app=FAULTY)
    assert stopped_within(proc, 60) == 4
    assert log_lines(log, "gave up after 5 failed tries"), worker_errors(log)


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_worker_whose_sqlite_file_goes_away_stops_with_the_reason(tmp_path: Path, how: str) -> None:
    """Deleting or replacing the database file under a running worker stops it (exit 4) with
    one line that says so, instead of writing on into a file nobody else sees."""
    path = tmp_path / "jobs.db"
    url = f"sqlite:///{path}"
    App(url).upgrade()
    log = tmp_path / "marks.log"
    proc = start_worker(url, log, app=FAULTY)
    time.sleep(1.5)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if how == "replaced":
        App(url).upgrade()
    assert stopped_within(proc, 15) == 4, worker_errors(log)
    (line,) = log_lines(log, f"was {how}")
    assert str(path) in line
    assert "Traceback" not in worker_errors(log)


def test_a_worker_on_a_damaged_sqlite_file_stops_with_one_line(tmp_path: Path) -> None:
    """A database file that is not a database: exit 4 and one clear line, no thread traceback."""
    path = tmp_path / "jobs.db"
    path.write_bytes(b"this is not a database " * 200)
    log = tmp_path / "marks.log"
    proc = start_worker(f"sqlite:///{path}", log, app=FAULTY)
    assert stopped_within(proc, 15) == 4, worker_errors(log)
    assert log_lines(log, "is not a usable SQLite database (file is not a database)")
    assert "Traceback" not in worker_errors(log)


def test_a_sqlite_transaction_keeps_the_error_that_ended_it(tmp_path: Path) -> None:
    """A MemoryError inside a write stays a MemoryError, even when SQLite already rolled back."""
    app = App(f"sqlite:///{tmp_path / 'jobs.db'}")
    store = app.store
    store.counts()
    with pytest.raises(MemoryError), store._write() as conn:  # type: ignore[attr-defined]
        conn.execute("ROLLBACK")  # as SQLite does itself when it runs out of memory
        raise MemoryError()
    assert store.counts() == {}  # and the store is usable afterwards
    app.close()


def test_a_worker_whose_claims_run_out_of_memory_leaves(make_app: Callable[..., App],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A MemoryError from the store is not a store error to wait out: the worker raises it."""
    app = make_app()
    app.job(faulty.sleeper.fn)

    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise MemoryError()

    monkeypatch.setattr(app.store, "claim", out_of_memory)
    app.enqueue("sleeper", seconds=0)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            Worker(app, install_signals=False).run()
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(20)
    assert not thread.is_alive() and len(failures) == 1
    assert isinstance(failures[0], MemoryError)


def test_a_worker_process_out_of_memory_is_restarted_by_its_supervisor(db_url: str,
                                                                      tmp_path: Path) -> None:
    """The worker process that cannot claim exits, and its supervisor starts a fresh one."""
    log = tmp_path / "marks.log"
    proc = start_worker(db_url, log, app=FAULTY, env={"WORKLOAD_FAULT": "claim-out-of-memory"})
    deadline = time.monotonic() + 30
    while len(log_lines(log, "restarting")) < 2:
        assert time.monotonic() < deadline, worker_errors(log)
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    stopped_within(proc, 15)
    assert log_lines(log, "MemoryError")


def test_the_sqlite_watcher_of_a_damaged_file_ends_quietly(tmp_path: Path) -> None:
    """The watcher of a store on a damaged file marks the store lost, without a thread traceback."""
    path = tmp_path / "jobs.db"
    path.write_bytes(b"garbage" * 1000)
    code = (
        "import time\n"
        "from jobtrail.store.sqlite import SQLiteStore\n"
        f"store = SQLiteStore({str(path)!r})\n"
        "watch = store.watch(lambda: None)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=30, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "Traceback" in done.stderr and "StoreLost" in done.stderr  # watch() itself says so
    watcher = (
        "import time\n"
        "from jobtrail.store.sqlite import SQLiteStore\n"
        "from jobtrail.store.sqlite.watch import DataVersionWatch\n"
        f"store = SQLiteStore({str(path)!r})\n"
        "watch = DataVersionWatch(store, lambda: None, 0.01)\n"
        "time.sleep(1.0)\n"
        "watch.stop()\n"
        "print(store._lost)\n"
    )
    done = subprocess.run([sys.executable, "-c", watcher], capture_output=True, text=True,
                          cwd=ROOT, timeout=30, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "is not a usable SQLite database (file is not a database)" in done.stdout
