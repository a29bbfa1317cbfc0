"""Log lines a worker writes: one per record, in text or JSON, and one per finished attempt.

``jobtrail worker --log-format text|json`` (or ``App(log_format=...)``) sets up stdlib
``logging`` with `configure_logging`: a handler on standard error whose formatter is
`TextFormatter` or `JsonFormatter`. Both write every record on one line, whatever its
message holds:

- `TextFormatter`: ``TIME LEVEL LOGGER: MESSAGE``, with line breaks and other control
  characters in the message written as escapes (``\\n``, ``\\x1b``), and lone surrogates
  as ``\\udXXX``; a traceback (``log.exception``) follows on its own lines.
- `JsonFormatter`: one JSON object (ASCII, so nothing in it can break the line):
  ``time`` (ISO-8601, UTC), ``level``, ``logger``, ``message``, every structured field
  the call passed with ``extra=`` (``worker_id`` on the worker's own lines), and
  ``traceback`` when there is one. It is made with ``json.dumps`` of a dict; a value
  JSON cannot hold is written as its text.

`AttemptLog` writes the worker's line per finished attempt on the ``jobtrail.attempts``
logger, made of an `AttemptEvent` (`jobtrail.observe.events`): the event's fields are
the record's ``extra=`` fields, and its message says the same in words. The level
follows the status: ``succeeded`` at INFO, ``retrying`` and ``lost`` at WARNING,
``dead`` and ``orphaned`` at ERROR. When the logger is not enabled for that level,
nothing is built. A line that cannot be written (a handler or formatter that fails)
never fails the worker: the outcome it reports is already stored.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from contextlib import suppress
from typing import IO, Any

from jobtrail.errors import ConfigurationError
from jobtrail.observe.events import AttemptEvent, iso_time
from jobtrail.records import Status
from jobtrail.settings import LOG_FORMATS
from jobtrail.store.base import ClaimedJob, Outcome
from jobtrail.text import storable

#: The logger of the worker's line per finished attempt.
ATTEMPTS_LOGGER = "jobtrail.attempts"
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

LEVELS: dict[str, int] = {
    Status.SUCCEEDED: logging.INFO,
    Status.RETRYING: logging.WARNING,
    Status.DEAD: logging.ERROR,
    Status.ORPHANED: logging.ERROR,
}
LOST_LEVEL = logging.WARNING

log = logging.getLogger("jobtrail.observe")

# -- one line ------------------------------------------------------------------------------
#: What `one_line` writes for each character that could break a line or a terminal: the
#: C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_ESCAPES: dict[int, str] = {
    **{code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))},
    ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t",
    0x2028: "\\u2028", 0x2029: "\\u2029",
}


def one_line(text: str) -> str:
    """*text* on one printable line: control characters and line separators escaped,
    lone surrogates written ``\\udXXX``. Printable ASCII comes back as it was."""
    if text.isascii() and text.isprintable():
        return text
    return storable(text).translate(_ESCAPES)


# -- formatters ------------------------------------------------------------------------------
class TextFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER: MESSAGE`` on one line (see the module docstring)."""

    def __init__(self, fmt: str = TEXT_FORMAT, datefmt: str | None = None) -> None:
        super().__init__(fmt, datefmt)

    def formatMessage(self, record: logging.LogRecord) -> str:
        return one_line(super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        try:
            return super().format(record)
        except Exception as exc:  # a record whose message cannot be made (bad arguments)
            return one_line(f"{iso_time(record.created)} {record.levelname:<7} {record.name}: "
                            f"{_unformattable(record, exc)}")


#: Attributes every `logging.LogRecord` has: what is not one of them came with ``extra=``.
_RECORD_ATTRIBUTES = frozenset(
    {*logging.LogRecord("", 0, "", 0, "", (), None).__dict__, "message", "asctime"}
)


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        try:
            fields = self.fields(record)
        except Exception as exc:  # a failing formatException, an extra that cannot be read
            fields = {"time": iso_time(record.created), "level": record.levelname,
                      "logger": record.name, "message": _unformattable(record, exc)}
        try:
            return json.dumps(fields, allow_nan=False, default=_text)
        except (TypeError, ValueError, RecursionError):  # NaN, a cycle, a bad key
            return json.dumps({str(k): _plain(v) for k, v in fields.items()})

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """The record as the dict the line is made of."""
        fields: dict[str, Any] = {
            "time": iso_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": _message(record),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and key not in fields:
                fields[key] = storable(value) if isinstance(value, str) else value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            fields["traceback"] = storable(record.exc_text)
        if record.stack_info:
            fields["stack"] = storable(self.formatStack(record.stack_info))
        return fields


def _message(record: logging.LogRecord) -> str:
    """The record's message, or what it was made of when it cannot be made."""
    try:
        return storable(record.getMessage())
    except Exception as exc:  # arguments that do not fit the message
        return _unformattable(record, exc)


def _unformattable(record: logging.LogRecord, exc: Exception) -> str:
    return (f"unformattable log record ({type(exc).__name__}): {_text(record.msg)} "
            f"{_text(record.args)}")


def _text(value: object) -> str:
    """*value* as text, whatever its ``str`` does."""
    try:
        return storable(str(value))
    except Exception:
        return f"<{type(value).__name__}>"


def _plain(value: object) -> object:
    """*value* if JSON holds it as it is, else its text."""
    if value is None or isinstance(value, bool | int | str):
        return storable(value) if isinstance(value, str) else value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return _text(value)


def formatter_for(log_format: str) -> logging.Formatter:
    """The formatter of *log_format* (``text`` or ``json``)."""
    if log_format == "text":
        return TextFormatter()
    if log_format == "json":
        return JsonFormatter()
    raise ConfigurationError(f"log format {log_format!r}: must be one of {', '.join(LOG_FORMATS)}")


def configure_logging(level: str, log_format: str, stream: IO[str] | None = None
                      ) -> logging.Handler:
    """Log records of *level* and up (``"info"``...) on *stream* (standard error), one
    line each in *log_format*, replacing the root logger's handlers; return the handler."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter_for(log_format))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    return handler


# -- the line per attempt -------------------------------------------------------------------
class AttemptLog:
    """Logs the end of each attempt a worker ran, once its outcome is written."""

    __slots__ = ("failures", "logger", "worker_id")

    def __init__(self, worker_id: str, logger: logging.Logger | None = None) -> None:
        self.worker_id = worker_id
        self.logger = logger if logger is not None else logging.getLogger(ATTEMPTS_LOGGER)
        #: Lines that could not be written (only the first is reported).
        self.failures = 0

    def written(self, claimed: ClaimedJob, outcome: Outcome, *, lost: bool = False) -> None:
        """Log *outcome*, the end of an attempt of *claimed*; *lost* when its lease moved
        on before it could be written. Never raises."""
        level = LOST_LEVEL if lost else LEVELS.get(outcome.status, logging.INFO)
        if not self.logger.isEnabledFor(level):
            return
        try:
            event = AttemptEvent.of(claimed, outcome, self.worker_id, lost=lost)
            self.logger.log(level, describe(event), extra=event.fields())
        except Exception:  # a failing handler: the outcome is stored, the worker goes on
            self.failures += 1
            if self.failures == 1:
                with suppress(Exception):
                    log.exception("could not log the end of attempt %d of job %s (later "
                                  "failures are not reported)", outcome.attempt, outcome.job_id)


def describe(event: AttemptEvent) -> str:
    """The event in words: ``job 7 charge attempt 1/3 failed after 2.1ms, retrying in
    500.0ms at 2025-01-31T12:00:00.750Z [queue default, worker w1]: NameError: ...``."""
    status = event.status
    how = event.outcome
    took = "" if event.duration is None else f" after {seconds(event.duration)}"
    failed = "timed out" if how == "timed_out" else "failed"
    if status == "succeeded":
        verdict = f"succeeded{took}" + (f", {how}" if how else "")
    elif status == "retrying":
        delay = seconds(event.retry_delay or 0.0)
        verdict = f"{failed}{took}, retrying in {delay} at {event.next_attempt_at}"
    elif status == "dead":
        verdict = f"{failed}{took}, dead" + (f" ({how})" if how and how != "timed_out" else "")
    elif status == "orphaned":
        verdict = "orphaned (it cannot run)"
    else:
        verdict = (f"lost{took} (its lease moved on before the outcome was written; another "
                   "attempt owns the job)")
    where = f"queue {event.queue}, worker {event.worker_id}"
    if event.trace_id is not None:
        where += f", trace {event.trace_id}"
    text = f"job {event.job_id} {event.job_name} attempt {event.attempt}/{event.max_attempts} "
    text += f"{verdict} [{where}]"
    if event.error_type is not None:
        text += f": {event.error_type}: {event.error_message}"
    return text


def seconds(value: float) -> str:
    """A duration for people: ``2.1ms``, ``3.25s``, ``1,200s``."""
    if value < 1:
        return f"{value * 1000:.1f}ms"
    if value < 100:
        return f"{value:.2f}s"
    return f"{value:,.0f}s"
