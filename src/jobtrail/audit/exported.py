"""The trail as JSON lines, written out and read back, so that anyone holding the public key
can check it without access to the database.

An export is, in order: a header (``{"type": "export", "format": 1, "since": n, "job":
id or null}``); the seal the export starts after, when it does not start at the first
(``{"type": "seal", "base": true, ...}``, without its events); then each seal
(``{"type": "seal", ...}``, `jobtrail.audit.encoding.Seal.to_json`), the events it covers
(``{"type": "event", "seal": n, ...}``, `event_json`) and the checkpoint signed for it, if
any (``{"type": "checkpoint", "seq": n, "note": "..."}``).

`ExportedTrail` reads one back and answers verification's questions
(`jobtrail.audit.verify.VerifyStore`) from it: each event's digest is recomputed from
its line.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from typing import IO, Any, Protocol

from jobtrail.audit.encoding import (
    Digest,
    Row,
    Seal,
    covered_text,
    moment,
    row_digest,
    seal_from_row,
    waiting_text,
)
from jobtrail.errors import NoteError

FORMAT = 1
#: Seals read from the store at once.
PAGE = 200


class ExportStore(Protocol):
    """What writing an export needs of a `Store`."""

    def audit_seals(self, since: int, limit: int) -> list[tuple[Any, ...]]: ...
    def audit_rows(self, first: int, last: int) -> list[Row]: ...
    def audit_checkpoints(self, since: int, limit: int) -> list[tuple[int, str]]: ...


def write(store: ExportStore, out: IO[str], *, since: int = 1, job_id: int | None = None) -> int:
    """Write the sealed trail from seal *since* on to *out*; the number of seals written."""
    first = store.audit_seals(1, 1)
    since = max(since, int(first[0][0]) if first else 1)
    out.write(json.dumps({"type": "export", "format": FORMAT, "since": since,
                          "job": job_id}) + "\n")
    if since > 1:
        base = store.audit_seals(since - 1, 1)
        if base and int(base[0][0]) == since - 1:
            out.write(json.dumps({"type": "seal", "base": True,
                                  **seal_from_row(base[0]).to_json()}) + "\n")
    notes = dict(_stored_checkpoints(store, since))
    written = 0
    for current in _seals(store, since):
        out.write(json.dumps({"type": "seal", **current.to_json()}) + "\n")
        for first_id, last_id in current.covered:
            for event in store.audit_rows(first_id, last_id):
                if job_id is None or event[1] == job_id:
                    out.write(json.dumps(event_json(event, current.seq)) + "\n")
        if current.seq in notes:
            out.write(json.dumps({"type": "checkpoint", "seq": current.seq,
                                  "note": notes[current.seq]}) + "\n")
        written += 1
    return written


def _seals(store: ExportStore, since: int) -> Iterator[Seal]:
    expected = since
    while True:
        page = store.audit_seals(expected, PAGE)
        for row in page:
            yield seal_from_row(row)
            expected = int(row[0]) + 1
        if len(page) < PAGE:
            return


def _stored_checkpoints(store: ExportStore, since: int) -> Iterator[tuple[int, str]]:
    while True:
        page: list[tuple[int, str]] = store.audit_checkpoints(since, 500)
        yield from page
        if len(page) < 500:
            return
        since = page[-1][0] + 1


def event_json(row: Row, seq: int) -> dict[str, Any]:
    """One sealed event as an export line."""
    event_id, job_id, attempt, kind, name, at_us, duration, attrs, path, claim = row
    return {"type": "event", "seal": seq, "id": event_id, "job_id": job_id,
            "attempt": attempt, "kind": kind, "name": name, "at": moment(at_us / 1e6),
            "at_us": at_us, "duration": duration, "attrs": attrs, "path": path,
            "claim": None if claim is None else str(claim)}


class ExportedTrail:
    """An export read back: its seals, its events' digests, its checkpoints."""

    def __init__(self, job_id: int | None, seals: dict[int, tuple[Any, ...]],
                 digests: dict[int, str], checkpoints: dict[int, str],
                 pruned: list[tuple[int, str]]) -> None:
        self.job_id = job_id
        self._seals = [seals[seq] for seq in sorted(seals)]
        self._seqs = sorted(seals)
        self._ids = sorted(digests)
        self._digests = digests
        self._checkpoints = sorted(checkpoints.items())
        self._pruned = pruned

    @property
    def partial(self) -> bool:
        """Whether the export holds one job's events only."""
        return self.job_id is not None

    @classmethod
    def read(cls, lines: IO[str]) -> ExportedTrail:
        """Read an export; `NoteError` naming the line when one cannot be read."""
        job_id: int | None = None
        seals: dict[int, tuple[Any, ...]] = {}
        digests: dict[int, str] = {}
        checkpoints: dict[int, str] = {}
        pruned: list[tuple[int, str]] = []
        number = 0
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                kind = item["type"]
                if kind == "export":
                    if item.get("format") != FORMAT:
                        raise ValueError(f"format {item.get('format')!r}, not {FORMAT}")
                    job_id = item.get("job")
                elif kind == "seal":
                    seals[int(item["seq"])] = _seal_row(item)
                elif kind == "event":
                    digests[int(item["id"])] = row_digest(_event_row(item))
                    if (item["job_id"], item["kind"]) == (0, "audit") and item["name"] in (
                            "history_pruned", "seals_pruned"):
                        pruned.append((int(item["id"]), str(item["attrs"])))
                elif kind == "checkpoint":
                    checkpoints[int(item["seq"])] = str(item["note"])
                else:
                    raise ValueError(f"unknown line type {kind!r}")
            except (ValueError, KeyError, TypeError) as exc:
                raise NoteError(f"line {number} of the export cannot be read: {exc}") from None
        if number == 0 or not seals:
            raise NoteError("the export holds no seal: nothing to verify")
        return cls(job_id, seals, digests, checkpoints, pruned)

    # -- what verification asks (`jobtrail.audit.verify.VerifyStore`) ---------------------
    def audit_seals(self, since: int, limit: int) -> list[tuple[Any, ...]]:
        start = bisect_left(self._seqs, since)
        return self._seals[start:start + limit]

    def audit_digests(self, first: int, last: int) -> list[Digest]:
        ids = self._ids[bisect_left(self._ids, first):bisect_right(self._ids, last)]
        return [(i, self._digests[i]) for i in ids]

    def audit_checkpoints(self, since: int, limit: int) -> list[tuple[int, str]]:
        start = bisect_left(self._checkpoints, (since, ""))
        return self._checkpoints[start:start + limit]

    def audit_pruned(self) -> list[tuple[int, str]]:
        return self._pruned


def _seal_row(item: dict[str, Any]) -> tuple[Any, ...]:
    """A seal line as a stored seal's columns (`seal_from_row` reads them)."""
    from datetime import datetime

    def epoch(text: str) -> float:
        return datetime.fromisoformat(text).timestamp()

    covered = [(int(a), int(b)) for a, b in item["covered"]]
    waiting = [(int(i), epoch(since)) for i, since in item["waiting"]]
    return (int(item["seq"]), epoch(item["sealed_at"]), int(item["through"]),
            covered_text(covered), waiting_text(waiting), str(item["digests"]),
            str(item["prev_hash"]), str(item["hash"]))


def _event_row(item: dict[str, Any]) -> Row:
    duration = item["duration"]
    claim = item["claim"]
    return (int(item["id"]), int(item["job_id"]), int(item["attempt"]), str(item["kind"]),
            str(item["name"]), int(item["at_us"]),
            None if duration is None else float(duration), item["attrs"], item["path"],
            None if claim is None else int(claim))
