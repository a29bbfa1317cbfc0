"""``jobtrail worker --log-format``: its lines as the command writes them, and bad values."""

from __future__ import annotations

import json

from tests.acceptance.conftest import Cli, Shop


def test_worker_logs_json_lines_with_each_attempt(cli: Cli, shop: Shop) -> None:
    """--log-format json writes every line as a JSON object, one per finished attempt."""
    added = str(cli("enqueue", shop.target, "add", "--arg", "a=2", "--arg", "b=3",
                    "--json").json()["id"])
    declined = str(cli("enqueue", shop.target, "decline", "--arg", "card=4000",
                       "--json").json()["id"])
    run = cli("worker", shop.target, "--burst", "--log-format", "json")
    assert run.code == 0, run.stderr
    records = [json.loads(line) for line in run.stderr.splitlines()]
    attempts = {r["job_id"]: r for r in records if r["logger"] == "jobtrail.attempts"}
    assert attempts[int(added)]["status"] == "succeeded"
    dead = attempts[int(declined)]
    assert (dead["status"], dead["attempt"], dead["max_attempts"]) == ("dead", 1, 2)
    assert (dead["error_type"], dead["error_message"]) == (
        "jobtrail.errors.Permanent", "card 4000 declined")
    assert all(r["worker_id"] == dead["worker_id"] for r in records if "worker_id" in r)


def test_worker_logs_text_lines_by_default(cli: Cli, shop: Shop) -> None:
    """Without --log-format a finished attempt is one line of text saying how it ended."""
    job = str(cli("enqueue", shop.target, "decline", "--arg", "card=4000", "--json").json()["id"])
    run = cli("worker", shop.target, "--burst")
    assert run.code == 0, run.stderr
    (line,) = [line for line in run.stderr.splitlines() if "jobtrail.attempts" in line]
    assert f"ERROR   jobtrail.attempts: job {job} decline attempt 1/2 failed after " in line
    assert line.endswith(": jobtrail.errors.Permanent: card 4000 declined")


def test_an_unknown_log_format_is_a_usage_error(cli: Cli, shop: Shop) -> None:
    """--log-format xml is refused in one line naming the choices, with exit code 2."""
    run = cli("worker", shop.target, "--burst", "--log-format", "xml")
    assert run.code == 2
    assert "'--log-format': 'xml' is not one of 'text', 'json'" in run.error_line()


def test_an_app_with_an_unknown_log_format_is_refused(cli: Cli) -> None:
    """An App(log_format=...) other than text or json stops the worker with one line."""
    (cli.cwd / "badlogs.py").write_text(
        'from jobtrail import App\napp = App("sqlite:///x.db", log_format="yaml")\n')
    run = cli("worker", "badlogs:app", "--burst")
    assert run.code == 2
    assert "App(log_format='yaml'): must be one of 'text', 'json'" in run.error_line()
