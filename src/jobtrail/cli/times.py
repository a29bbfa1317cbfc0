"""Times given on the command line: `MOMENT`, the type of every ``--since``.

A time is an age — ``45s``, ``30m``, ``1h``, ``2d``, ``1w``: that long before now — or an
ISO-8601 date or time (``2026-12-01``, ``2026-12-01T09:30``, ``2026-12-01T09:30+02:00``),
in UTC when it names no zone. `parse_moment` is the one parser of both.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from jobtrail.text import shown

#: Seconds in each unit of an age.
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_AGE = re.compile(r"(\d{1,12})([smhdw])")
#: What a malformed time is told to look like.
FORMS = ("an age such as 45s, 30m, 1h, 2d or 1w, or an ISO-8601 time such as 2026-12-01 "
         "or 2026-12-01T09:30 (UTC unless it names a zone)")


def parse_moment(text: str, now: datetime) -> datetime:
    """The aware time *text* names: an age before *now*, or an ISO-8601 time (UTC when it
    names no zone). Raise `ValueError` saying which forms are accepted."""
    age = _AGE.fullmatch(text.strip())
    if age is not None:
        seconds = int(age[1]) * UNITS[age[2]]
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
