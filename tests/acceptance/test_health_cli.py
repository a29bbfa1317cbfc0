"""``jobtrail health``: exit 0 when healthy; exit 1 naming each queue past its max_latency
or at its max_depth, stalled worker, overdue job and excess of dead letters (in a
subprocess, on both backends)."""

from __future__ import annotations

import time
from collections.abc import Callable

from jobtrail import App, Context, Permanent, Retry, Transient
from jobtrail.store.base import WorkerInfo
from jobtrail.testing import run_until_idle
from tests.acceptance.conftest import Cli

SOURCE = '''
import os
from jobtrail import App, Permanent, Retry

app = App(os.environ["HEALTH_URL"], lease=0.2)
app.queue("mail", max_latency=0.5, max_depth=3)


@app.job(queue="mail")
def send(n: int) -> None: ...


@app.job(timeout=0.3)
def crunch() -> None: ...


@app.job(retry=Retry(max_attempts=1))
def flaky(n: int) -> None:
    if n % 2:
        raise Permanent("odd")
'''


def test_health_is_0_when_healthy_and_1_naming_each_problem(
        cli: Cli, db_url: str, make_app: Callable[..., App]) -> None:
    app = make_app(lease=0.2)
    (cli.cwd / "ops.py").write_text(SOURCE)
    healthy = cli("health", "ops:app", HEALTH_URL=db_url)
    assert healthy.code == 0 and healthy.stdout.startswith("healthy at "), healthy.stderr

    app.queue("mail", max_latency=0.5, max_depth=3)
    send = app.job(queue="mail", name="send")(lambda n: None)
    crunch = app.job(timeout=0.3, name="crunch")(lambda: None)

    @app.job(retry=Retry(max_attempts=1))
    def flaky(n: int) -> None:
        if n % 2:
            raise Permanent("odd")

    @app.job(retry=Retry(max_attempts=5, base=0, jitter="none"))
    def stubborn(ctx: Context, n: int) -> None:
        if ctx.attempt < 5:
            raise Transient("busy")

    flaky.enqueue_many([{"n": n} for n in range(12)])
    stubborn.enqueue_many([{"n": n} for n in range(10)])
    run_until_idle(app)  # 6 of 22 dead, alike; stubborn: 5 attempts per success
    send.enqueue_many([{"n": n} for n in range(3)])  # full, and soon late
    crunch.enqueue()
    app.store.claim("w-gone", ["default"], 1, 60.0)  # crunch, now running (and soon late)
    app.store.heartbeat(WorkerInfo("w-gone", "host-a", 4242, None, 1), [], 60.0)
    time.sleep(1.0)
    report = cli("health", "ops:app", "--json", HEALTH_URL=db_url)
    assert report.code == 1, report.stdout + report.stderr
    found = {(f["check"], f["subject"]) for f in report.json()["findings"]}
    assert ("latency", "mail") in found and ("depth", "mail") in found
    assert ("stalled_worker", "w-gone") in found and ("dead_letters", "*") in found
    assert any(check == "overdue" for check, _ in found), found
    assert ("retries", "stubborn") in found
    assert ("failure_cluster", "jobtrail.errors.Permanent") in found
    human = cli("health", "ops:app", HEALTH_URL=db_url)
    assert human.code == 1 and human.stdout.startswith("unhealthy at ")
    assert "queue 'mail' is full: 3 jobs wait and its max_depth is 3" in human.stdout
    assert "has been running" in human.stdout and "past its timeout of 0.3s" in human.stdout
