"""What the backends share of the audit trail's storage (`jobtrail.audit`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from jobtrail.audit.encoding import Row, Seal, covered_text, moment, ranges, waiting_text

#: A seal as stored: (seq, sealed_at, through, covered, waiting, digests, prev_hash, hash), its
#: JSON columns still text (`jobtrail.audit.encoding.seal_from_row` reads them).
SealRow = tuple[Any, ...]


def seal_columns(seal: Seal) -> dict[str, Any]:
    """The named parameters of `audit_append` for *seal*."""
    return {"seq": seal.seq, "sealed_at": seal.sealed_at, "through": seal.through,
            "covered": covered_text(seal.covered),
            "waiting": waiting_text(seal.waiting), "digests": seal.digests,
            "prev_hash": seal.prev_hash, "hash": seal.hash}


def rows_from_seconds(found: Sequence[Sequence[Any]]) -> list[Row]:
    """Event rows whose time is in epoch seconds (SQLite), with it in microseconds."""
    return [(r[0], r[1], r[2], r[3], r[4], round(r[5] * 1_000_000), r[6], r[7], r[8], r[9])
            for r in found]


def migrated_attrs(versions: Sequence[int]) -> str:
    """The attributes of the event that records migrations applied (to the trail)."""
    return json.dumps({"versions": list(versions), "to": max(versions)})


def pruned_attrs(before: int, removed: int, actor: str | None) -> str:
    """The attributes of the event that records seals pruned before a checkpoint."""
    attrs: dict[str, Any] = {"before": before, "seals": removed}
    if actor is not None:
        attrs["actor"] = actor
    return json.dumps(attrs)


def history_attrs(before: float, jobs: Sequence[int], events: Sequence[int],
                  actor: str | None) -> str:
    """The attributes of the event that records a batch of history pruned: the cut-off,
    how many jobs and events, and the event ids removed (ranges), so that verification
    takes their absence for what it is."""
    attrs: dict[str, Any] = {"before": moment(before), "jobs": len(jobs),
                             "events": len(events), "event_ids": ranges(events)}
    if actor is not None:
        attrs["actor"] = actor
    return json.dumps(attrs, separators=(",", ":"))


def prune_batch(conn: Any, steps: dict[str, str], before: float, limit: int,
                actor: str | None, pack: Callable[[list[int]], Any],
                now: dict[str, Any]) -> tuple[int, int]:
    """One batch of `Store.prune_history` inside the caller's write transaction *conn*
    (either backend's: their connections run the same calls), with the named query's
    *steps*, the job ids given to the queries as *pack* makes them, and the time the
    record's step takes (*now*, empty where the database reads its own clock). The record
    is written first: on SQLite a new row takes the highest id + 1, which must not be the
    id of a sealed row this deletes."""
    jobs = [row[0] for row in conn.execute(steps["jobs"],
                                           {"before": before, "limit": limit}).fetchall()]
    if not jobs:
        return 0, 0
    ids = {"ids": pack(jobs)}
    events = [row[0] for row in conn.execute(steps["events"], ids).fetchall()]
    conn.execute(steps["record"], {**now, "attrs": history_attrs(before, jobs, events, actor)})
    for step in ("delete_events", "delete_effects", "delete_divergences", "delete_jobs"):
        conn.execute(steps[step], ids)
    return len(jobs), len(events)
