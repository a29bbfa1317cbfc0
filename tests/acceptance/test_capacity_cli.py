"""``jobtrail capacity``: arrival rates and service times measured from real history, the
slots live workers give each queue, and the M/M/c answers built on them (in a subprocess,
on both backends)."""

from __future__ import annotations

import runpy
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from jobtrail import App, Worker
from jobtrail.capacity import percentile_wait, slots_needed
from jobtrail.cli.capacity import ASSUMPTIONS, UNSTABLE_NOTE
from jobtrail.testing import run_until_idle
from tests.acceptance.conftest import Cli

#: How long each ``work`` job sleeps: the service time the command must find.
SLEEP = 0.12
JOBS = 50

SOURCE = f'''
import os
import time

from jobtrail import App, Context, Retry, Transient

app = App(os.environ["CAPACITY_URL"])
app.queue("mail", max_latency=2.0)


@app.job(queue="work")
def work() -> None:
    time.sleep({SLEEP})


@app.job(queue="mail", retry=Retry(max_attempts=2, base=0, jitter="none"))
def mail(ctx: Context) -> None:
    time.sleep(0.01)
    if ctx.attempt == 1:
        raise Transient("busy")  # every mail takes two attempts


@app.job(queue="idle")
def never_run() -> None: ...
'''


@pytest.fixture
def shop_app(cli: Cli, db_url: str, monkeypatch: pytest.MonkeyPatch,
             make_app: Callable[..., App]) -> Iterator[App]:
    """The app of ``capacity_app.py`` (queues ``work``, ``mail`` with max_latency 2s, and
    ``idle``, served by nobody) on the database under test."""
    make_app()  # the tables
    (cli.cwd / "capacity_app.py").write_text(SOURCE)
    monkeypatch.setenv("CAPACITY_URL", db_url)
    app: App = runpy.run_path(str(cli.cwd / "capacity_app.py"))["app"]
    yield app
    app.close()


@contextmanager
def live_worker(app: App, queues: tuple[str, ...], concurrency: int) -> Iterator[None]:
    """A real worker of *queues* running in a thread, registered before the block runs."""
    worker = Worker(app, queues=queues, concurrency=concurrency, install_signals=False)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not any(w.id == worker.id for w in app.store.workers()):
            assert time.monotonic() < deadline, "the worker never registered"
            time.sleep(0.02)
        yield
    finally:
        worker.stop()
        thread.join(timeout=30)


def by_queue(found: Any) -> dict[str, dict[str, Any]]:
    return {entry["queue"]: entry for entry in found}


def words(text: str) -> str:
    """*text* with its lines joined, as wrapped notes read."""
    return " ".join(text.split())


def test_measures_arrivals_and_service_time_from_history(cli: Cli, db_url: str,
                                                         shop_app: App) -> None:
    """Fifty jobs sleeping 0.12s over a one-hour window: 50/3600 arrivals a second, a
    service time of about 0.12s with little variation, every attempt of a retried job
    counted, and today's slots those of the live worker of the queue."""
    work, mail = shop_app.job_named("work"), shop_app.job_named("mail")
    work.enqueue_many([{} for _ in range(JOBS)])
    mail.enqueue_many([{} for _ in range(4)])
    run_until_idle(shop_app, concurrency=10)
    with live_worker(shop_app, ("work",), concurrency=3):
        done = cli("capacity", "--url", db_url, "--json")
    assert done.code == 0, done.stderr
    queues = by_queue(done.json())
    stats = queues["work"]
    assert (stats["arrivals"], stats["finished"], stats["attempts"]) == (JOBS, JOBS, JOBS)
    assert stats["now"]["arrival_rate"] == pytest.approx(JOBS / 3600)
    assert SLEEP <= stats["service_time"] < SLEEP + 0.08
    assert stats["service_cv"] < 0.5
    assert stats["observed_wait"] >= 0
    assert stats["slots"] == 3 and queues["mail"]["slots"] == 0
    rate, service = stats["now"]["arrival_rate"], stats["service_time"]
    assert stats["now"]["utilisation"] == pytest.approx(rate * service / 3)
    assert stats["now"]["wait"] == pytest.approx(percentile_wait(3, rate, service, 95))
    assert stats["now"]["slots_needed"] == slots_needed(rate, service, 1.0, 95) == 1
    assert stats["doubled"]["stable"] is True
    assert (queues["mail"]["arrivals"], queues["mail"]["attempts"]) == (4, 8)
    assert queues["mail"]["now"]["wait"] is None  # no slot serves it


