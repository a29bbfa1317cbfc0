"""How values travel between jobtrail and PostgreSQL: batches as one array per column,
floats where an array needs them, times as aware UTC datetimes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.datetime import TimestamptzLoader


def columns(names: Sequence[str], records: Sequence[tuple[Any, ...]]) -> dict[str, list[Any]]:
    """One list per column of *records*: the arrays a statement expands with unnest."""
    found = list(zip(*records, strict=True)) or [() for _ in names]
    return {name: list(column) for name, column in zip(names, found, strict=True)}


def as_float(value: float | None) -> float | None:
    """*value* as a float: an array parameter holds one type, so a delay given as an int
    must not sit beside floats."""
    return None if value is None else float(value)


def to_time(value: Any) -> datetime | None:
    """A stored ``timestamptz`` as an aware UTC datetime (``None`` stays ``None``)."""
    return None if value is None else value.astimezone(UTC)


class ClampedTimestamptz(TimestamptzLoader):
    """Reads a time beyond what Python can hold (a job scheduled for the year 20000 by a
    version of jobtrail that did not bound delays) as the last (or first) time it can."""

    def load(self, data: Any) -> datetime:
        try:
            return super().load(data)
        except psycopg.DataError:
            text = bytes(data)
            early = text.startswith(b"-") or text.endswith(b"BC")
            return (datetime.min if early else datetime.max).replace(tzinfo=UTC)
