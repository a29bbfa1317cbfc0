"""How a job's recorded path is stored: segments of entries, the same for every backend.

A segment is the list of entries (steps, effects, decisions, exits, events) one attempt
recorded between two writes. It is stored in the ``path`` column of a ``jobtrail_events``
row: the row of the attempt's outcome (``succeeded``, ``retry_scheduled``, ``dead``...)
carries the entries recorded since the last write, and a checkpoint while the job runs is a
row of its own (kind ``path``, name ``segment``). The text is a JSON array::

    [base, [kind, name, offset_us, duration_us, attrs], [..., attrs, data], ...]

``base`` is the epoch time (seconds) of the first entry; ``offset_us`` an entry's time in
microseconds after it; ``duration_us`` its duration in microseconds (or null). An entry has
a sixth element when it carries data: a completed step's result (JSON), which a later
attempt returns without running the step again, or a decision's value. Segments written
by schema version 2 have no ``base`` (their row's ``at`` is the base); they read the same.

One row per attempt, whatever it records, keeps recording nearly free: the path rides on
the outcome's own row, and integers rather than floats keep writing it cheap.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from json.encoder import encode_basestring
from typing import Any

from jobtrail.records import Event, PointKind
from jobtrail.store.base import PathEvent

KIND = "path"
NAME = "segment"

_ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
_KINDS: dict[str, str] = {kind: encode_basestring(kind) for kind in PointKind}


def segment_json(events: Sequence[PathEvent]) -> str:
    """The stored JSON text of *events* (at least one). Step results are already JSON."""
    base = float(events[0].at)
    parts = [repr(base)]
    for ev in events:
        attrs = json.dumps(ev.attrs, default=str, separators=(",", ":")) if ev.attrs else "null"
        duration = "null" if ev.duration is None else round(ev.duration * 1e6)
        kind = _KINDS.get(ev.kind) or encode_basestring(ev.kind)
        head = f"[{kind},{encode_basestring(ev.name)},{round((ev.at - base) * 1e6)},"
        tail = "]" if ev.result is None else f",{ev.result}]"
        parts.append(f"{head}{duration},{attrs}{tail}")
    return "[" + ",".join(parts) + "]"


def path_text(events: Sequence[PathEvent]) -> str | None:
    """The ``path`` column for *events*: ``None`` when there are none."""
    return segment_json(events) if events else None


def segment_row(job_id: int, attempt: int, events: Sequence[PathEvent]) -> tuple[Any, ...]:
    """The ``jobtrail_events`` row of a checkpoint:
    (job_id, attempt, kind, name, at, duration, attrs, path)."""
    return (job_id, attempt, KIND, NAME, float(events[0].at), None, None, segment_json(events))


def _decode(text: str | None) -> tuple[float | None, list[list[Any]]] | None:
    """(base, entries) of a stored segment; ``None`` when it is not one."""
    try:
        decoded = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(decoded, list):
        return None
    base = None
    if decoded and isinstance(decoded[0], int | float) and not isinstance(decoded[0], bool):
        base, decoded = float(decoded[0]), decoded[1:]
    if not all(isinstance(e, list) and len(e) in (5, 6) for e in decoded):
        return None
    return base, decoded


def steps_from(texts: Iterable[str | None]) -> dict[str, str]:
    """The completed steps in stored segments (oldest first), name to JSON result.

    A damaged segment contributes nothing: its steps run again, which is what a job
    without checkpoints would do.
    """
    found: dict[str, str] = {}
    for text in texts:
        decoded = _decode(text)
        for entry in decoded[1] if decoded else ():
            if entry[0] == "step" and len(entry) == 6:
                found[entry[1]] = _ENCODE(entry[5])
    return found


def expand(rows: Iterable[tuple[Any, ...]], to_time: Any) -> list[Event]:
    """`Event` values of ``jobtrail_events`` rows (job_id, attempt, kind, name, at,
    duration, attrs, path): each row's path entries, then the row's own event.

    An attempt's outcome row carries how long the attempt ran: its ``started`` event is
    read back from it (the outcome's time less that duration) and placed after the
    attempt's ``claimed``, so recording when a job started costs nothing as it runs."""
    found: list[Event] = []
    starts: dict[tuple[int, int], Event] = {}
    for row in rows:
        job_id, attempt, kind, _, at, duration, attrs, path = row
        if kind == KIND and path is None:  # a version 2 checkpoint kept its path in attrs
            path = attrs
        if path is not None:
            found.extend(_segment_events(job_id, attempt, to_time(at), path))
        if kind != KIND:
            event = _event(row, to_time)
            if kind == "lifecycle" and duration is not None:
                starts.setdefault((job_id, attempt), Event(
                    job_id, attempt, "lifecycle", "started",
                    event.at - timedelta(seconds=duration)))
            found.append(event)
    return _with_starts(found, starts) if starts else found


def _with_starts(events: list[Event], starts: dict[tuple[int, int], Event]) -> list[Event]:
    """*events* with each attempt's ``started`` after its ``claimed`` (or first event)."""
    placed: list[Event] = []
    for event in events:
        key = (event.job_id, event.attempt)
        if key in starts and event.name != "claimed":
            placed.append(starts.pop(key))
        placed.append(event)
        if key in starts and event.name == "claimed":
            placed.append(starts.pop(key))
    return placed


def _segment_events(job_id: int, attempt: int, at: datetime, text: str) -> list[Event]:
    decoded = _decode(text)
    try:
        if decoded is None:
            raise ValueError("not a path segment")
        base = at if decoded[0] is None else _from_epoch(decoded[0], at)
        return [_entry(job_id, attempt, base, entry) for entry in decoded[1]]
    except (TypeError, ValueError, OverflowError):  # damaged: shown, never raised
        return [Event(job_id, attempt, KIND, "unreadable", at, None, {"unreadable": text})]


def _from_epoch(seconds: float, like: datetime) -> datetime:
    return datetime.fromtimestamp(seconds, like.tzinfo)


def _entry(job_id: int, attempt: int, base: datetime, entry: list[Any]) -> Event:
    e_kind, e_name, offset_us, duration_us, e_attrs, *data = entry
    attrs = dict(e_attrs) if isinstance(e_attrs, dict) else {}
    if e_kind == "decide" and data:
        attrs["value"] = data[0]
    return Event(job_id, attempt, str(e_kind), str(e_name),
                 base + timedelta(microseconds=offset_us),
                 None if duration_us is None else duration_us / 1e6, attrs)


def _event(row: tuple[Any, ...], to_time: Any) -> Event:
    job_id, attempt, kind, name, at, duration, attrs, _ = row
    when = to_time(at)
    assert when is not None
    try:
        decoded = json.loads(attrs) if attrs else {}
    except ValueError:
        decoded = {"unreadable": attrs}
    return Event(job_id, attempt, kind, name, when, duration, decoded)


def milestones(rows: Iterable[tuple[Any, ...]], name: str, to_time: Any,
               since: datetime | None) -> list[Event]:
    """The ``event`` entries named *name* in *rows* (as `expand` reads them), at or after
    *since*, oldest first."""
    found = [e for e in expand(rows, to_time) if e.kind == "event" and e.name == name
             and (since is None or e.at >= since)]
    found.sort(key=lambda e: e.at)
    return found