def test_doubled_traffic_on_todays_slots_is_unstable(cli: Cli, db_url: str,
                                                     shop_app: App) -> None:
    """Over a 10-second window, 50 jobs of 0.12s offer about 0.6 slots of work: one slot
    copes today, and doubled traffic on it is unstable, said in words, not as a number."""
    shop_app.job_named("work").enqueue_many([{} for _ in range(JOBS)])
    run_until_idle(shop_app, concurrency=25)
    with live_worker(shop_app, ("work",), concurrency=1):
        done = cli("capacity", "--url", db_url, "--window", "10s", "--json")
        table = cli("capacity", "--url", db_url, "--window", "10s", COLUMNS="200")
    assert done.code == 0, done.stderr
    stats = by_queue(done.json())["work"]
    load = stats["now"]["arrival_rate"] * stats["service_time"]
    assert 0.55 <= load < 1.0
    assert stats["slots"] == 1 and stats["now"]["stable"] is True
    assert stats["doubled"]["stable"] is False and stats["doubled"]["wait"] is None
    assert stats["doubled"]["slots_needed"] >= 2
    assert table.code == 0, table.stderr
    shown = words(table.stdout)
    assert UNSTABLE_NOTE in shown and ASSUMPTIONS in shown


def test_target_defaults_to_the_queues_max_latency(cli: Cli, db_url: str,
                                                   shop_app: App) -> None:
    """With --app, a queue declared with max_latency is held to it, the others to 1s;
    --target holds every queue to the one given."""
    shop_app.job_named("work").enqueue()
    shop_app.job_named("mail").enqueue()
    run_until_idle(shop_app)
    declared = by_queue(cli("capacity", "--app", "capacity_app:app", "--json",
                            CAPACITY_URL=db_url).json())
    assert (declared["mail"]["target"], declared["work"]["target"]) == (2.0, 1.0)
    given = cli("capacity", "--app", "capacity_app:app", "--target", "0.25s",
                "--percentile", "99", "--json", CAPACITY_URL=db_url)
    assert given.code == 0, given.stderr
    assert {entry["target"] for entry in given.json()} == {0.25}
    assert {entry["percentile"] for entry in given.json()} == {99.0}


def test_says_what_it_cannot_estimate(cli: Cli, db_url: str, shop_app: App) -> None:
    """An empty window says so; a queue whose jobs arrived but never ran is named, with no
    service time guessed for it."""
    empty = cli("capacity", "--url", db_url)
    assert empty.code == 0, empty.stderr
    assert empty.stdout.strip() == "no job arrived and no attempt ended in the last 1h"
    assert cli("capacity", "--url", db_url, "--json").json() == []
    shop_app.job_named("never_run").enqueue_many([{}, {}])
    done = cli("capacity", "--url", db_url, COLUMNS="200")
    assert done.code == 0, done.stderr
    assert ("queue 'idle': 2 jobs arrived but no attempt ended in the last 1h, so its "
            "service time cannot be estimated") in words(done.stdout)
    stats = by_queue(cli("capacity", "--url", db_url, "--json").json())["idle"]
    assert stats["estimable"] is False and stats["service_time"] is None
    assert stats["now"]["slots_needed"] is None


@pytest.mark.parametrize(("option", "value", "said"), [
    ("--target", "0", "'0' is out of range"),
    ("--percentile", "100", "100"),
    ("--percentile", "0", "0"),
    ("--window", "soon", "'soon' is not a duration"),
])
def test_bad_input_is_a_usage_error(cli: Cli, db_url: str, option: str, value: str,
                                    said: str) -> None:
    """A target of 0, a percentile outside (0, 100) or a malformed window is refused with
    one line naming the option, exit code 2."""
    done = cli("capacity", "--url", db_url, option, value)
    assert done.code == 2
    line = done.error_line()
    assert option in line and said in line
