"""Prometheus metrics of real workers, on both backends: the counters worker processes write
(added up across processes), the gauges read from the store at scrape time, /healthz, a
store that is down, hostile names, the ASGI app and promtool's verdict on the exposition."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from jobtrail import App, Context, Permanent, Retry, Status, Transient
from jobtrail.metrics import asgi_app, instrument, multiprocess
from jobtrail.metrics.endpoints import Endpoints
from jobtrail.records import ErrorInfo
from jobtrail.store.base import WorkerInfo
from jobtrail.testing import run_until_idle
from tests.support.processes import ROOT

METERED = textwrap.dedent('''
    """Jobs that succeed, retry, die, diverge and perform effects."""

    import os
    import time

    from jobtrail import App, Context, Permanent, Retry, Transient

    app = App(os.environ["METRICS_URL"], lease=1.0)
    app.queue("mail", max_latency=0.5)


    @app.job(retry=Retry(max_attempts=3, base=0, jitter="none"))
    def flaky(ctx: Context, n: int) -> int:
        if ctx.attempt < 3:
            raise Transient("busy")
        return n


    @app.job(queue="mail")
    def send(n: int) -> int:
        return n


    @app.job(retry=Retry(max_attempts=1))
    def decline(card: str) -> None:
        raise Permanent(f"card {card} declined")


    @app.job(expect="load mark")
    def wander(ctx: Context) -> None:
        ctx.step("load", lambda: 1)


    @app.job
    def pay(ctx: Context, n: int) -> str:
        return ctx.effect("charge", lambda: f"ch_{n}", key=f"pay-{n}")


    @app.job
    def nap(seconds: float) -> None:
        time.sleep(seconds)
''')

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples_of(text: str, *, openmetrics: bool = False) -> Samples:
    """Every sample of an exposition, by name and sorted labels (the parser proves it parses)."""
    parse = openmetrics_families if openmetrics else text_string_to_metric_families
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in parse(text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """The value of the sample *name* with exactly *labels*, or None."""
    return samples.get((name, tuple(sorted(labels.items()))))


def scrape(endpoints: Endpoints, accept: str = "") -> str:
    """A /metrics answer's text (asserting it is a 200)."""
    response = endpoints.respond("GET", "/metrics", accept)
    assert response.status == 200, response.body
    return response.body.decode()


