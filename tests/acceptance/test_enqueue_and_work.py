"""Enqueue jobs from the command line, run them with ``jobtrail worker``, read them back."""

from __future__ import annotations

from tests.acceptance.conftest import JOB_KEYS, Cli, Shop, Worked


def test_enqueue_prints_the_new_job_id(cli: Cli, shop: Shop) -> None:
    """enqueue prints only the id of the stored job, so scripts can capture it."""
    first = cli("enqueue", shop.target, "add", "--arg", "a=1", "--arg", "b=2")
    second = cli("enqueue", shop.target, "add", "--json", '{"a": 3, "b": 4}')
    assert (first.code, first.stdout.strip()) == (0, "1")
    assert (second.code, second.stdout.strip()) == (0, "2")


def test_arg_values_are_json_when_they_parse_and_strings_otherwise(cli: Cli, shop: Shop) -> None:
    """--arg reads JSON values, keeps other text as a string, and gives str arguments the
    text as typed; --json and --arg combine."""
    run = cli(
        "enqueue", shop.target, "greet", "--arg", "name=007", "--json", '{"times": 2}',
    )
    assert run.code == 0, run.stderr
    job = cli("jobs", "show", run.stdout.strip(), "--url", shop.url, "--json").json()["job"]
    assert job["args"] == {"name": "007", "times": 2}
    assert job["queue"] == "mail"


def test_enqueue_with_delay_and_priority(cli: Cli, shop: Shop) -> None:
    """--delay postpones the job and --priority is stored with it."""
    run = cli("enqueue", shop.target, "greet", "--arg", "name=x", "--delay", "600",
              "--priority", "5")
    assert run.code == 0, run.stderr
    job = cli("jobs", "show", run.stdout.strip(), "--url", shop.url, "--json").json()["job"]
    assert job["priority"] == 5
    assert job["run_at"] > job["created_at"]


def test_worker_burst_runs_jobs_then_list_shows_them(cli: Cli, worked: Worked, shop: Shop) -> None:
    """After worker --burst, jobs list shows the succeeded and the dead job in a table."""
    run = cli("jobs", "list", "--app", shop.target)
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split()[:3] == ["ID", "Job", "Queue"]
    rows = {line.split()[0]: line for line in lines[2:] if line.strip()}
    assert "succeeded" in rows[str(worked.added)]
    assert "dead" in rows[str(worked.declined)]
    assert "card 4000 declined" in rows[str(worked.declined)]


def test_worker_logs_to_stderr_and_exits_0(cli: Cli, shop: Shop) -> None:
    """A burst worker logs its start and stop on stderr and exits 0 on a clean stop."""
    cli("enqueue", shop.target, "greet", "--arg", "name=a")
    run = cli("worker", shop.target, "--burst", "--queues", "mail", "--concurrency", "2")
    assert run.code == 0
    assert "started" in run.stderr and "stopped" in run.stderr
    assert run.stdout == ""


def test_worker_takes_only_the_queues_it_is_given(cli: Cli, shop: Shop) -> None:
    """--queues limits the worker to those queues; jobs of others stay queued."""
    mail = cli("enqueue", shop.target, "greet", "--arg", "name=a").stdout.strip()
    maths = cli("enqueue", shop.target, "add", "--arg", "a=1", "--arg", "b=1").stdout.strip()
    assert cli("worker", shop.target, "--burst", "--queues", "mail").code == 0
    listed = cli("jobs", "list", "--url", shop.url, "--json").json()["jobs"]
    jobs = {job["id"]: job for job in listed}
    assert jobs[int(mail)]["status"] == "succeeded"
    assert jobs[int(maths)]["status"] == "queued"


def test_jobs_list_filters_and_json(cli: Cli, worked: Worked, shop: Shop) -> None:
    """jobs list --json is an object: the page of jobs with stable keys, narrowed by the
    filters, how many match in all, and the cursor of the next page."""
    everything = cli("jobs", "list", "--url", shop.url, "--json").json()
    assert set(everything) == {"jobs", "total", "next_before"}
    assert [job["id"] for job in everything["jobs"]] == [worked.declined, worked.added]
    assert (everything["total"], everything["next_before"]) == (2, None)
    assert all(set(job) == JOB_KEYS for job in everything["jobs"])
    dead = cli("jobs", "list", "--url", shop.url, "--status", "dead", "--json").json()
    assert [job["id"] for job in dead["jobs"]] == [worked.declined] and dead["total"] == 1
    by_name = cli("jobs", "list", "--url", shop.url, "--job", "add", "--json").json()
    assert [job["id"] for job in by_name["jobs"]] == [worked.added]
    mail = cli("jobs", "list", "--url", shop.url, "--queue", "mail", "--json").json()
    assert mail == {"jobs": [], "total": 0, "next_before": None}
    first = cli("jobs", "list", "--url", shop.url, "--limit", "1", "--json").json()
    assert [job["id"] for job in first["jobs"]] == [worked.declined]
    assert (first["total"], first["next_before"]) == (2, worked.declined)


def test_jobs_show_prints_fields_error_and_timeline(cli: Cli, worked: Worked, shop: Shop) -> None:
    """jobs show prints the job's fields, its error with traceback, and its events."""
    run = cli("jobs", "show", str(worked.declined), "--url", shop.url)
    assert run.code == 0, run.stderr
    assert f"decline #{worked.declined}" in run.stdout
    assert "card 4000 declined" in run.stdout
    assert "Traceback (most recent call last)" in run.stdout
    assert "Timeline" in run.stdout
    for event in ("enqueued", "claimed", "dead"):
        assert event in run.stdout


def test_jobs_show_json_has_the_job_and_its_events(cli: Cli, worked: Worked, shop: Shop) -> None:
    """jobs show --json gives the job (same keys as list) and its ordered events."""
    shown = cli("jobs", "show", str(worked.added), "--url", shop.url, "--json").json()
    assert set(shown["job"]) == JOB_KEYS
    assert shown["job"]["result"] == 5
    assert shown["job"]["created_at"].endswith("+00:00")
    names = [event["name"] for event in shown["events"]]
    assert names[0] == "enqueued" and names[-1] == "succeeded"
    assert {"name": "adding", "attrs": {"a": 2, "b": 3}}.items() <= next(
        event for event in shown["events"] if event["name"] == "adding"
    ).items()


def test_url_from_the_environment(cli: Cli, worked: Worked, shop: Shop) -> None:
    """Without MODULE:APP or --url, $JOBTRAIL_URL names the database."""
    run = cli("jobs", "list", "--json", JOBTRAIL_URL=shop.url)
    assert run.code == 0, run.stderr
    assert len(run.json()["jobs"]) == 2


def test_db_upgrade_creates_then_reports_up_to_date(cli: Cli) -> None:
    """db upgrade applies the migrations to a new database, then says it is up to date."""
    first = cli("db", "upgrade", "--url", "sqlite:///fresh.db")
    assert first.code == 0, first.stderr
    assert first.stdout.startswith("applied migration")
    second = cli("db", "upgrade", "--url", "sqlite:///fresh.db")
    assert second.code == 0
    assert second.stdout.startswith("already up to date (version ")
