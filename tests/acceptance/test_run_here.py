"""``jobtrail run`` without ``--dry-run`` stores the job and runs it in this process, as a
worker would; ``jobtrail enqueue`` says when a key deduplicated; ``--json`` is output
everywhere (on SQLite and PostgreSQL)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

from jobtrail.text import shown
from tests.acceptance.conftest import JOB_KEYS, Cli

TILL_SOURCE = textwrap.dedent(
    '''
    """Charges with idempotency keys, for the acceptance tests of run and enqueue."""

    import os
    import time

    from jobtrail import App, Context, Permanent, Retry

    app = App(os.environ["TILL_URL"], grace=0.5, lease=5)


    def key(invoice: int, card: str, note: str = "") -> str:
        return f"inv-{invoice}-{card}{note}"


    @app.job(idempotency_key=key, redact=["card"], retry=Retry(max_attempts=3, base=60))
    def charge(ctx: Context, invoice: int, card: str, note: str = "") -> dict:
        amount = ctx.step("quote", lambda: invoice * 100)
        receipt = ctx.effect("card", lambda: f"ch_{invoice}", key=f"card-{invoice}")
        if invoice < 0:
            raise Permanent(f"card declined for invoice {invoice}")
        if invoice == 0:
            raise RuntimeError("gateway down")
        return {"amount": amount, "receipt": receipt}


    @app.job(queue="slow")
    def nap(ctx: Context, seconds: float) -> str:
        if ctx.attempt == 1:
            time.sleep(seconds)
        return "rested"
    '''
)
CARD = "4111222233334444"


def charge(invoice: int) -> list[str]:
    """The command line of a charge of *invoice*, with the card."""
    return ["charge", "--arg", f"invoice={invoice}", "--arg", f"card={CARD}"]


@pytest.fixture
def till(cli: Cli, db_url: str) -> str:
    """``till.py`` in the working directory, on the database under test (its URL, for the
    environment of each command: ``TILL_URL``)."""
    (cli.cwd / "till.py").write_text(TILL_SOURCE)
    assert cli("db", "upgrade", "till:app", TILL_URL=db_url).code == 0
    return db_url


def shown_job(cli: Cli, till: str, job_id: int) -> Any:
    run = cli("jobs", "show", str(job_id), "--app", "till:app", "--json", TILL_URL=till)
    assert run.code == 0, run.stderr
    return run.json()


def test_run_stores_the_job_runs_it_here_and_records_it_as_a_worker_would(
        cli: Cli, till: str) -> None:
    """run --json prints the finished job (as jobs show has it): succeeded here, its steps,
    effect and lifecycle recorded, its card masked; exit 0."""
    run = cli("run", "till:app", *charge(7), "--json", TILL_URL=till)
    assert run.code == 0, run.stderr
    done = run.json()
    assert (done["ran_here"], done["deduplicated"], done["refused"], done["stopped"]) == (
        True, False, None, False)
    job = done["job"]
    assert set(job) == JOB_KEYS
    assert (job["status"], job["result"], job["attempts"]) == (
        "succeeded", {"amount": 700, "receipt": "ch_7"}, 1)
    assert job["worker_id"].startswith("run:") and job["variant"] == "quote effect:card"
    assert job["args"]["card"] == "[redacted]" and CARD not in run.stdout
    assert [e["name"] for e in done["events"] if e["kind"] == "lifecycle"] == [
        "enqueued", "claimed", "started", "succeeded"]
    assert [(e["name"], e["status"]) for e in done["effects"]] == [("card", "done")]
    assert shown_job(cli, till, job["id"])["job"] == job


def test_run_prints_the_outcome_in_words(cli: Cli, till: str) -> None:
    """Without --json, run names the job and its status, then its fields, path and timeline."""
    run = cli("run", "till:app", *charge(8), TILL_URL=till)
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "ran job 1 (charge) here: succeeded"
    assert any(line.split() == ["Path", "quote", "effect:card"] for line in lines)
    assert "Timeline" in run.stdout and "ch_8" in run.stdout and CARD not in run.stdout


def test_a_job_that_fails_for_good_exits_1_with_its_error_and_traceback(
        cli: Cli, till: str) -> None:
    """A Permanent failure leaves the job dead; run shows the error and traceback, exit 1."""
    run = cli("run", "till:app", *charge(-3), TILL_URL=till)
    assert run.code == 1
    assert run.stdout.splitlines()[0] == "ran job 1 (charge) here: dead"
    assert "card declined for invoice -3" in run.stdout and "Traceback" in run.stdout
    as_json = cli("run", "till:app", *charge(-4), "--json", TILL_URL=till)
    assert as_json.code == 1
    error = as_json.json()["job"]["error"]
    assert error["type"] == "jobtrail.errors.Permanent" and "raise Permanent" in error["traceback"]


def test_a_failed_attempt_that_will_be_retried_is_left_to_the_workers(
        cli: Cli, till: str) -> None:
    """One attempt runs here; a retryable failure leaves the job retrying for a worker, exit 1."""
    run = cli("run", "till:app", *charge(0), TILL_URL=till)
    assert run.code == 1
    assert run.stdout.splitlines()[0] == (
        "ran job 1 (charge) here: attempt 1 of 3 failed; a worker runs the next one after its "
        "backoff")
    job = shown_job(cli, till, 1)["job"]
    assert (job["status"], job["attempts"], job["error"]["message"]) == (
        "retrying", 1, "gateway down")


def test_a_key_that_already_ran_is_not_run_again(cli: Cli, till: str) -> None:
    """A job whose key matches a finished job is not run twice: one line naming that job,
    its masked key and status, exit 1; --json says why, and nothing ran."""
    assert cli("run", "till:app", *charge(7), TILL_URL=till).code == 0
    again = cli("run", "till:app", *charge(7), TILL_URL=till)
    assert again.code == 1
    assert again.error_line() == (
        "error: job 1 (charge) already exists for key 'inv-7-[redacted]' (succeeded): "
        "not run again")
    as_json = cli("run", "till:app", *charge(7), "--json", TILL_URL=till)
    assert as_json.code == 1
    done = as_json.json()
    assert (done["ran_here"], done["deduplicated"]) == (False, True)
    assert done["refused"] == again.error_line().removeprefix("error: ")
    assert len(shown_job(cli, till, 1)["effects"]) == 1
    assert [e["name"] for e in done["events"]].count("claimed") == 1


def test_a_waiting_job_with_the_key_is_run_here(cli: Cli, till: str) -> None:
    """A key held by a job still queued runs that job here: it is the same job."""
    assert cli("enqueue", "till:app", *charge(5), TILL_URL=till).code == 0
    run = cli("run", "till:app", *charge(5), "--json", TILL_URL=till)
    assert run.code == 0, run.stderr
    done = run.json()
    assert (done["ran_here"], done["deduplicated"], done["job"]["id"]) == (True, True, 1)
    assert done["job"]["status"] == "succeeded"


def test_a_worker_serving_the_queue_does_not_take_the_job(cli: Cli, till: str) -> None:
    """With a worker of the app running, the job still runs in the run command's process."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "jobtrail", "worker", "till:app"], cwd=cli.cwd,
        env={**cli.env, "TILL_URL": till}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        probe = cli("enqueue", "till:app", "nap", "--arg", "seconds=0", "--json", TILL_URL=till).json()
        deadline = time.monotonic() + 30
        while shown_job(cli, till, probe["id"])["job"]["status"] != "succeeded":
            assert time.monotonic() < deadline, "the worker never ran the probe job"
            time.sleep(0.1)
        runs = [cli("run", "till:app", *charge(n), "--json", TILL_URL=till)
                for n in (1, 2, 3)]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    for run in runs:
        assert run.code == 0, run.stderr
        assert run.json()["job"]["worker_id"].startswith("run:")


