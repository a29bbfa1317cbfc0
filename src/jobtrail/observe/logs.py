"""Log lines a worker writes: one per record, in text or JSON.

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

The worker's line per finished attempt is `jobtrail.observe.attempts`.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from typing import IO, Any

from jobtrail.errors import ConfigurationError
from jobtrail.observe.events import iso_time
from jobtrail.text import storable

#: The formats of the worker's log lines (``App(log_format=...)``, ``--log-format``).
LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


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
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """`logging.Formatter.formatTime`, its text up to the second made once a second
        (a worker writes many lines a second, and ``strftime`` was half of formatting one)."""
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        whole = int(record.created)
        second, text = self._second
        if whole != second:
            text = time.strftime(self.default_time_format, self.converter(whole))
            self._second = (whole, text)
        msecs = self.default_msec_format
        return text if msecs is None else msecs % (text, record.msecs)

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

    def __init__(self) -> None:
        super().__init__()
        #: ``json.dumps(fields, allow_nan=False, default=_text)``, its encoder made once.
        self._encode = json.JSONEncoder(allow_nan=False, default=_text).encode
        self._second: tuple[int, str] = (0, "")

    def format(self, record: logging.LogRecord) -> str:
        try:
            fields = self.fields(record)
        except Exception as exc:  # a failing formatException, an extra that cannot be read
            fields = {"time": iso_time(record.created), "level": record.levelname,
                      "logger": record.name, "message": _unformattable(record, exc)}
        try:
            return self._encode(fields)
        except (TypeError, ValueError, RecursionError):  # NaN, a cycle, a bad key
            return json.dumps({str(k): _plain(v) for k, v in fields.items()})

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """The record as the dict the line is made of."""
        fields: dict[str, Any] = {
            "time": self.utc_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": _message(record),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and key not in fields:
                # (ASCII needs nothing: JSON escapes its control characters)
                isatext = isinstance(value, str) and not value.isascii()
                fields[key] = storable(value) if isatext else value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            fields["traceback"] = storable(record.exc_text)
        if record.stack_info:
            fields["stack"] = storable(self.formatStack(record.stack_info))
        return fields

    def utc_time(self, epoch: float) -> str:
        """`iso_time` of *epoch*, its text up to the second made once a second."""
        whole = int(epoch)
        second, text = self._second
        if whole != second:
            text = iso_time(whole)[:-5]  # "2025-01-31T12:00:00"
            self._second = (whole, text)
        return f"{text}.{int((epoch - whole) * 1000):03d}Z"


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
