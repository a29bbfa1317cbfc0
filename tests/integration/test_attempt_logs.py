"""Real worker processes log one line per finished attempt, in text or JSON, on both backends."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from jobtrail import App, Status
from jobtrail.observe.events import FIELDS, MAX_MESSAGE
from tests.support.logged import HUGE, SECRET, SECRET_MARK, declare
from tests.support.processes import ROOT

TARGET = "tests.support.logged:app"
#: A text line: time, level, logger, message.
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (\w+) +([\w.]+): (.*)$")
ATTEMPT = re.compile(r"^job (\d+) (\w+) attempt (\d+)/(\d+) (\w+(?: \w+)?)")
BASE_KEYS = {"time", "level", "logger", "message"}


def run_worker(db_url: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``jobtrail worker tests.support.logged:app --burst ARGS`` until it stops; return
    what it wrote on standard error (which must be UTF-8), asserting it exited 0."""
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("JOBTRAIL_", "LOGGED_"))}
    environment.update(JOBTRAIL_URL=db_url, PYTHONPATH=str(ROOT), **(env or {}))
    done = subprocess.run(
        [sys.executable, "-m", "jobtrail", "worker", TARGET, "--burst", *args],
        env=environment, cwd=ROOT, capture_output=True, timeout=120, check=False,
    )
    stderr = done.stderr.decode("utf-8")
    assert done.returncode == 0, stderr[-3000:]
    return stderr


def text_records(stderr: str) -> list[tuple[str, str, str]]:
    """Each line as (level, logger, message), asserting every line is one whole record."""
    records = []
    for line in stderr.split("\n")[:-1]:
        found = TEXT_LINE.match(line)
        assert found is not None, f"not a log record of its own: {line[:300]!r}"
        assert line.isprintable(), f"a character that breaks lines or terminals: {line[:300]!r}"
        level, logger, message = found.groups()
        records.append((level, logger, message))
    assert stderr.endswith("\n")
    return records


def text_attempts(stderr: str) -> list[tuple[str, str]]:
    """The (level, message) of each attempt line."""
    return [(level, message) for level, logger, message in text_records(stderr)
            if logger == "jobtrail.attempts"]


def json_records(stderr: str) -> list[dict[str, Any]]:
    """Each line parsed as JSON, asserting it is one object with the base keys."""
    records = []
    for line in stderr.split("\n")[:-1]:
        assert line.isascii() and line.isprintable(), line[:300]
        record = json.loads(line)
        assert isinstance(record, dict) and set(record) >= BASE_KEYS, line[:300]
        records.append(record)
    assert records and stderr.endswith("\n")
    return records


def json_attempts(stderr: str) -> list[dict[str, Any]]:
    """The attempt lines, asserting each carries every field of the schema."""
    found = [r for r in json_records(stderr) if r["logger"] == "jobtrail.attempts"]
    for record in found:
        assert set(FIELDS) <= set(record), sorted(set(FIELDS) - set(record))
    return found


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    """An app on the empty database of the backend under test, with the logged jobs and
    one job the worker's app does not know (``vanished``)."""
    app = declare(make_app())

    @app.job
    def vanished(n: int) -> int:
        return n

    return app


def test_each_attempt_of_a_job_failing_with_name_error_logs_its_line(app: App, db_url: str) -> None:
    """100 jobs dying of NameError after 3 attempts log 300 lines: two retries and a dead
    letter each, with the job, attempt, error, queue, worker and trace."""
    handles = app.job_named("misspelled").enqueue_many([{"n": n} for n in range(100)])
    stderr = run_worker(db_url)
    lines = text_attempts(stderr)
    assert len(lines) == 300
    host = socket.gethostname()
    seen: Counter[tuple[int, int]] = Counter()
    for level, message in lines:
        found = ATTEMPT.match(message)
        assert found is not None, message
        job_id, name, attempt, max_attempts, verdict = found.groups()
        seen[int(job_id), int(attempt)] += 1
        assert (name, max_attempts, verdict) == ("misspelled", "3", "failed after")
        if attempt == "3":
            assert level == "ERROR" and ", dead [" in message
        else:
            assert level == "WARNING" and ", retrying in 0.0ms at " in message
        trace = app.get(int(job_id)).trace_id
        assert f"[queue default, worker {host}:" in message and f", trace {trace}]" in message
        assert message.endswith(": NameError: name 'gateway_busy' is not defined")
    assert seen == Counter({(h.id, n): 1 for h in handles for n in (1, 2, 3)})
    assert {app.get(h.id).status for h in handles} == {Status.DEAD}