def test_ctrl_c_releases_the_job_for_a_worker_and_exits_130(cli: Cli, till: str) -> None:
    """A stop signal during the run gives the job its grace period, then releases it: it
    waits for a worker again, and the command says so with exit code 130."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobtrail", "run", "till:app", "nap", "--arg", "seconds=30"],
        cwd=cli.cwd, env={**cli.env, "TILL_URL": till}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        deadline = time.monotonic() + 30
        while shown_status(cli, till) != "running":
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert out.splitlines()[0] == (
        "ran job 1 (nap) here: stopped before it finished; it is queued and waits for a worker")
    assert shown_status(cli, till) == "queued"


def test_a_run_killed_mid_job_leaves_it_to_a_worker_after_its_lease(
        cli: Cli, till: str) -> None:
    """SIGKILL of the run command while its job runs: like a worker's death, the lease
    runs out and a worker runs the job again."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobtrail", "run", "till:app", "nap", "--arg", "seconds=60"],
        cwd=cli.cwd, env={**cli.env, "TILL_URL": till}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while shown_status(cli, till) != "running":
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
    finally:
        proc.kill()
        proc.wait()
    time.sleep(5.5)  # the till's lease
    assert cli("worker", "till:app", "--burst", TILL_URL=till).code == 0
    job = shown_job(cli, till, 1)["job"]
    assert (job["status"], job["attempts"], job["result"]) == ("succeeded", 2, "rested")
    assert not job["worker_id"].startswith("run:")


