"""Log lines: the attempt event, and formatters that write any record on one line."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from jobtrail import App
from jobtrail.errors import ConfigurationError
from jobtrail.observe import AttemptEvent, AttemptLog, JsonFormatter, TextFormatter
from jobtrail.observe.attempts import describe
from jobtrail.observe.events import FIELDS, MAX_MESSAGE
from jobtrail.observe.logs import TEXT_FORMAT, configure_logging, one_line
from jobtrail.records import ErrorInfo, Status
from jobtrail.store.base import ClaimedJob, Outcome

HOSTILE = "one\ntwo\r\nthree\x1b[31m\x00\x7f\x85\u2028\u2029 \ud800 tab\t end"


def claimed(job_id: int = 7, attempt: int = 1) -> ClaimedJob:
    """A claimed job as a worker holds it."""
    return ClaimedJob(job_id, "charge", "billing", "{}", attempt, 3, None, "trace-1", None, 42)


def record(message: str = "hello %s", args: tuple[object, ...] = ("world",),
           **extra: object) -> logging.LogRecord:
    """A record as a logger makes it."""
    made = logging.LogRecord("jobtrail.test", logging.WARNING, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


@pytest.fixture
def attempts_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of its own writing JSON lines into a buffer."""
    logger = logging.getLogger(f"jobtrail.test.attempts.{id(object())}")
    logger.propagate = False
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logger, buffer
    logger.removeHandler(handler)


def test_one_line_escapes_everything_that_breaks_a_line() -> None:
    """Line breaks, control characters, line separators and lone surrogates are escaped;
    printable text is left as it is."""
    escaped = one_line(HOSTILE)
    assert escaped == ("one\\ntwo\\r\\nthree\\x1b[31m\\x00\\x7f\\x85\\u2028\\u2029 \\ud800 "
                       "tab\\t end")
    assert escaped.isprintable()
    assert one_line("plain ascii, über ✓") == "plain ascii, über ✓"


def test_the_text_formatter_writes_a_hostile_message_on_one_line() -> None:
    """A message full of line breaks is one printable line of text."""
    line = TextFormatter().format(record("bad: %s", (HOSTILE,)))
    assert "\n" not in line and line.isprintable()
    assert line.endswith("WARNING jobtrail.test: bad: one\\ntwo\\r\\nthree\\x1b[31m\\x00\\x7f"
                         "\\x85\\u2028\\u2029 \\ud800 tab\\t end")


def test_the_json_formatter_writes_one_ascii_object_per_record() -> None:
    """A hostile message is one ASCII line that parses back to it (surrogates as text)."""
    line = JsonFormatter().format(record("bad: %s", (HOSTILE,), worker_id="w1", n=3))
    assert line.isascii() and "\n" not in line
    fields = json.loads(line)
    assert fields["message"] == "bad: " + HOSTILE.replace("\ud800", "\\ud800").replace(
        "\x00", "\\x00")
    assert (fields["level"], fields["logger"], fields["worker_id"], fields["n"]) == (
        "WARNING", "jobtrail.test", "w1", 3)
    assert fields["time"].endswith("Z")


def test_json_keeps_its_base_keys_and_survives_values_json_cannot_hold() -> None:
    """Extra fields never replace time, level, logger or message; NaN, objects and cycles
    are written as text instead of failing the line."""
    cycle: list[object] = []
    cycle.append(cycle)
    fields = json.loads(JsonFormatter().format(
        record(level="spoofed", ratio=float("nan"), thing=object(), cycle=cycle)))
    assert fields["level"] == "WARNING" and fields["message"] == "hello world"
    assert fields["ratio"] == "nan" and fields["thing"].startswith("<object object")
    assert fields["cycle"] == "[[...]]"


def test_a_record_whose_message_cannot_be_made_is_still_one_line() -> None:
    """Arguments that do not fit the message give one line saying so, in either format."""
    broken = record("%d items", ("many",))
    fields = json.loads(JsonFormatter().format(broken))
    assert fields["message"].startswith("unformattable log record (TypeError): %d items")
    text = TextFormatter().format(broken)
    assert "unformattable log record (TypeError)" in text and "\n" not in text


def test_a_traceback_goes_into_its_own_json_field() -> None:
    """log.exception's traceback is the ``traceback`` field of the JSON line."""
    try:
        raise ValueError("boom\nagain")
    except ValueError:
        failed = record("failed")
        failed.exc_info = sys.exc_info()
    fields = json.loads(JsonFormatter().format(failed))
    assert fields["traceback"].startswith("Traceback") and "ValueError: boom" in fields["traceback"]


def test_an_event_holds_the_attempt_flat_and_capped() -> None:
    """A retrying outcome becomes a flat event: the job, the delay and the next attempt's
    time; a 1 MB message is cut to its limit, saying how much was left out."""
    outcome = Outcome(7, 1, Status.RETRYING, error=ErrorInfo("NameError", "x" * 1_000_000),
                      retry_delay=2.5, duration=0.25, claim=42)
    event = AttemptEvent.of(claimed(), outcome, "host:1:ab", now=1_700_000_000.0)
    fields = event.fields()
    assert list(fields) == list(FIELDS)
    assert fields["error_message"] == "x" * MAX_MESSAGE + "… (999,000 more characters)"
    assert {k: v for k, v in fields.items() if k != "error_message"} == {
        "job_id": 7, "job_name": "charge", "queue": "billing", "attempt": 1,
        "max_attempts": 3, "status": "retrying", "outcome": None, "duration": 0.25,
        "error_type": "NameError", "retry_delay": 2.5,
        "next_attempt_at": "2023-11-14T22:13:22.500Z", "worker_id": "host:1:ab",
        "trace_id": "trace-1",
    }