def test_json_lines_parse_and_carry_the_event_fields(app: App, db_url: str) -> None:
    """With --log-format json every line is a JSON object; attempt lines hold every field
    of the event, matching the stored jobs; the worker's own lines name it."""
    failing = app.job_named("misspelled").enqueue(n=1)
    fine = app.job_named("fine").enqueue(n=5)
    exited = app.job_named("fine").enqueue(n=-1)
    vanished = app.job_named("vanished").enqueue(n=1)
    stderr = run_worker(db_url, "--log-format", "json")
    records = json_records(stderr)
    attempts = json_attempts(stderr)
    by_job: dict[int, list[dict[str, Any]]] = {}
    for record in attempts:
        by_job.setdefault(record["job_id"], []).append(record)
    worker_ids = {r["worker_id"] for r in attempts}
    assert len(worker_ids) == 1
    started = [r for r in records if r["logger"] == "jobtrail.worker" and "started" in r["message"]]
    assert [r["worker_id"] for r in started] == list(worker_ids)
    assert all(datetime.fromisoformat(r["time"].replace("Z", "+00:00")) for r in records)

    assert [(r["attempt"], r["status"], r["level"]) for r in by_job[failing.id]] == [
        (1, "retrying", "WARNING"), (2, "retrying", "WARNING"), (3, "dead", "ERROR")]
    for record in by_job[failing.id]:
        stored = app.get(failing.id)
        assert record["job_name"] == "misspelled" and record["queue"] == "default"
        assert record["max_attempts"] == 3 and record["trace_id"] == stored.trace_id
        assert (record["error_type"], record["error_message"]) == (
            "NameError", "name 'gateway_busy' is not defined")
        assert isinstance(record["duration"], float) and record["duration"] > 0
    (success,) = by_job[fine.id]
    assert (success["status"], success["level"], success["outcome"]) == ("succeeded", "INFO", None)
    assert success["error_type"] is None and success["retry_delay"] is None
    (early,) = by_job[exited.id]
    assert (early["status"], early["outcome"]) == ("succeeded", "exit:nothing_to_do")
    (orphan,) = by_job[vanished.id]
    assert (orphan["status"], orphan["level"], orphan["duration"]) == ("orphaned", "ERROR", None)
    assert orphan["error_type"] == "UnknownJob" and "vanished" in orphan["error_message"]


def test_retry_lines_say_when_the_next_attempt_comes(app: App, db_url: str) -> None:
    """A retrying attempt's line gives the delay and the time of the next attempt, which
    is when the stored job is due again."""
    handle = app.job_named("flaky").enqueue(n=3)
    stderr = run_worker(db_url, "--log-format", "json")
    (record,) = json_attempts(stderr)
    assert (record["status"], record["retry_delay"]) == ("retrying", 0.5)
    next_at = datetime.fromisoformat(record["next_attempt_at"].replace("Z", "+00:00"))
    logged = datetime.fromisoformat(record["time"].replace("Z", "+00:00"))
    assert 0.45 <= (next_at - logged).total_seconds() <= 0.55
    assert abs((next_at - app.get(handle.id).run_at).total_seconds()) < 0.5
    assert "retrying in 500.0ms at " + record["next_attempt_at"] in record["message"]
    assert record["error_message"] == "gateway 3 timed out"