def shown_status(cli: Cli, till: str) -> str | None:
    run = cli("jobs", "list", "--app", "till:app", "--json", TILL_URL=till)
    jobs = run.json()["jobs"] if run.code == 0 else []
    return jobs[0]["status"] if jobs else None


def test_enqueue_says_when_the_key_deduplicated(cli: Cli, till: str) -> None:
    """A second enqueue of one key names the existing job, its masked key and its status
    (queued, then succeeded) and stores nothing; --json says deduplicated."""
    first = cli("enqueue", "till:app", *charge(9), TILL_URL=till)
    assert first.stdout == "enqueued job 1 (charge) on queue default\n"
    again = cli("enqueue", "till:app", *charge(9), TILL_URL=till)
    assert (again.code, again.stdout) == (
        0, "job 1 (charge) already exists for key 'inv-9-[redacted]' (queued): "
           "not enqueued again\n")
    assert cli("worker", "till:app", "--burst", TILL_URL=till).code == 0
    done = cli("enqueue", "till:app", *charge(9), "--json", TILL_URL=till)
    assert done.code == 0, done.stderr
    assert done.json() == {"id": 1, "job_name": "charge", "queue": "default",
                           "status": "succeeded", "deduplicated": True,
                           "idempotency_key": "inv-9-[redacted]"}
    assert CARD not in done.stdout + again.stdout
    assert len(cli("jobs", "list", "--app", "till:app", "--json", TILL_URL=till).json()["jobs"]) == 1


def test_a_hostile_key_stays_on_one_line(cli: Cli, till: str) -> None:
    """A key holding newlines, control characters and unicode is quoted, cut, on one line."""
    note = "\n\x1b[31m☃\u202e" + "x" * 200
    for _ in range(2):
        run = cli("enqueue", "till:app", *charge(4), "--arg", f"note={note}",
                  TILL_URL=till)
        assert run.code == 0, run.stderr
    key = shown(f"inv-4-[redacted]{note}")
    assert run.stdout == f"job 1 (charge) already exists for key {key} (queued): not enqueued again\n"
    assert "\x1b" not in run.stdout and "\u202e" not in run.stdout and len(key) == 200


def test_usage_lines_show_the_options_as_optional(cli: Cli) -> None:
    """enqueue and run show their options as [OPTIONS] after the command, and --dry-run is
    one of them: run no longer needs it."""
    for command in ("enqueue", "run"):
        usage = cli(command, "--help").stdout.splitlines()[0]
        assert usage == f"Usage: jobtrail {command} [OPTIONS] [MODULE:APP] JOB_NAME"
    assert "--args-json OBJECT" in cli("run", "--help").stdout


def test_bad_input_to_run_is_one_line_and_stores_nothing(cli: Cli, till: str) -> None:
    """Arguments that do not fit, an unknown job, --json given the arguments, or --priority
    on a dry run: one error line, a usage or not-found code, no job stored."""
    cases = [
        (["charge", "--arg", "invoice=x"], 2, "argument 'invoice' expected int, got 'x'"),
        (["refund"], 3, "no job named 'refund'"),
        (["charge", "--json", '{"invoice": 1}'], 2, "--args-json"),
        ([*charge(1), "--dry-run", "--priority", "3"], 2, "a dry run"),
    ]
    for args, code, message in cases:
        run = cli("run", "till:app", *args, TILL_URL=till)
        assert run.code == code, run.stderr
        assert message in run.error_line()
    assert cli("jobs", "list", "--app", "till:app", "--json", TILL_URL=till).json()["jobs"] == []
