"""``jobtrail health``: exit 0 when healthy; exit 1 naming each queue past its max_latency
or at its max_depth, stalled worker, overdue job and excess of dead letters (in a
subprocess, on both backends)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from jobtrail import App, Context, Permanent, Retry, Transient
from jobtrail.store.base import WorkerInfo
from jobtrail.testing import run_until_idle
from tests.acceptance.conftest import Cli
from tests.support.receiver import Receiver

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


WATCHED = '''
import os
from jobtrail import App

app = App(os.environ["HEALTH_URL"])
app.queue("mail", max_latency=0.3)


@app.job(queue="mail")
def send(n: int) -> None: ...
'''


def test_health_watch_posts_alerts_as_checks_change_and_stops_on_sigterm(
        cli: Cli, db_url: str, make_app: Callable[..., App]) -> None:
    """``health --watch`` posts a critical alert to --webhook when a queue falls behind,
    an info resolution once it catches up, prints each as a JSON line, and exits 0 on
    SIGTERM."""
    app = make_app()
    (cli.cwd / "watched.py").write_text(WATCHED)
    send = app.job(queue="mail", name="send")(lambda n: None)
    send.enqueue(n=1)
    with Receiver() as hooks:
        watcher = subprocess.Popen(
            [sys.executable, "-m", "jobtrail", "health", "watched:app", "--watch", "0.2s",
             "--webhook", hooks.url, "--json"],
            cwd=cli.cwd, env={**cli.env, "HEALTH_URL": db_url}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        try:
            (late,) = hooks.wait_for(1)
            assert (late["source"], late["kind"], late["subject"]) == ("health", "latency", "mail")
            assert late["severity"] == "critical" and not late["resolved"]
            run_until_idle(app)
            resolved = hooks.wait_for(2)[1]
            assert (resolved["kind"], resolved["resolved"], resolved["severity"]) == (
                "latency", True, "info")
            watcher.send_signal(signal.SIGTERM)
            out, err = watcher.communicate(timeout=15)
        finally:
            if watcher.poll() is None:
                watcher.kill()
                watcher.wait()
    assert watcher.returncode == 0, err
    printed = [json.loads(line) for line in out.splitlines()]
    assert [(p["kind"], p["resolved"]) for p in printed] == [("latency", False),
                                                             ("latency", True)]


def test_health_webhook_needs_watch_and_an_http_url(cli: Cli, db_url: str) -> None:
    """--webhook without --watch, or with a URL that is not http(s), is one clear error."""
    (cli.cwd / "watched.py").write_text(WATCHED)
    alone = cli("health", "watched:app", "--webhook", "http://127.0.0.1:9/x", HEALTH_URL=db_url)
    assert alone.code == 2 and "--webhook needs --watch" in alone.stderr
    bad = cli("health", "watched:app", "--watch", "1s", "--webhook", "mailto:ops",
              HEALTH_URL=db_url)
    assert bad.code == 2 and "http:// or https://" in bad.stderr
