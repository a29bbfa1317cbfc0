"""``jobtrail demo``: the embedded workload runs to the end and reports what it saw."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections import Counter

import httpx2
import pytest

from tests.acceptance.conftest import Cli, password_in, with_password
from tests.support.servers import first_answer, free_port


def demo_url(cli: Cli) -> str:
    """The demo's own database: in the system's temporary directory (the test's own)."""
    return f"sqlite:///{cli.cwd / 'tmp' / 'jobtrail-demo' / 'demo.db'}"


def test_demo_runs_and_prints_the_summary(cli: Cli) -> None:
    """The demo exits 0 and prints the summary, the dead letters and where to look next."""
    run = cli("demo", timeout=30)
    assert run.code == 0, run.stderr
    assert "What jobtrail saw" in run.stdout
    for name in ("charge_invoice", "send_welcome_email", "schedule_followup", "push_notification"):
        assert name in run.stdout
    assert "Dead letters" in run.stdout
    assert "declined" in run.stdout
    assert "PayloadMismatch" in run.stdout
    assert f"jobtrail dlq list --url {demo_url(cli)}" in run.stdout
    assert (cli.cwd / "tmp" / "jobtrail-demo" / "demo.db").exists()
    assert not list(cli.cwd.glob("*.db")), "the demo leaves no database in the working directory"


def test_demo_jobs_end_as_the_scenarios_intend(cli: Cli) -> None:
    """Retried charges succeed, one charge is dead, the drifted payload is orphaned, and
    every follow-up is a child of a welcome email."""
    assert cli("demo", "--jobs", "20", timeout=30).code == 0
    jobs = cli("jobs", "list", "--url", demo_url(cli), "--limit", "1000", "--json").json()["jobs"]
    statuses = Counter(job["status"] for job in jobs)
    assert set(statuses) == {"succeeded", "dead", "orphaned"}
    assert statuses["dead"] == 1 and statuses["orphaned"] == 1
    charges = [job for job in jobs if job["job_name"] == "charge_invoice"]
    assert any(job["attempts"] > 1 and job["status"] == "succeeded" for job in charges)
    (dead,) = (job for job in jobs if job["status"] == "dead")
    assert dead["error"]["type"].endswith("Permanent")
    (orphan,) = (job for job in jobs if job["status"] == "orphaned")
    assert orphan["error"]["type"] == "PayloadMismatch"
    welcome_ids = {job["id"] for job in jobs if job["job_name"] == "send_welcome_email"}
    followups = [job for job in jobs if job["job_name"] == "schedule_followup"]
    assert len(followups) == len(welcome_ids)
    assert {job["parent_job_id"] for job in followups} == welcome_ids


def test_demo_recreates_its_default_database(cli: Cli) -> None:
    """A second run starts from an empty database rather than adding to the first."""
    assert cli("demo", "--jobs", "10", timeout=30).code == 0
    first = cli("jobs", "list", "--url", demo_url(cli), "--limit", "1000", "--json").json()["jobs"]
    assert cli("demo", "--jobs", "10", timeout=30).code == 0
    second = cli("jobs", "list", "--url", demo_url(cli), "--limit", "1000", "--json").json()["jobs"]
    assert len(second) == len(first)
    assert max(job["id"] for job in second) == max(job["id"] for job in first)


def test_demo_refuses_a_database_that_holds_jobs(cli: Cli) -> None:
    """With --url, a database that already holds jobs is left alone: exit 2, one line."""
    url = "sqlite:///other.db"
    assert cli("demo", "--url", url, "--jobs", "5", timeout=30).code == 0
    run = cli("demo", "--url", url, "--jobs", "5")
    assert run.code == 2
    assert "already holds jobs" in run.error_line()


@pytest.mark.postgres
def test_demo_creates_its_tables_in_a_new_database(cli: Cli, bare_pg_database: str) -> None:
    """The demo on a new PostgreSQL database creates jobtrail's tables and runs."""
    run = cli("demo", "--url", bare_pg_database, "--jobs", "5", timeout=30)
    assert run.code == 0, run.stderr
    assert cli("jobs", "list", "--url", bare_pg_database, "--json").json()["jobs"]


def test_demo_shows_the_idempotency_facts(cli: Cli) -> None:
    """The demo reports one deduplicated enqueue, ledger steps not repeated on retry and no invoice charged twice, and the store agrees."""
    run = cli("demo", "--jobs", "10", timeout=30)
    assert run.code == 0, run.stderr
    facts = run.stdout.split("\nIdempotency\n", 1)[1].split("\n\n", 1)[0]
    assert "invoice 501 enqueued 2 times under one key → 1 job, deduplicated 1" in facts
    assert "steps run: 3 of 3, step 1\N{EN DASH}2 not repeated on retry" in facts
    assert "card charges per invoice — 501: 1, 502: 1, 503: 1; no invoice charged twice" in facts
    assert "3 retries reused the recorded charge" in facts
    jobs = cli("jobs", "list", "--url", demo_url(cli), "--limit", "1000", "--json").json()["jobs"]
    paid = [job for job in jobs if job["job_name"] == "pay_invoice"]
    assert sorted(job["args"]["invoice_id"] for job in paid) == [501, 502, 503]
    assert all((job["status"], job["attempts"]) == ("succeeded", 2) for job in paid)
    (ledger,) = (job for job in jobs if job["job_name"] == "reconcile_ledger")
    assert (ledger["status"], ledger["attempts"], ledger["result"]) == ("succeeded", 2, 3)
    events = cli("jobs", "show", str(ledger["id"]), "--url", demo_url(cli), "--json").json()["events"]
    steps = [(e["attempt"], e["name"], bool(e["attrs"].get("replayed"))) for e in events if e["kind"] == "step"]
    assert steps == [(1, "fetch", False), (1, "match", False), (2, "fetch", True),
                     (2, "match", True), (2, "post", False)]


def next_steps(stdout: str) -> list[str]:
    """The commands the demo suggests at its end, one a line, but the dashboard's (which
    serves until stopped: tests/dashboard runs it)."""
    tail = stdout.split("\nLook further", 1)[1]
    lines = [line.strip() for line in tail.splitlines()[1:] if line.strip()]
    assert lines[-1].endswith(" jobtrail dashboard --app jobtrail.demo:app"), lines[-1]
    return lines[:-1]


def test_demo_next_steps_work_as_printed(cli: Cli) -> None:
    """Each command the demo suggests runs as printed, on the demo's database: a replayed
    dead letter runs again, and no other database is created."""
    run = cli("demo", "--jobs", "10", timeout=30)
    assert run.code == 0, run.stderr
    steps = next_steps(run.stdout)
    assert any(step.startswith("jobtrail dlq replay") for step in steps)
    for step in steps:
        done = cli.shell(step)
        assert done.code == 0, (step, done.stderr)
    assert not list(cli.cwd.glob("*.db"))
    assert_ran_again(cli, steps, demo_url(cli))


def test_demo_on_a_url_suggests_commands_for_that_database(cli: Cli, db_url: str) -> None:
    """With --url, each suggested command names that database and works once the password
    (never printed) is put in place of ***; the demo creates jobtrail's tables if needed."""
    url = with_password(db_url)
    password = password_in(url)
    run = cli("demo", "--url", url, "--jobs", "5", timeout=30)
    assert run.code == 0, run.stderr
    steps = next_steps(run.stdout)
    prelude = ""
    if password:
        assert password not in run.stdout + run.stderr
        assert steps[0] == f"export JOBTRAIL_URL='{url.replace(password, '***')}'"
        prelude = steps.pop(0).replace("***", password) + "\n"
    for step in steps:
        assert "--url" in step or step.startswith(
            ("JOBTRAIL_DEMO_URL=", "jobtrail flows show", "jobtrail run")), step
        done = cli.shell(prelude + step)
        assert done.code == 0, (step, done.stderr)
    assert set(cli.cwd.glob("*.db")) <= {cli.cwd / "jobs.db"}
    assert_ran_again(cli, steps, url)


def assert_ran_again(cli: Cli, steps: list[str], url: str) -> None:
    """The dead letter the steps replay was claimed again after its replay, in *url*."""
    replayed = next(step for step in steps if step.startswith("jobtrail dlq replay"))
    shown = cli("jobs", "show", replayed.split()[3], "--url", url, "--json").json()
    names = [event["name"] for event in shown["events"]]
    assert "claimed" in names[names.index("replayed"):]
    assert shown["job"]["status"] == "dead"


def test_demo_counts_add_up(cli: Cli) -> None:
    """The scenario lines add up to the jobs stored, and stored jobs plus follow-ups are
    every job the run finished and the database holds."""
    run = cli("demo", "--jobs", "20", timeout=60)
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    totals = next(line for line in lines if " jobs stored; " in line)
    stored, spawned = int(totals.split()[0]), int(totals.split("; ")[1].split()[0])
    scenario_lines = lines[:lines.index(totals)]
    counted = sum(int(line.split(": ", 1)[1].split()[0]) for line in scenario_lines
                  if ": " in line and line.split(": ", 1)[1].split()[0].isdigit())
    assert counted == stored
    finished = next(line for line in lines if line.startswith("All "))
    assert finished.startswith(f"All {stored + spawned} jobs finished ({stored} stored above "
                               f"+ {spawned} follow-ups")
    jobs = cli("jobs", "list", "--url", demo_url(cli), "--limit", "1000", "--json").json()["jobs"]
    assert len(jobs) == stored + spawned


def test_demo_kills_a_worker_inside_an_effect_and_resolves_it(cli: Cli) -> None:
    """A worker process SIGKILLed inside the refund leaves the job dead effect_uncertain;
    resolved done and replayed, it succeeds with the recorded refund, made once."""
    run = cli("demo", "--jobs", "10", timeout=60)
    assert run.code == 0, run.stderr
    section = run.stdout.split("\nCrash inside an effect\n", 1)[1].split("\n\n", 1)[0]
    assert "SIGKILLed while refund_order" in section
    assert "job dead (effect_uncertain), not refunded again" in section
    assert "replay succeeded with re_9001_2500 from the record; refunds made by the gateway: 1" \
        in section
    jobs = cli("jobs", "list", "--url", demo_url(cli), "--job", "refund_order", "--json").json()["jobs"]
    (refund,) = jobs
    shown = cli("jobs", "show", str(refund["id"]), "--url", demo_url(cli), "--json").json()
    assert (shown["job"]["status"], shown["job"]["result"]) == ("succeeded", "re_9001_2500")
    (effect,) = shown["effects"]
    assert effect["status"] == "done"
    names = [event["name"] for event in shown["events"]]
    assert names.index("lease_expired") < names.index("dead") < names.index("effect_resolved") \
        < names.index("replayed")
    (replayed,) = [e for e in shown["events"] if e["kind"] == "effect"]
    assert replayed["attrs"].get("replayed") is True
    assert not list((cli.cwd / "tmp" / "jobtrail-demo").glob("gateway-ledger-*"))


def test_demo_shows_the_flow_from_code_and_a_dry_run(cli: Cli) -> None:
    """The demo draws sync_customer's flow from its code (no validate step) and a dry run
    that captures the push and reports the missing step, storing nothing."""
    run = cli("demo", "--jobs", "5", timeout=60)
    assert run.code == 0, run.stderr
    section = run.stdout.split("\nPaths the code can take\n", 1)[1].split("\n\n", 1)[0]
    assert "-> exit:unchanged  [changed=false]" in section
    assert "effect:push_crm  (line" in section
    assert "step:validate" not in section
    assert "path: fetch decide:changed=true effect:push_crm" in section
    assert "effect push_crm (key crm-5) captured, not performed" in section
    assert "missing step validate before effect:push_crm" in section


def test_the_dashboard_command_the_demo_prints_shows_its_jobs(cli: Cli) -> None:
    """The dashboard command the demo prints last serves, as printed, the demo's own jobs
    and job types (its dead charge among them)."""
    run = cli("demo", "--jobs", "10", timeout=60)
    assert run.code == 0, run.stderr
    command = run.stdout.split("\nLook further", 1)[1].strip().splitlines()[-1].strip()
    port = free_port()
    shims = cli.cwd / ".bin"
    shims.mkdir(exist_ok=True)
    (shims / "jobtrail").write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m jobtrail "$@"\n')
    (shims / "jobtrail").chmod(0o755)
    env = {**cli.env, "PATH": f"{shims}{os.pathsep}{cli.env.get('PATH', '')}"}
    server = subprocess.Popen(["sh", "-c", f"exec env {command} --port {port}"], cwd=cli.cwd,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        assert first_answer(server, base + "/").status_code == 200
        dead = httpx2.get(base + "/dead?format=json", timeout=10).json()["jobs"]
        assert any(job["job_name"] == "charge_invoice" for job in dead), dead
        listed = httpx2.get(base + "/jobs?format=json", timeout=10).json()["jobs"]
        names = {job["job_name"] for job in listed}
        assert {"charge_invoice", "send_welcome_email"} <= names, names
    finally:
        server.terminate()
        server.communicate(timeout=10)
