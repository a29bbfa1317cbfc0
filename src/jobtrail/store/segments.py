"""How a job's recorded path is stored: segments of entries, the same for every backend.

A segment is the list of entries (steps, effects, decisions, exits, events) one attempt
recorded between two writes. It is stored in the ``path`` column of a ``jobtrail_events``
row: the row of the attempt's outcome (``succeeded``, ``retry_scheduled``, ``dead``...)
carries the entries recorded since the last write, and a checkpoint while the job runs (or
the segment written with the intent of an effect) is a row of its own (kind ``path``, name
``segment``). The text is a JSON array::

    [base, [kind, name, offset_us, duration_us, attrs], [..., attrs, data], ...]

``base`` is the epoch time (seconds) of the first entry; ``offset_us`` an entry's time in
microseconds after it; ``duration_us`` its duration in microseconds (or null). An entry has
a sixth element when it carries data: a completed step's result (JSON), which a later
attempt returns without running the step again, or a decision's value. Segments written
by schema version 2 have no ``base`` (their row's ``at`` is the base); they read the same.

One row per attempt, whatever it records, keeps recording nearly free: the path rides on
the outcome's own row, and integers rather than floats keep writing it cheap.

Every row of a claim (its ``claimed``, its checkpoints, its outcome, its release or lost
lease) carries the claim: what a claim recorded is found, its steps counted and its start
placed by the claim, which no release or replay reuses. Rows written before claims were
stored on them have none, and are grouped by attempt number instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from json.encoder import encode_basestring
from typing import Any

from jobtrail.records import VARIANT_POINTS, Event, PointKind
from jobtrail.store.base import CompletedSteps, PathEvent, StepRecord

KIND = "path"
NAME = "segment"
#: The columns of a `segment_row`, as named parameters.
COLUMNS = ("job_id", "attempt", "kind", "name", "at", "duration", "attrs", "path", "claim")

_ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
_KINDS: dict[str, str] = {kind: encode_basestring(kind) for kind in PointKind}


def segment_json(events: Sequence[PathEvent]) -> str:
    """The stored JSON text of *events* (at least one). Step results are already JSON."""
    base = float(events[0].at)
    parts = [repr(base)]
    heads = _HEADS
    for kind, name, at, duration, attrs, result in events:
        head = heads.get((kind, name)) or _head(kind, name)
        if attrs is None and result is not None and duration is not None:  # a step, mostly
            parts.append(f"{head}{round((at - base) * 1e6)},{round(duration * 1e6)},null,{result}]")
            continue
        parts.append(
            f"{head}{round((at - base) * 1e6)},"
            f"{'null' if duration is None else round(duration * 1e6)},"
            f"{_attrs_json(attrs) if attrs else 'null'}"
            f"{']' if result is None else ',' + result + ']'}")
    return "[" + ",".join(parts) + "]"


#: The start of an entry's text by (kind, name), for names seen before (bounded).
_HEADS: dict[tuple[str, str], str] = {}
MAX_HEADS = 10_000


def _head(kind: str, name: str) -> str:
    head = f"[{_KINDS.get(kind) or encode_basestring(kind)},{encode_basestring(name)},"
    if len(_HEADS) < MAX_HEADS:
        _HEADS[(kind, name)] = head
    return head


def _attrs_json(attrs: dict[str, Any]) -> str:
    """The JSON text of an entry's attributes, with a short way for a step's usual ones:
    only the digest of its arguments."""
    if len(attrs) == 1:
        digest = attrs.get("args")
        if type(digest) is str:
            return '{"args":' + encode_basestring(digest) + "}"
    return json.dumps(attrs, default=str, separators=(",", ":"))


def path_text(events: Sequence[PathEvent]) -> str | None:
    """The ``path`` column for *events*: ``None`` when there are none."""
    return segment_json(events) if events else None


def segment_row(job_id: int, attempt: int, events: Sequence[PathEvent],
                claim: int | None = None) -> tuple[Any, ...]:
    """The ``jobtrail_events`` row of a checkpoint:
    (job_id, attempt, kind, name, at, duration, attrs, path, claim)."""
    return (job_id, attempt, KIND, NAME, float(events[0].at), None, None, segment_json(events),
            claim)


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


def completed_steps(rows: Iterable[tuple[int, int | None, int, str | None]]
                    ) -> dict[int, CompletedSteps]:
    """The steps each job's earlier attempts completed, from its stored segments: rows of
    (job_id, claim, attempt, segment), in the order they were written.

    A step is known by name and occurrence: the n-th call of a name in one claim is
    occurrence n (from 0), counted over that claim's step entries, replayed ones included.
    An entry with a result completes its occurrence, with the digest of its arguments
    (``attrs["args"]``, when the job recorded one). Claims are merged oldest first, a later
    claim's completed occurrence replacing an earlier one's; rows of no claim count by
    attempt. Jobs with no completed step are left out.

    A damaged segment contributes nothing, and neither do the later segments of its claim:
    their occurrences can no longer be counted, and a step given another call's result
    would be worse than a step run again.
    """
    runs: dict[int, dict[tuple[str, int | None], _Occurrences]] = {}
    for job_id, claim, attempt, text in rows:
        key = ("claim", claim) if claim is not None else ("attempt", attempt)
        runs.setdefault(job_id, {}).setdefault(key, _Occurrences()).add(text)
    found: dict[int, CompletedSteps] = {}
    for job_id, of_job in runs.items():
        merged: CompletedSteps = {}
        for run in of_job.values():  # oldest first: dicts keep the order keys came in
            for name, done in run.done.items():
                occurrences = merged.setdefault(name, [])
                for n, record in done.items():
                    occurrences.extend([None] * (n + 1 - len(occurrences)))
                    occurrences[n] = record
        if merged:
            found[job_id] = merged
    return found


class _Occurrences:
    """The step calls of one claim (or attempt): how many of each name, which completed."""

    __slots__ = ("broken", "counts", "done")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.done: dict[str, dict[int, StepRecord]] = {}
        self.broken = False

    def add(self, text: str | None) -> None:
        """Count the step entries of the next segment, unless one before it was damaged."""
        decoded = None if self.broken else _decode(text)
        if decoded is None:
            self.broken = True
            return
        counts = dict(self.counts)
        completed: list[tuple[str, int, StepRecord]] = []
        try:
            for entry in decoded[1]:
                if entry[0] != "step":
                    continue
                name = entry[1]
                if not isinstance(name, str):
                    raise TypeError("a step's name is not text")
                n = counts[name] = counts.get(name, 0) + 1
                if len(entry) == 6:
                    attrs = entry[4]
                    digest = attrs.get("args") if isinstance(attrs, dict) else None
                    completed.append((name, n - 1, StepRecord(
                        _ENCODE(entry[5]), digest if isinstance(digest, str) else None)))
        except (TypeError, ValueError):
            self.broken = True
            return
        self.counts = counts
        for name, n, record in completed:
            self.done.setdefault(name, {})[n] = record


def saved_path(rows: Iterable[tuple[Any, ...]]) -> list[PathEvent]:
    """The furthest path one claim of a job saved, from stored segments: rows of (the
    row's epoch time, segment, claim) in the order they were written. Each claim replays
    what the earlier ones completed, so the claim that saved the most points went furthest
    (of claims that saved as many, the latest). Its entries come as the `PathEvent` values
    that were recorded: results (a step's result, a decision's value) as JSON text. A
    damaged segment is left out."""
    by_claim: dict[Any, list[PathEvent]] = {}
    for at, text, claim in rows:
        decoded = _decode(text)
        if decoded is None:
            continue
        base = decoded[0] if decoded[0] is not None else at
        try:
            if base is None or not math.isfinite(base):
                raise ValueError("a segment with no time")
            entries = [_path_event(base, entry) for entry in decoded[1]]
        except (TypeError, ValueError, OverflowError):
            continue
        by_claim.setdefault(claim, []).extend(entries)
    furthest: list[PathEvent] = []
    for entries in by_claim.values():  # claims in the order they first wrote
        if _points(entries) >= _points(furthest):
            furthest = entries
    return furthest


def _points(entries: Sequence[PathEvent]) -> int:
    return sum(1 for entry in entries if entry.kind in VARIANT_POINTS)


def _path_event(base: float, entry: list[Any]) -> PathEvent:
    kind, name, offset_us, duration_us, attrs, *data = entry
    if not isinstance(kind, str) or not isinstance(name, str):
        raise TypeError("an entry's kind and name are text")
    return PathEvent(kind, name, base + offset_us / 1e6,
                     None if duration_us is None else duration_us / 1e6,
                     dict(attrs) if isinstance(attrs, dict) else None,
                     _ENCODE(data[0]) if data else None)


def expand(rows: Iterable[tuple[Any, ...]], to_time: Any) -> list[Event]:
    """`Event` values of ``jobtrail_events`` rows (job_id, attempt, kind, name, at,
    duration, attrs, path, claim): each row's path entries, then the row's own event.

    An attempt's outcome row carries how long the attempt ran: its ``started`` event is
    read back from it (the outcome's time less that duration) and placed after the
    ``claimed`` of the same claim (of the same attempt number, for rows of no claim), so
    recording when a job started costs nothing as it runs."""
    found: list[Event] = []
    starts: dict[tuple[int, str, int | None], Event] = {}
    for row in rows:
        job_id, attempt, kind, _, at, duration, attrs, path, claim = row
        if kind == KIND and path is None:  # a version 2 checkpoint kept its path in attrs
            path = attrs
        if path is not None:
            found.extend(_segment_events(job_id, attempt, to_time(at), path, claim))
        if kind != KIND:
            event = _event(row, to_time)
            if kind == "lifecycle" and duration is not None:
                starts.setdefault(_run_of(event), Event(
                    job_id, attempt, "lifecycle", "started",
                    event.at - timedelta(seconds=duration), claim=claim))
            found.append(event)
    return _with_starts(found, starts) if starts else found


def _run_of(event: Event) -> tuple[int, str, int | None]:
    """What an event belongs to: its job's claim, or its attempt when it has no claim."""
    if event.claim is not None:
        return (event.job_id, "claim", event.claim)
    return (event.job_id, "attempt", event.attempt)


def _with_starts(events: list[Event], starts: dict[tuple[int, str, int | None], Event]
                 ) -> list[Event]:
    """*events* with each run's ``started`` after its ``claimed`` (or first event)."""
    placed: list[Event] = []
    for event in events:
        key = _run_of(event)
        if key in starts and event.name != "claimed":
            placed.append(starts.pop(key))
        placed.append(event)
        if key in starts and event.name == "claimed":
            placed.append(starts.pop(key))
    return placed


def _segment_events(job_id: int, attempt: int, at: datetime, text: str,
                    claim: int | None) -> list[Event]:
    decoded = _decode(text)
    try:
        if decoded is None:
            raise ValueError("not a path segment")
        base = at if decoded[0] is None else _from_epoch(decoded[0], at)
        return [_entry(job_id, attempt, base, entry, claim) for entry in decoded[1]]
    except (TypeError, ValueError, OverflowError):  # damaged: shown, never raised
        return [Event(job_id, attempt, KIND, "unreadable", at, None, {"unreadable": text},
                      claim=claim)]


def _from_epoch(seconds: float, like: datetime) -> datetime:
    return datetime.fromtimestamp(seconds, like.tzinfo)


def _entry(job_id: int, attempt: int, base: datetime, entry: list[Any],
           claim: int | None) -> Event:
    e_kind, e_name, offset_us, duration_us, e_attrs, *data = entry
    attrs = dict(e_attrs) if isinstance(e_attrs, dict) else {}
    if e_kind == "decide" and data:
        attrs["value"] = data[0]
    return Event(job_id, attempt, str(e_kind), str(e_name),
                 base + timedelta(microseconds=offset_us),
                 None if duration_us is None else duration_us / 1e6, attrs, claim=claim)


def _event(row: tuple[Any, ...], to_time: Any) -> Event:
    job_id, attempt, kind, name, at, duration, attrs, _, claim = row
    when = to_time(at)
    assert when is not None
    try:
        decoded = json.loads(attrs) if attrs else {}
    except ValueError:
        decoded = {"unreadable": attrs}
    return Event(job_id, attempt, kind, name, when, duration, decoded, claim=claim)


def milestones(rows: Iterable[tuple[Any, ...]], name: str, to_time: Any,
               since: datetime | None) -> list[Event]:
    """The ``event`` entries named *name* in *rows* (as `expand` reads them), at or after
    *since*, oldest first. Only those entries are made into events: a report reads
    thousands of paths for a few milestones each."""
    found: list[Event] = []
    for row in rows:
        job_id, attempt, kind, _, at, _, attrs, path, claim = row
        if kind == KIND and path is None:  # a version 2 checkpoint kept its path in attrs
            path = attrs
        decoded = _decode(path) if path is not None else None
        if decoded is not None:
            entries = [e for e in decoded[1] if e[0] == "event" and e[1] == name]
            try:
                if entries:
                    when = to_time(at)
                    base = when if decoded[0] is None else _from_epoch(decoded[0], when)
                    found.extend(_entry(job_id, attempt, base, e, claim) for e in entries)
            except (TypeError, ValueError, OverflowError):  # damaged: no milestone in it
                pass
        if kind == "event" and row[3] == name:
            found.append(_event(row, to_time))
    found = [e for e in found if since is None or e.at >= since]
    found.sort(key=lambda e: e.at)
    return found
