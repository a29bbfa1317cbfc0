"""``jobtrail audit seal | verify | export`` (in a subprocess, on both backends), and a
real worker process sealing the trail as it runs."""

from __future__ import annotations

import getpass
import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from jobtrail import App, Context, Retry, Status
from jobtrail.audit import verify
from jobtrail.audit.notes import SigningKey
from jobtrail.audit.sealing import head_of
from jobtrail.errors import ConfigurationError
from jobtrail.testing import run_until_idle
from tests.acceptance.conftest import Cli
from tests.support import rawsql
from tests.support.processes import kill_worker, start_worker


def ran_jobs(make_app: Callable[..., App]) -> tuple[App, list[int]]:
    app = make_app()

    @app.job
    def work(ctx: Context, n: int) -> int:
        ctx.step("double", lambda: n * 2)
        return n

    handles = work.enqueue_many([{"n": n} for n in range(6)])
    run_until_idle(app)
    return app, [h.id for h in handles]


def test_verify_is_0_when_intact_and_1_naming_what_was_altered(
        cli: Cli, db_url: str, make_app: Callable[..., App]) -> None:
    """``audit verify`` seals what is new, exits 0 saying how much it checked; after an
    event is edited in SQL it exits 1 naming the event and its seal."""
    ran_jobs(make_app)
    intact = cli("audit", "verify", "--url", db_url)
    assert intact.code == 0, intact.stderr
    assert intact.stdout.startswith("intact: 1 seals, ")
    rawsql.execute(db_url, "UPDATE jobtrail_events SET attrs = '{\"forged\": true}' "
                   "WHERE id = 5")
    broken = cli("audit", "verify", "--url", db_url, "--json")
    assert broken.code == 1
    verdict = json.loads(broken.stdout)
    assert verdict["ok"] is False
    assert verdict["problem"] == {"kind": "event_altered", "seal": 1, "event": 5,
                                  "message": "event 5, sealed by seal 1, was altered"}
    said = cli("audit", "verify", "--url", db_url)
    assert said.code == 1 and "NOT INTACT: event 5, sealed by seal 1, was altered" in said.stderr


def test_export_writes_seals_and_their_events_as_json_lines(
        cli: Cli, db_url: str, make_app: Callable[..., App]) -> None:
    """``audit export`` writes a header, each seal then its events, one JSON object per line;
    ``--job`` keeps that job's events (and the seals)."""
    _, ids = ran_jobs(make_app)
    done = cli("audit", "export", "--url", db_url)
    assert done.code == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[0] == {"type": "export", "format": 1, "since": 1, "job": None}
    assert lines[1]["type"] == "seal" and lines[1]["seq"] == 1
    events = [line for line in lines if line["type"] == "event"]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert len(events) == len(rawsql.fetch(db_url, "SELECT id FROM jobtrail_events"))
    one = cli("audit", "export", "--url", db_url, "--job", str(ids[2]))
    mine = [json.loads(line) for line in one.stdout.splitlines()]
    assert {line["job_id"] for line in mine if line["type"] == "event"} == {ids[2]}
    assert {line["name"] for line in mine if line["type"] == "event"} >= {
        "enqueued", "claimed", "succeeded"}


def test_seal_prints_the_head(cli: Cli, db_url: str, make_app: Callable[..., App]) -> None:
    """``audit seal --json`` says how many seals it appended and the head's hash."""
    app, _ = ran_jobs(make_app)
    done = cli("audit", "seal", "--url", db_url, "--json")
    assert done.code == 0, done.stderr
    answer = json.loads(done.stdout)
    head = head_of(app.store)
    assert head is not None
    assert answer["appended"] == 1 and answer["head"]["hash"] == head.hash


def test_a_running_worker_seals_the_trail(db_url: str, tmp_path: Path,
                                          make_app: Callable[..., App]) -> None:
    """A worker process (not a burst one) seals the events of the jobs it runs within
    seconds, without being asked, signs a checkpoint with the key it is given, records what
    it runs (each job's flow version), and the trail verifies with that key's public half."""
    app = make_app()
    job = app.job(name="work")(lambda n: n)
    job.enqueue_many([{"n": n} for n in range(20)])
    key = SigningKey.generate("example.com/worker")
    worker = start_worker(db_url, tmp_path / "runs.log", app="tests.support.workload:app",
                          env={"JOBTRAIL_AUDIT_SIGNING_KEY": key.text()})
    try:
        deadline = time.monotonic() + 20
        while True:
            head = head_of(app.store)
            if head is not None and app.counts().get(("default", Status.SUCCEEDED)) == 20 \
                    and head.through >= max(r[0] for r in rawsql.fetch(
                        db_url, "SELECT id FROM jobtrail_events")) \
                    and app.store.audit_checkpoints(1, 1):
                break
            assert time.monotonic() < deadline, "the worker sealed nothing"
            time.sleep(0.1)
        verdict = verify(app.store, key=key.verifier)
        assert verdict.ok and verdict.signed is not None
        (started,) = rawsql.fetch(db_url, "SELECT attrs FROM jobtrail_events WHERE job_id = 0 "
                                          "AND name = 'worker_started'")
        runs = json.loads(started[0])
        assert set(runs) == {"worker", "code_version", "jobs", "flows"}
        assert runs["jobs"]["work"]["flow"] is not None and len(runs["flows"]) == 16
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            kill_worker(worker)


def test_operators_actions_name_their_actor_in_the_trail(
        cli: Cli, db_url: str, make_app: Callable[..., App]) -> None:
    """A replay from the command line records the OS user as its actor on the event the
    trail seals; one from Python records the app's actor, and none when it has none."""
    app = make_app()
    fail = app.job(name="fail", retry=Retry(max_attempts=1))(_fail)
    first, second, third = (fail.enqueue().id for _ in range(3))
    run_until_idle(app)
    done = cli("dlq", "replay", str(first), "--url", db_url)
    assert done.code == 0, done.stderr
    app.actor = "token:alice"
    app.replay(second)
    app.actor = None
    app.replay(third)
    exported = cli("audit", "export", "--url", db_url)
    replays = {line["job_id"]: json.loads(line["attrs"]) for line in
               map(json.loads, exported.stdout.splitlines())
               if line["type"] == "event" and line["name"] == "replayed"}
    assert replays[first]["actor"] == f"os:{getpass.getuser()}"
    assert replays[second]["actor"] == "token:alice"
    assert "actor" not in replays[third]


def _fail() -> None:
    raise RuntimeError("no")


def test_an_actor_must_be_a_name(make_app: Callable[..., App]) -> None:
    """An empty or non-text actor is refused at once, naming what was given."""
    app = make_app()
    for bad in ("", "  ", 7):
        with pytest.raises(ConfigurationError, match=r"app\.actor"):
            app.actor = bad  # type: ignore[assignment]
