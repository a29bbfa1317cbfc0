"""``jobtrail schedules``: each periodic job's schedule, next fire and last tick fired, as a
table and as JSON (in a subprocess, on both backends)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from jobtrail import App
from jobtrail.scheduler import Scheduler
from tests.acceptance.conftest import Cli

SOURCE = '''
import os
from jobtrail import App

app = App(os.environ["PERIODIC_URL"])


@app.job(cron="*/15 * * * *", tz="America/New_York", catch_up=True)
def sync_rates() -> None: ...


@app.job(every=3600)
def nightly() -> None: ...


@app.job
def plain(n: int) -> int:
    return n
'''

SCHEDULE_KEYS = {"job", "queue", "cron", "every", "tz", "catch_up", "schedule", "next_fire",
                 "last_tick", "last_job_id", "last_fired_at"}


def test_schedules_lists_next_fires_and_the_last_tick_fired(
        cli: Cli, make_app: Callable[..., App], db_url: str) -> None:
    (cli.cwd / "periodic.py").write_text(SOURCE)
    app = make_app()

    @app.job(every=3600)
    def nightly() -> None: ...

    assert nightly.schedule is not None
    before = cli("schedules", "periodic:app", "--json", PERIODIC_URL=db_url)
    assert before.code == 0, before.stderr
    listed = before.json()
    assert [entry["job"] for entry in listed] == ["nightly", "sync_rates"]
    assert all(set(entry) == SCHEDULE_KEYS for entry in listed)
    night, rates = listed
    assert (night["every"], night["last_tick"], night["last_job_id"]) == (3600.0, None, None)
    assert (rates["cron"], rates["tz"], rates["catch_up"]) == ("*/15 * * * *",
                                                              "America/New_York", 1000)
    upcoming = datetime.fromisoformat(rates["next_fire"]).timestamp()
    assert 0 < upcoming - time.time() <= 15 * 60
    assert upcoming % (15 * 60) == 0

    # A tick fired (as a worker's scheduler would): the listing shows it and its job.
    tick = nightly.schedule.latest_at(time.time())
    fired = app.store.fire("nightly", tick, nightly.build((), {}), {})
    assert fired is not None
    after = cli("schedules", "periodic:app", "--json", PERIODIC_URL=db_url).json()
    assert after[0]["last_job_id"] == fired
    assert datetime.fromisoformat(after[0]["last_tick"]).timestamp() == tick
    human = cli("schedules", "periodic:app", PERIODIC_URL=db_url, COLUMNS="200")
    assert human.code == 0, human.stderr
    for text in ("nightly", "every 3600 s", "cron */15 * * * * (America/New_York)", str(fired)):
        assert text in human.stdout, human.stdout


def test_an_app_without_periodic_jobs_says_so(cli: Cli, db_url: str,
                                              make_app: Callable[..., App]) -> None:
    make_app()
    (cli.cwd / "plain.py").write_text(
        "import os\nfrom jobtrail import App\napp = App(os.environ['PERIODIC_URL'])\n"
        "@app.job\ndef ping() -> None: ...\n")
    human = cli("schedules", "plain:app", PERIODIC_URL=db_url)
    assert human.code == 0 and "declares no periodic jobs" in human.stdout
    assert cli("schedules", "plain:app", "--json", PERIODIC_URL=db_url).json() == []


def test_a_scheduler_on_an_app_without_periodic_jobs_starts_no_thread(
        make_app: Callable[..., App]) -> None:
    app = make_app()
    scheduler = Scheduler(app)
    scheduler.start()
    assert scheduler.jobs == [] and scheduler._thread is None
    scheduler.stop()