def test_a_timed_out_attempt_says_so(app: App, db_url: str) -> None:
    """An attempt past its timeout is logged dead with the outcome timed_out."""
    app.job_named("sleepy").enqueue(seconds=3)
    stderr = run_worker(db_url, "--log-format", "json")
    (record,) = json_attempts(stderr)
    assert (record["status"], record["outcome"]) == ("dead", "timed_out")
    assert record["error_type"] == "jobtrail.errors.JobTimeout"
    assert " timed out after " in record["message"]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_redacted_values_never_reach_the_log(app: App, db_url: str, log_format: str) -> None:
    """An error quoting a redact= argument is logged with the value masked, in any form."""
    app.job_named("login").enqueue(user="ada", password=SECRET)
    stderr = run_worker(db_url, "--log-format", log_format, "--log-level", "debug")
    assert SECRET_MARK not in stderr
    assert "[redacted]" in stderr
    if log_format == "json":
        messages = [r["error_message"] for r in json_attempts(stderr)]
    else:
        messages = [message for _, message in text_attempts(stderr)]
    assert len(messages) == 2
    assert all("login of ada with '[redacted]' refused: [redacted]" in m for m in messages)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_hostile_error_messages_keep_one_line_per_attempt(app: App, db_url: str,
                                                          log_format: str) -> None:
    """Newlines, control characters, a 1 MB message and lone surrogates in errors give one
    line per attempt: escaped in text, valid JSON, the message cut to its limit."""
    kinds = ["newlines", "control", "huge", "surrogate"]
    huge = f"… ({HUGE - MAX_MESSAGE:,} more characters)"
    handles = {app.job_named("hostile").enqueue(kind=kind).id: kind for kind in kinds}
    stderr = run_worker(db_url, "--log-format", log_format)
    if log_format == "text":
        lines = text_attempts(stderr)
        assert len(lines) == 8
        text = "\n".join(message for _, message in lines)
        assert "first line\\nINFO forged: job 1 succeeded\\r\\nthird\\u2028fourth" in text
        assert "escape\\x1b[31mred" in text and "nul\\x00" in text and "c1\\x85" in text
        assert "lone \\ud800 and \\udfff surrogates" in text
    else:
        records = json_attempts(stderr)
        assert len(records) == 8
        messages = {handles[r["job_id"]]: r["error_message"] for r in records}
        assert messages["newlines"].startswith("first line\nINFO forged")
        assert messages["surrogate"] == "lone \\ud800 and \\udfff surrogates"
        assert "\x1b[31mred" in messages["control"]
        assert messages["huge"] == "x" * MAX_MESSAGE + huge
    if log_format == "text":
        assert text.count("x" * MAX_MESSAGE + huge) == 2
    assert max(len(line) for line in stderr.split("\n")) < 4 * MAX_MESSAGE
    assert {app.get(i).status for i in handles} == {Status.DEAD}


def test_a_failing_log_handler_does_not_stop_the_worker(app: App, db_url: str) -> None:
    """A handler that raises on every attempt line changes nothing the worker does: every
    job ends as it would, and the worker exits cleanly."""
    failing = app.job_named("misspelled").enqueue_many([{"n": n} for n in range(3)])
    fine = app.job_named("fine").enqueue_many([{"n": n} for n in range(3)])
    stderr = run_worker(db_url, env={"LOGGED_BROKEN_HANDLER": "1"})
    assert [app.get(h.id).status for h in failing] == [Status.DEAD] * 3
    assert [app.get(h.id).attempts for h in failing] == [3] * 3
    assert [app.get(h.id).status for h in fine] == [Status.SUCCEEDED] * 3
    assert stderr.count("could not log the end of attempt") == 1
    assert "stopped: " in stderr


def test_the_app_log_format_applies_unless_the_command_line_says_otherwise(
    app: App, db_url: str
) -> None:
    """App(log_format="json") makes the worker log JSON; --log-format text overrides it."""
    app.job_named("fine").enqueue(n=1)
    as_json = run_worker(db_url, env={"LOGGED_FORMAT": "json"})
    assert [r["status"] for r in json_attempts(as_json)] == ["succeeded"]
    app.job_named("fine").enqueue(n=2)
    as_text = run_worker(db_url, "--log-format", "text", env={"LOGGED_FORMAT": "json"})
    assert [m.split(" [")[0].rsplit(" after ", 1)[0] for _, m in text_attempts(as_text)] == [
        "job 2 fine attempt 1/3 succeeded"]


def test_log_level_warning_keeps_the_failures_only(app: App, db_url: str) -> None:
    """At --log-level warning, successes are not logged and failed attempts still are."""
    app.job_named("fine").enqueue(n=1)
    failing = app.job_named("misspelled").enqueue(n=1)
    stderr = run_worker(db_url, "--log-level", "warning")
    lines = text_attempts(stderr)
    assert [ATTEMPT.match(m).groups()[:3] for _, m in lines] == [  # type: ignore[union-attr]
        (str(failing.id), "misspelled", str(n)) for n in (1, 2, 3)]
