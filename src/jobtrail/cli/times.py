"""Times given on the command line: `MOMENT`, the type of every ``--since``, and
`Duration`, the type of a length of time (``jobtrail queues --window``, ``--watch``).

A time is an age — ``45s``, ``30m``, ``1h``, ``2d``, ``1w``: that long before now — or an
ISO-8601 date or time (``2026-12-01``, ``2026-12-01T09:30``, ``2026-12-01T09:30+02:00``),
in UTC when it names no zone. `parse_moment` is the one parser of both; an age and a
duration are read by the same `length`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from jobtrail.text import shown

#: Seconds in each unit of an age.
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_LENGTH = re.compile(r"\s*(\d{1,12}(?:\.\d*)?|\.\d+)\s*([smhdw]?)\s*")
#: What a malformed time is told to look like.
FORMS = ("an age such as 45s, 30m, 1h, 2d or 1w, or an ISO-8601 time such as 2026-12-01 "
         "or 2026-12-01T09:30 (UTC unless it names a zone)")


def length(text: str, *, unit_optional: bool = False) -> float | None:
    """The seconds *text* says (``90s``, ``1.5h``, ``2d``; with *unit_optional*, a bare
    number is seconds), or ``None`` when it is not a length of time."""
    match = _LENGTH.fullmatch(text)
    if match is None or (not match[2] and not unit_optional):
        return None
    return float(match[1]) * UNITS[match[2] or "s"]


def span(seconds: float) -> str:
    """A length as written: ``300`` → ``5m``, ``90`` → ``90s``, ``7200`` → ``2h``."""
    for unit in ("d", "h", "m"):
        if seconds >= UNITS[unit] and seconds % UNITS[unit] == 0:
            return f"{seconds / UNITS[unit]:g}{unit}"
    return f"{seconds:g}s"


def parse_moment(text: str, now: datetime) -> datetime:
    """The aware time *text* names: an age before *now*, or an ISO-8601 time (UTC when it
    names no zone). Raise `ValueError` saying which forms are accepted."""
    seconds = length(text)
    if seconds is not None:
        try:
            return now - timedelta(seconds=seconds)
        except OverflowError:
            raise ValueError(f"{shown(text)} reaches back before the year 1") from None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{shown(text)} is not a time: give {FORMS}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Moment(click.ParamType):  # type: ignore[type-arg]
    """A time given as an age (``1h``: an hour ago) or ISO-8601 (see `parse_moment`)."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_moment(str(value), datetime.now(UTC))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


MOMENT = Moment()


class Duration(click.ParamType):  # type: ignore[type-arg]
    """A length of time such as ``90s``, ``5m``, ``1h`` or ``2d`` (`length`); with
    *unit_optional*, a bare number is seconds. It must be above 0, at least *least* and
    at most *most* seconds."""

    name = "DURATION"

    def __init__(self, most: float, *, least: float = 0.0, unit_optional: bool = False) -> None:
        self.most, self.least = most, least
        self.unit_optional = unit_optional

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        text = str(value)
        seconds = length(text, unit_optional=self.unit_optional)
        if seconds is None:
            self.fail(f"{text!r} is not a duration such as 90s, 5m, 1h or 2d", param, ctx)
        if not (0 < seconds <= self.most and seconds >= self.least):
            bound = f"at least {span(self.least)}" if self.least else "more than 0"
            self.fail(f"{text!r} is out of range: {bound} and at most {span(self.most)}",
                      param, ctx)
        return seconds
