"""Circuit breakers in the store: their state, and how each event moves it.

One row per breaker (``jobtrail_breakers``): its state, the times of its recent failures,
when it opened, until when its probe holds the half-open breaker. Every change is a
read-modify-write of that row in one transaction (PostgreSQL: the row locked; SQLite: the
write lock), through `apply`, which both backends call:

- ``closed``: calls go through. A failure is remembered; ``failures`` of them within
  ``window`` seconds open it.
- ``open``: calls are held back (their jobs rescheduled) until ``reset_after`` seconds have
  passed; then the first to ask becomes the **probe**, and the breaker is ``half_open``.
- ``half_open``: only the probe goes through, for as long as its lease (if its worker dies,
  the next to ask becomes the probe). Its success closes the breaker; its failure opens it
  again for another ``reset_after``.

An operator may force ``open`` or ``closed`` (`jobtrail breakers force`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

State = Literal["closed", "open", "half_open"]
Action = Literal["failure", "success", "probe", "open", "closed"]
STATES: tuple[State, ...] = ("closed", "open", "half_open")


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """A breaker's policy: ``failures`` within ``window`` seconds open it; it stays open
    ``reset_after`` seconds; a probe holds it ``lease`` seconds at most."""

    failures: int
    window: float
    reset_after: float
    lease: float


@dataclass(frozen=True, slots=True)
class BreakerRecord:
    """A breaker as the store holds it. ``failures`` are the epoch times of its recent
    failures; ``opened_at`` when it last opened; ``probe_until`` until when its probe holds
    it (half-open); ``changed_at`` when its state last changed. ``granted`` is set on the
    answer to a ``probe``: whether the caller is the probe; ``was`` on the answer to any
    change: the state before it."""

    name: str
    state: State = "closed"
    failures: tuple[float, ...] = ()
    opened_at: float | None = None
    probe_until: float | None = None
    changed_at: float | None = None
    granted: bool = False
    was: State | None = None  # on the answer to a change: the state before it

    def reopens_at(self, settings: BreakerSettings) -> float | None:
        """When an open breaker lets a probe through (``None`` unless open)."""
        if self.state == "open" and self.opened_at is not None:
            return self.opened_at + settings.reset_after
        if self.state == "half_open":
            return self.probe_until
        return None


def apply(record: BreakerRecord, action: Action, now: float,
          settings: BreakerSettings) -> BreakerRecord:
    """*record* after *action* at *now* (see the module docstring), with the state it was
    in (``was``)."""
    return replace(_applied(replace(record, granted=False), action, now, settings),
                   was=record.state)


def _applied(record: BreakerRecord, action: Action, now: float,
             settings: BreakerSettings) -> BreakerRecord:
    if action == "open":
        return _moved(record, "open", now, opened_at=now, probe_until=None)
    if action == "closed":
        return _moved(record, "closed", now, failures=(), opened_at=None, probe_until=None)
    if action == "success":
        if record.state == "half_open":
            return _moved(record, "closed", now, failures=(), opened_at=None, probe_until=None)
        return record
    if action == "failure":
        if record.state == "half_open":  # the probe failed: open again
            return _moved(record, "open", now, failures=(now,), opened_at=now, probe_until=None)
        recent = (*[t for t in record.failures if t > now - settings.window], now)
        recent = recent[-settings.failures:]
        if record.state == "closed" and len(recent) >= settings.failures:
            return _moved(record, "open", now, failures=recent, opened_at=now)
        return replace(record, failures=recent)
    # probe
    if record.state == "open" and record.opened_at is not None and (
            now >= record.opened_at + settings.reset_after):
        moved = _moved(record, "half_open", now, probe_until=now + settings.lease)
        return replace(moved, granted=True)
    if record.state == "half_open" and (record.probe_until or 0.0) <= now:
        return replace(record, probe_until=now + settings.lease, granted=True)
    return record


def _moved(record: BreakerRecord, state: State, now: float, **changes: object) -> BreakerRecord:
    changed = now if state != record.state else record.changed_at
    return replace(record, state=state, changed_at=changed, **changes)  # type: ignore[arg-type]


def record(row: Sequence[Any]) -> BreakerRecord:
    """A breaker's row (name, state, failures, opened_at, probe_until, changed_at)."""
    name, state, failures, opened_at, probe_until, changed_at = row[:6]
    return BreakerRecord(name, state, tuple(json.loads(failures)), opened_at, probe_until,
                         changed_at)


def columns(record: BreakerRecord) -> dict[str, Any]:
    """A breaker's row, as parameters."""
    return {"name": record.name, "state": record.state,
            "failures": json.dumps(list(record.failures)), "opened_at": record.opened_at,
            "probe_until": record.probe_until, "changed_at": record.changed_at}


def change_attrs(before: State, after: BreakerRecord, action: Action,
                 actor: str | None) -> str | None:
    """The attributes of the trail's event for a breaker's change, or None when its state
    did not change and no operator forced it (failures and successes counted, the usual
    case, write nothing)."""
    forced = action in ("open", "closed")
    if after.state == before and not forced:
        return None
    attrs: dict[str, object] = {"breaker": after.name, "from": before, "to": after.state,
                                "action": action}
    if forced and actor is not None:
        attrs["actor"] = actor
    return json.dumps(attrs)