def run_worker(cwd: Path, url: str, *args: str, timeout: float = 90) -> None:
    """Run ``jobtrail worker metered:app ARGS`` to its end, in a process of its own."""
    done = subprocess.run(
        [sys.executable, "-m", "jobtrail", "worker", "metered:app", *args],
        cwd=cwd, env={**os.environ, "METRICS_URL": url, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def metered(tmp_path: Path, make_app: Callable[..., App], db_url: str,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """The app of ``metered.py`` (written to *tmp_path*), on the database under test."""
    (tmp_path / "metered.py").write_text(METERED)
    monkeypatch.setenv("METRICS_URL", db_url)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("metered", None)
    app: App = importlib.import_module("metered").app
    app.upgrade()
    yield app
    app.close()
    sys.modules.pop("metered", None)


def test_worker_processes_counts_add_up_in_a_scrape_beside_the_stores_gauges(
        metered: App, tmp_path: Path, db_url: str) -> None:
    """Two worker commands (three processes) run jobs that succeed, retry, die, diverge and
    perform effects: one scrape adds up every process's counters, and its gauges are the store's."""
    directory = tmp_path / "metrics"
    metered.enqueue("flaky", n=1)
    metered.enqueue("decline", card="4000")
    metered.enqueue("wander")
    for n in range(2):
        metered.enqueue("pay", n=n)
    run_worker(tmp_path, db_url, "--burst", "--processes", "2", "--metrics-dir", str(directory))
    metered.enqueue("flaky", n=2)
    for n in range(3):
        metered.enqueue("send", n=n)
    run_worker(tmp_path, db_url, "--burst", "--metrics-dir", str(directory))
    pids = {path.stem.rsplit("_", 1)[1] for path in directory.glob("counter_*.db")}
    assert len(pids) >= 2, sorted(directory.iterdir())

    # An effect its attempt began and never ended, the attempt gone: uncertain.
    stranded = metered.enqueue("pay", n=9).id
    (claimed,) = metered.store.claim("w-gone", ["default"], 1, 60.0)
    assert claimed.id == stranded
    assert metered.store.begin_effect(stranded, claimed.claim, 1, "charge", "pay-9", False) is None
    metered.store.expire_worker("w-gone", ErrorInfo("WorkerKilled", "killed"))

    found = samples_of(scrape(Endpoints(metered, multiprocess.registry_for(str(directory)))))
    attempts = "jobtrail_attempts_total"
    assert value(found, attempts, job="flaky", queue="default", status="retrying", outcome="") == 4
    assert value(found, attempts, job="flaky", queue="default", status="succeeded", outcome="") == 2
    assert value(found, attempts, job="send", queue="mail", status="succeeded", outcome="") == 3
    assert value(found, attempts, job="decline", queue="default", status="dead", outcome="") == 1
    assert value(found, attempts, job="pay", queue="default", status="succeeded", outcome="") == 2
    assert value(found, "jobtrail_retries_total", job="flaky", queue="default") == 4
    assert value(found, "jobtrail_dead_letters_total", job="decline", queue="default",
                 status="dead") == 1
    assert value(found, "jobtrail_divergences_total", job="wander", queue="default",
                 kind="missing") == 1
    assert value(found, "jobtrail_attempt_duration_seconds_count", job="flaky",
                 queue="default") == 6
    assert value(found, "jobtrail_attempt_duration_seconds_bucket", job="send", queue="mail",
                 le="+Inf") == 3
    assert value(found, "jobtrail_store_up") == 1
    assert value(found, "jobtrail_effects", job="pay", state="done") == 2
    assert value(found, "jobtrail_effects", job="pay", state="uncertain") == 1
    assert value(found, "jobtrail_effects", job="pay", state="started") == 0
    assert value(found, "jobtrail_workers", state="live") == 0  # burst workers said goodbye
    assert value(found, "jobtrail_jobs", queue="default", job="pay", status="retrying") == 1
    for (queue, status), count in metered.store.counts().items():
        gauged = sum(v for (name, labels), v in found.items() if name == "jobtrail_jobs"
                     and ("queue", queue) in labels and ("status", status.value) in labels)
        assert gauged == count, (queue, status)
    every_status = {dict(labels)["status"] for (name, labels) in found if name == "jobtrail_jobs"}
    assert every_status == {status.value for status in Status}


def test_gauges_match_the_store_while_two_worker_processes_run(
        metered: App, tmp_path: Path, db_url: str) -> None:
    """With two worker processes busy, a scrape's running attempts, waiting jobs, live workers
    and slots are what the store holds."""
    for _ in range(8):
        metered.enqueue("nap", seconds=4.0)
    worker = subprocess.Popen(
        [sys.executable, "-m", "jobtrail", "worker", "metered:app", "--processes", "2",
         "--concurrency", "2"],
        cwd=tmp_path, env={**os.environ, "METRICS_URL": db_url, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        endpoints = Endpoints(metered, CollectorRegistry())
        deadline = time.monotonic() + 30
        while True:
            before = metered.store.counts()
            found = samples_of(scrape(endpoints))
            after = metered.store.counts()
            if before == after and before.get(("default", Status.RUNNING)) == 4 \
                    and value(found, "jobtrail_workers", state="live") == 2:
                break
            assert time.monotonic() < deadline, (before, found)
            time.sleep(0.2)
        assert value(found, "jobtrail_running_attempts", queue="default") == 4
        assert value(found, "jobtrail_jobs", queue="default", job="nap", status="running") == 4
        assert value(found, "jobtrail_jobs", queue="default", job="nap", status="queued") == 4
        assert value(found, "jobtrail_worker_slots") == 4
        waited = value(found, "jobtrail_oldest_waiting_seconds", queue="default")
        assert waited is not None and waited > 0
    finally:
        worker.terminate()
        _, errors = worker.communicate(timeout=60)
    assert worker.returncode == 0, errors.decode()


def test_healthz_is_503_naming_a_late_queue_and_200_once_it_is_served(
        metered: App, tmp_path: Path, db_url: str) -> None:
    """/healthz answers 200 with the report when healthy, 503 with the latency finding
    while a queue's oldest job waits past its max_latency, and 200 again once it ran."""
    endpoints = Endpoints(metered, CollectorRegistry())
    healthy = endpoints.respond("GET", "/healthz")
    assert healthy.status == 200 and json.loads(healthy.body)["healthy"] is True
    metered.enqueue("send", n=1)
    time.sleep(0.8)
    late = endpoints.respond("GET", "/healthz")
    assert late.status == 503 and late.content_type == "application/json"
    report = json.loads(late.body)
    assert report["healthy"] is False
    assert [(f["check"], f["subject"]) for f in report["findings"]] == [("latency", "mail")]
    run_worker(tmp_path, db_url, "--burst")
    assert endpoints.respond("GET", "/healthz").status == 200
    assert endpoints.respond("GET", "/livez").status == 200
    assert endpoints.respond("GET", "/nowhere").status == 404
    assert endpoints.respond("POST", "/metrics").status == 405


def test_a_store_that_cannot_be_read_gives_store_up_0_not_an_error(
        backend: str, tmp_path: Path, make_app: Callable[..., App]) -> None:
    """A scrape of a store that is gone (a deleted SQLite file, a PostgreSQL server that does
    not answer) answers 200 with jobtrail_store_up 0, and /healthz 503 with a store finding."""
    if backend == "sqlite":
        path = tmp_path / "gone.db"
        app = App(f"sqlite:///{path}")
        app.upgrade()
        assert value(samples_of(scrape(Endpoints(app, CollectorRegistry()))),
                     "jobtrail_store_up") == 1
        for leftover in tmp_path.glob("gone.db*"):
            leftover.unlink()
    else:
        app = App("postgresql://jobtrail:s3cret-pw@127.0.0.1:1/nowhere",
                  store_options={"connect_timeout": 1.0})
    try:
        endpoints = Endpoints(app, CollectorRegistry(), scrape_timeout=4.0, health_timeout=4.0)
        started = time.monotonic()
        text = scrape(endpoints)
        assert time.monotonic() - started < 6
        found = samples_of(text)
        assert value(found, "jobtrail_store_up") == 0
        assert not any(name == "jobtrail_jobs" for name, _ in found)
        health = endpoints.respond("GET", "/healthz")
        assert health.status == 503
        (finding,) = json.loads(health.body)["findings"]
        assert finding["check"] == "store" and "s3cret-pw" not in health.body.decode()
    finally:
        app.close()


HOSTILE_JOB = 'say "hi"\\n\nthen ✓ ☃'
HOSTILE_QUEUE = 'q"\\\n\t€'


def test_hostile_names_are_escaped_and_parse_in_both_formats(
        make_app: Callable[..., App], tmp_path: Path) -> None:
    """A job and queue named with quotes, backslashes, newlines and unicode come back intact
    from the text format and from OpenMetrics."""
    app = make_app()
    registry = CollectorRegistry()
    instrument(app, registry)

    @app.job(name=HOSTILE_JOB, queue=HOSTILE_QUEUE, retry=Retry(max_attempts=2, base=0,
                                                                 jitter="none"))
    def odd(ctx: Context) -> None:
        if ctx.attempt == 1:
            raise Transient("again")

    odd.enqueue()
    run_until_idle(app, queues=[HOSTILE_QUEUE])
    endpoints = Endpoints(app, registry)
    for openmetrics in (False, True):
        accept = "application/openmetrics-text; version=1.0.0" if openmetrics else ""
        response = endpoints.respond("GET", "/metrics", accept)
        assert ("openmetrics" in response.content_type) is openmetrics
        found = samples_of(response.body.decode(), openmetrics=openmetrics)
        assert value(found, "jobtrail_attempts_total", job=HOSTILE_JOB, queue=HOSTILE_QUEUE,
                     status="succeeded", outcome="") == 1
        assert value(found, "jobtrail_retries_total", job=HOSTILE_JOB, queue=HOSTILE_QUEUE) == 1
        assert value(found, "jobtrail_jobs", job=HOSTILE_JOB, queue=HOSTILE_QUEUE,
                     status="succeeded") == 1


def test_exit_reasons_made_per_run_are_one_label_value(make_app: Callable[..., App]) -> None:
    """Jobs that exit early with a reason made per run count under outcome="exit": the
    reason is no label, so the series do not grow with the runs."""
    app = make_app()
    registry = CollectorRegistry()
    instrument(app, registry)

    @app.job
    def quits(ctx: Context, n: int) -> None:
        ctx.exit(f"user_{n}_inactive")

    quits.enqueue_many([{"n": n} for n in range(5)])
    run_until_idle(app)
    found = samples_of(scrape(Endpoints(app, registry)))
    assert value(found, "jobtrail_attempts_total", job=quits.name, queue="default",
                 status="succeeded", outcome="exit") == 5
    outcomes = {dict(labels).get("outcome") for name, labels in found
                if name == "jobtrail_attempts_total"}
    assert outcomes == {"exit"}


def test_the_exposition_passes_promtool(make_app: Callable[..., App], tmp_path: Path) -> None:
    """``promtool check metrics`` finds nothing wrong with a scrape of real jobs, hostile
    names included (promtool is required in CI)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is required in CI (the Debian package prometheus)")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    app = make_app()
    registry = CollectorRegistry()
    instrument(app, registry)

    @app.job(name=HOSTILE_JOB, queue=HOSTILE_QUEUE, retry=Retry(max_attempts=1))
    def odd(fail: bool) -> None:
        if fail:
            raise Permanent("no")

    odd.enqueue(fail=False)
    odd.enqueue(fail=True)
    run_until_idle(app, queues=[HOSTILE_QUEUE])
    text = scrape(Endpoints(app, registry))
    assert "jobtrail_dead_letters_total" in text
    checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                             text=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_asgi_app_answers_at_its_mount_point(make_app: Callable[..., App]) -> None:
    """The ASGI app, called as a server calls it (mounted under a root path), answers
    /metrics, /healthz, /livez and HEAD, and completes the lifespan."""
    app = make_app()
    registry = CollectorRegistry()
    instrument(app, registry)
    app.job(name="ping")(lambda: None).enqueue()
    run_until_idle(app)
    served = asgi_app(app, registry)

    async def call(method: str, path: str) -> tuple[int, dict[bytes, bytes], bytes]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            sent.append(dict(message))

        scope = {"type": "http", "method": method, "path": f"/ops{path}",
                 "root_path": "/ops", "headers": [(b"accept", b"text/plain")]}
        await served(scope, receive, send)
        start, body = sent
        return start["status"], dict(start["headers"]), body["body"]

    async def lifespan() -> list[str]:
        incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
        answers: list[str] = []

        async def receive() -> dict[str, Any]:
            return next(incoming)

        async def send(message: Any) -> None:
            answers.append(message["type"])

        await served({"type": "lifespan"}, receive, send)
        return answers

    status, headers, body = asyncio.run(call("GET", "/metrics"))
    assert status == 200 and headers[b"content-type"].startswith(b"text/plain")
    assert value(samples_of(body.decode()), "jobtrail_attempts_total", job="ping",
                 queue="default", status="succeeded", outcome="") == 1
    status, headers, body = asyncio.run(call("HEAD", "/healthz"))
    assert status == 200 and body == b"" and int(headers[b"content-length"]) > 0
    assert asyncio.run(call("GET", "/livez"))[0] == 200
    assert asyncio.run(lifespan()) == ["lifespan.startup.complete",
                                       "lifespan.shutdown.complete"]


def test_a_live_worker_and_a_stalled_one_are_told_apart(make_app: Callable[..., App]) -> None:
    """A worker whose heartbeat is fresh counts live; one silent for over three leases, stalled."""
    app = make_app(lease=0.2)
    app.store.heartbeat(WorkerInfo("w-old", "host-a", 1, None, 3), [], 0.2)
    time.sleep(0.8)
    app.store.heartbeat(WorkerInfo("w-new", "host-b", 2, None, 5), [], 0.2)
    found = samples_of(scrape(Endpoints(app, CollectorRegistry())))
    assert value(found, "jobtrail_workers", state="live") == 1
    assert value(found, "jobtrail_workers", state="stalled") == 1
    assert value(found, "jobtrail_worker_slots") == 5
