"""How a job's recorded path is stored: one row per segment, the same for every backend.

A segment is the list of entries (steps, effects, events) one attempt recorded between
two writes: at its outcome, or at a checkpoint while it runs. It is stored as a single
``jobtrail_events`` row of kind ``path``; the row's ``at`` is the time of the first entry
and its ``attrs`` hold a JSON array of entries::

    [[kind, name, offset_us, duration_us, attrs], [..., attrs, result], ...]

``offset_us`` is the entry's time in microseconds after the row's ``at``; ``duration_us``
its duration in microseconds (or null). An entry has a sixth element only when it is a
step that completed with a result (the result itself, as JSON). One row per segment,
however many steps an attempt records, keeps recording nearly free; integers rather
than floats keep writing it cheap; reading expands the rows back into `Event` values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from json.encoder import encode_basestring
from typing import Any

from jobtrail.job import Event
from jobtrail.store.base import PathEvent

KIND = "path"
NAME = "segment"

_ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
_KINDS = {kind: encode_basestring(kind) for kind in ("step", "effect", "event")}


def segment_json(events: Sequence[PathEvent], base: float) -> str:
    """The stored JSON text of *events*, their times counted from *base* (epoch seconds).
    Step results are already JSON text."""
    parts = []
    for ev in events:
        attrs = json.dumps(ev.attrs, default=str, separators=(",", ":")) if ev.attrs else "null"
        duration = "null" if ev.duration is None else round(ev.duration * 1e6)
        kind = _KINDS.get(ev.kind) or encode_basestring(ev.kind)
        head = f"[{kind},{encode_basestring(ev.name)},{round((ev.at - base) * 1e6)},"
        tail = "]" if ev.result is None else f",{ev.result}]"
        parts.append(f"{head}{duration},{attrs}{tail}")
    return "[" + ",".join(parts) + "]"


def segment_row(job_id: int, attempt: int, events: Sequence[PathEvent]) -> tuple[Any, ...]:
    """The ``jobtrail_events`` row of a segment:
    (job_id, attempt, kind, name, at, duration, attrs)."""
    base = float(events[0].at)
    return (job_id, attempt, KIND, NAME, base, None, segment_json(events, base))


def _entries(text: str | None) -> list[list[Any]] | None:
    try:
        entries = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(entries, list) or not all(
        isinstance(e, list) and len(e) in (5, 6) for e in entries
    ):
        return None
    return entries


def steps_from(texts: Iterable[str | None]) -> dict[str, str]:
    """The completed steps in stored segments (oldest first), name to JSON result.

    A damaged segment contributes nothing: its steps run again, which is what a job
    without checkpoints would do.
    """
    found: dict[str, str] = {}
    for text in texts:
        for entry in _entries(text) or ():
            if entry[0] == "step" and len(entry) == 6:
                found[entry[1]] = _ENCODE(entry[5])
    return found


def expand(rows: Iterable[tuple[Any, ...]], to_time: Any) -> list[Event]:
    """`Event` values of ``jobtrail_events`` rows (job_id, attempt, kind, name, at,
    duration, attrs), with each path segment expanded into its entries."""
    found: list[Event] = []
    for row in rows:
        job_id, attempt, kind, _, at, _, attrs = row
        if kind != KIND:
            found.append(_event(row, to_time))
            continue
        base = to_time(at)
        assert base is not None
        try:
            found.extend(_expand(job_id, attempt, base, _entries(attrs)))
        except (TypeError, ValueError, OverflowError):  # damaged: shown, never raised
            found.append(Event(job_id, attempt, KIND, "unreadable", base, None,
                               {"unreadable": attrs}))
    return found


def _expand(job_id: int, attempt: int, base: datetime, entries: list[list[Any]] | None,
            ) -> list[Event]:
    if entries is None:
        raise ValueError("not a path segment")
    return [
        Event(job_id, attempt, str(e_kind), str(e_name),
              base + timedelta(microseconds=offset_us),
              None if duration_us is None else duration_us / 1e6,
              e_attrs if isinstance(e_attrs, dict) else {})
        for e_kind, e_name, offset_us, duration_us, e_attrs, *_ in entries
    ]


def _event(row: tuple[Any, ...], to_time: Any) -> Event:
    job_id, attempt, kind, name, at, duration, attrs = row
    when = to_time(at)
    assert when is not None
    try:
        decoded = json.loads(attrs) if attrs else {}
    except ValueError:
        decoded = {"unreadable": attrs}
    return Event(job_id, attempt, kind, name, when, duration, decoded)
