"""``jobtrail demo``: the embedded workload runs to the end and reports what it saw."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.acceptance.conftest import Cli, password_in, with_password

DEMO_URL = "sqlite:///jobtrail-demo.db"


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
    assert f"jobtrail dlq list --url {DEMO_URL}" in run.stdout
    assert (cli.cwd / "jobtrail-demo.db").exists()


def test_demo_jobs_end_as_the_scenarios_intend(cli: Cli) -> None:
    """Retried charges succeed, one charge is dead, the drifted payload is orphaned, and
    every follow-up is a child of a welcome email."""
    assert cli("demo", "--jobs", "20", timeout=30).code == 0
    jobs = cli("jobs", "list", "--url", DEMO_URL, "--limit", "1000", "--json").json()["jobs"]
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
    first = cli("jobs", "list", "--url", DEMO_URL, "--limit", "1000", "--json").json()["jobs"]
    assert cli("demo", "--jobs", "10", timeout=30).code == 0
    second = cli("jobs", "list", "--url", DEMO_URL, "--limit", "1000", "--json").json()["jobs"]
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
    jobs = cli("jobs", "list", "--url", DEMO_URL, "--limit", "1000", "--json").json()["jobs"]
    paid = [job for job in jobs if job["job_name"] == "pay_invoice"]
    assert sorted(job["args"]["invoice_id"] for job in paid) == [501, 502, 503]
    assert all((job["status"], job["attempts"]) == ("succeeded", 2) for job in paid)
    (ledger,) = (job for job in jobs if job["job_name"] == "reconcile_ledger")
    assert (ledger["status"], ledger["attempts"], ledger["result"]) == ("succeeded", 2, 3)
    events = cli("jobs", "show", str(ledger["id"]), "--url", DEMO_URL, "--json").json()["events"]
    steps = [(e["attempt"], e["name"], bool(e["attrs"].get("replayed"))) for e in events if e["kind"] == "step"]
    assert steps == [(1, "fetch", False), (1, "match", False), (2, "fetch", True),
                     (2, "match", True), (2, "post", False)]


def next_steps(stdout: str) -> list[str]:
    """The commands the demo suggests at its end, one a line."""
    tail = stdout.split("\nLook further", 1)[1]
    return [line.strip() for line in tail.splitlines()[1:] if line.strip()]


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
    assert sorted(path.name for path in cli.cwd.glob("*.db")) == ["jobtrail-demo.db"]
    assert_ran_again(cli, steps, DEMO_URL)


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
        assert "--url" in step or step.startswith("JOBTRAIL_DEMO_URL="), step
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
