"""The audit trail's entries, for the audit page: `ENTRIES` at a time, newest first.

An entry is a row of the trail (an event of ``jobtrail_events``) as the chain hashes it,
read by id through the primary key: ``?before=ID`` shows the entries with smaller ids. A
job's entry is shown as its job's views are, the job's sensitive values masked
(`jobtrail.redaction`); an entry whose job was pruned is shown masked whole, since what
its values were can no longer be told.
"""

from __future__ import annotations

import json
from typing import Any

from jobtrail.app import App
from jobtrail.errors import JobNotFound
from jobtrail.records import utc_from_epoch
from jobtrail.redaction import MASK, Redactor

__all__ = ["ENTRIES", "entries"]

#: The entries a page of the trail shows.
ENTRIES = 50


def entries(app: App, through: int, before: int | None) -> dict[str, Any]:
    """The page of the trail's entries with ids up to *through* (the newest the chain has
    looked through), and below *before* when given; with the cursor of the next page."""
    last = through if before is None else min(through, before - 1)
    first = max(1, last - ENTRIES + 1)
    rows = app.store.audit_rows(first, last) if last >= 1 else []
    maskers = _maskers(app, {row[1] for row in rows})
    shown = [_entry(row, maskers.get(row[1])) for row in reversed(rows)]
    return {"entries": shown, "before": before,
            "next_before": first if last >= 1 and first > 1 else None}


def _maskers(app: App, job_ids: set[int]) -> dict[int, Redactor | None]:
    """For each job of the page: what masks its values (``None`` when nothing needs to),
    or, for a job no longer stored, a redactor that masks every value."""
    found: dict[int, Redactor | None] = {}
    for job_id in job_ids:
        if job_id <= 0:
            continue
        try:
            record = app.store.get(job_id)
        except JobNotFound:
            found[job_id] = _GONE
            continue
        fields = app.sensitive_fields(record)
        args = record.args if isinstance(record.args, dict) else {}
        found[job_id] = Redactor(fields, args) if fields else None
    return found


def _entry(row: tuple[Any, ...], redactor: Redactor | None) -> dict[str, Any]:
    event_id, job_id, attempt, kind, name, at_us, duration, attrs, _path, _claim = row
    value = None if attrs is None else json.loads(attrs)
    if redactor is _GONE:
        value = None if value is None else MASK
    elif redactor is not None:
        name, value = redactor.text(name), redactor.value(value)
    at = utc_from_epoch(at_us / 1e6)
    return {"id": event_id, "job_id": job_id, "attempt": attempt, "kind": kind, "name": name,
            "at": None if at is None else at.isoformat(), "duration": duration,
            "attrs": value}


#: The redactor of an entry whose job is gone (compared by identity, never called).
_GONE = Redactor((), {})