def test_an_event_names_a_timeout_an_exit_and_a_lost_lease() -> None:
    """JobTimeout is the outcome ``timed_out``; an exit keeps its reason; an outcome
    written too late is ``lost``, without a next attempt."""
    timeout = ErrorInfo("jobtrail.errors.JobTimeout", "attempt ran past its timeout of 1s")
    timed_out = AttemptEvent.of(claimed(), Outcome(7, 3, Status.DEAD, error=timeout,
                                                   duration=1.0, claim=42), "w")
    assert (timed_out.status, timed_out.outcome) == ("dead", "timed_out")
    assert "attempt 3/3 timed out after 1.00s, dead [" in describe(timed_out)
    exited = AttemptEvent.of(claimed(), Outcome(7, 1, Status.SUCCEEDED, outcome="exit:paid",
                                                duration=0.01, claim=42), "w")
    assert describe(exited) == ("job 7 charge attempt 1/3 succeeded after 10.0ms, exit:paid "
                                "[queue billing, worker w, trace trace-1]")
    lost = AttemptEvent.of(claimed(), Outcome(7, 1, Status.RETRYING, retry_delay=1.0,
                                              error=ErrorInfo("E", "m"), claim=42), "w", lost=True)
    assert (lost.status, lost.retry_delay, lost.next_attempt_at) == ("lost", None, None)
    assert "lost (its lease moved on before the outcome was written" in describe(lost)


def test_the_attempt_log_levels_follow_the_status(
    attempts_log: tuple[logging.Logger, io.StringIO],
) -> None:
    """Successes log at INFO, retries and lost leases at WARNING, dead letters at ERROR."""
    logger, buffer = attempts_log
    log = AttemptLog("w", logger)
    error = ErrorInfo("E", "m")
    log.written(claimed(1), Outcome(1, 1, Status.SUCCEEDED, duration=0.1, claim=42))
    log.written(claimed(2), Outcome(2, 1, Status.RETRYING, error=error, retry_delay=0, claim=42))
    log.written(claimed(3), Outcome(3, 3, Status.DEAD, error=error, claim=42))
    log.written(claimed(4), Outcome(4, 1, Status.SUCCEEDED, claim=42), lost=True)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert [(r["job_id"], r["status"], r["level"]) for r in lines] == [
        (1, "succeeded", "INFO"), (2, "retrying", "WARNING"), (3, "dead", "ERROR"),
        (4, "lost", "WARNING")]


def test_a_logger_not_enabled_for_the_level_gets_nothing(
    attempts_log: tuple[logging.Logger, io.StringIO],
) -> None:
    """Above INFO, successes are not logged (nothing is built for them); failures are."""
    logger, buffer = attempts_log
    logger.setLevel(logging.WARNING)
    log = AttemptLog("w", logger)
    log.written(claimed(1), Outcome(1, 1, Status.SUCCEEDED, claim=42))
    log.written(claimed(2), Outcome(2, 3, Status.DEAD, error=ErrorInfo("E", "m"), claim=42))
    assert [json.loads(line)["job_id"] for line in buffer.getvalue().splitlines()] == [2]


def test_a_failing_handler_never_reaches_the_caller(
    attempts_log: tuple[logging.Logger, io.StringIO],
) -> None:
    """A handler that raises from handle() leaves the attempt log's caller untouched; the
    failures are counted."""
    logger, _ = attempts_log

    class Failing(logging.Handler):
        def handle(self, record: logging.LogRecord) -> bool:
            raise RuntimeError("broken handler")

    logger.addHandler(Failing())
    log = AttemptLog("w", logger)
    for attempt in (1, 2):
        log.written(claimed(), Outcome(7, attempt, Status.RETRYING, retry_delay=0, claim=42))
    assert log.failures == 2


def test_configure_logging_installs_the_chosen_format() -> None:
    """configure_logging writes records of the level and up in the chosen format."""
    buffer = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("warning", "json", buffer)
        logging.getLogger("jobtrail.test").info("hidden")
        logging.getLogger("jobtrail.test").warning("shown %d", 1)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    (line,) = buffer.getvalue().splitlines()
    assert json.loads(line)["message"] == "shown 1"


def test_an_unknown_log_format_is_refused_by_the_app() -> None:
    """App(log_format=...) takes only text or json, and says so."""
    with pytest.raises(ConfigurationError, match=r"App\(log_format='xml'\): must be one of "
                                                 r"'text', 'json'"):
        App("sqlite:///unused.db", log_format="xml")  # type: ignore[arg-type]


def test_text_time_is_the_standard_one_while_made_once_a_second() -> None:
    """The text formatter keeps the time up to the second between lines: every line still
    shows what `logging.Formatter` would, across seconds and back in time."""
    ours, standard = TextFormatter(), logging.Formatter(TEXT_FORMAT)
    for moment in (1733400000.0, 1733400000.25, 1733400000.999, 1733400001.5, 0.5, 1733400000.75):
        made = record()
        made.created = moment
        made.msecs = int((moment - int(moment)) * 1000) + 0.0
        assert ours.formatTime(made) == standard.formatTime(made)
    dated = record()
    assert ours.formatTime(dated, "%Y") == standard.formatTime(dated, "%Y")
