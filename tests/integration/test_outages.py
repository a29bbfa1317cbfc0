"""The database goes away mid-run and comes back: workers wait, reconnect and lose nothing."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from jobtrail import App, Status, Worker
from tests.support.proxy import FlakyProxy


def drain_in_thread(app: App) -> tuple[Worker, threading.Thread]:
    worker = Worker(app, concurrency=4, burst=True, install_signals=False)
    thread = threading.Thread(target=worker.run)
    thread.start()
    return worker, thread


def test_sqlite_locked_by_another_process_is_waited_out(tmp_path: Path) -> None:
    """While another connection holds the database locked, the worker backs off and then finishes."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    app = App(url, store_options={"busy_timeout": 0.2})
    runs: Counter[int] = Counter()

    @app.job
    def tick(n: int) -> None:
        runs[n] += 1
        time.sleep(0.002)

    tick.enqueue_many([{"n": i} for i in range(300)])
    blocker = sqlite3.connect(tmp_path / "jobs.db", isolation_level=None)
    worker, thread = drain_in_thread(app)
    time.sleep(0.1)
    blocker.execute("BEGIN EXCLUSIVE")
    time.sleep(1.5)
    blocker.execute("ROLLBACK")
    blocker.close()
    thread.join(60)
    assert not thread.is_alive()
    assert worker.stats.store_errors > 0
    assert app.counts() == {("default", Status.SUCCEEDED): 300}
    assert set(runs) == set(range(300))
    app.close()


@pytest.mark.postgres
def test_postgres_connection_loss_is_survived(pg_url: str) -> None:
    """Cutting every connection to PostgreSQL mid-run: the worker reconnects and every job ends succeeded."""
    from tests.conftest import _empty_pg

    _empty_pg(pg_url)
    parts = urlsplit(pg_url)
    proxy = FlakyProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    via_proxy = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    app = App(via_proxy, lease=5.0)
    producer = App(pg_url)
    runs: Counter[int] = Counter()

    @app.job
    def tick(n: int) -> None:
        runs[n] += 1
        time.sleep(0.005)

    producer.job(tick.fn)
    producer.job_named("tick").enqueue_many([{"n": i} for i in range(400)])
    try:
        worker, thread = drain_in_thread(app)
        time.sleep(0.3)
        proxy.cut()
        time.sleep(2.0)
        proxy.restore()
        thread.join(90)
        assert not thread.is_alive()
    finally:
        proxy.close()
    assert worker.stats.store_errors > 0
    assert producer.counts() == {("default", Status.SUCCEEDED): 400}
    assert set(runs) == set(range(400))
    app.close()
    producer.close()
