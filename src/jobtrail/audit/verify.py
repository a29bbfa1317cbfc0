"""Verification: walk the chain, recompute every hash and digest, name the first problem.

For each seal, in order: its number follows the one before (no seal removed or
inserted), its ``prev_hash`` is the hash of the seal before (none reordered), its hash is
what its fields give (none altered), and each row it covers is there (none removed) with
the digest it had when sealed (none altered; two rows swapped are two altered rows).
Every id it looked through is covered by it or waited for, and a row that turns up for an
id the chain stopped waiting for, or that no seal accounts for, was inserted afterwards.
The first problem found ends the walk: everything after it is suspect anyway.

What it cannot see without help from outside the database: a chain cut short at its end
(the last seals deleted, with their rows), or rewritten whole with every hash
recomputed. Compare the head it reports with one kept elsewhere (`Verdict.head`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from jobtrail.audit.encoding import GENESIS, Digest, Seal, ranges
from jobtrail.audit.encoding import seal_from_row as _seal_from_row

#: Seals read at once.
PAGE = 200

ProblemKind = Literal["seal_missing", "seal_out_of_order", "seal_altered", "seal_damaged",
                      "event_removed", "event_altered", "event_inserted"]


class VerifyStore(Protocol):
    """What verification needs of a `Store`."""

    def audit_seals(self, since: int, limit: int) -> list[tuple[Any, ...]]: ...
    def audit_digests(self, first: int, last: int) -> list[Digest]: ...


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing found wrong: its kind, the seal it was found in, the event row."""

    kind: ProblemKind
    seq: int | None
    event_id: int | None
    message: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """What `verify` found: how many seals and rows it checked, the last good seal (the
    head, when nothing is wrong), and the first problem."""

    seals: int
    events: int
    head: Seal | None
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(store: VerifyStore, *, since: int = 1) -> Verdict:
    """Check the chain from seal *since* on (the seal before it is taken as good)."""
    seals = events = 0
    prev: Seal | None = None
    if since > 1:
        found = store.audit_seals(since - 1, 1)
        if not found:
            return Verdict(0, 0, None, Problem("seal_missing", since - 1, None,
                                               f"there is no seal {since - 1} to start from"))
        prev = _seal_from_row(found[0])
    for seq, row in _seal_rows(store, since):
        try:
            current = _seal_from_row(row)
        except ValueError as exc:
            return Verdict(seals, events, prev, Problem("seal_damaged", seq, None, str(exc)))
        problem = _check_link(prev, current)
        if problem is None:
            checked, problem = _check_rows(store, prev, current)
            events += checked
        if problem is not None:
            return Verdict(seals, events, prev, problem)
        seals += 1
        prev = current
    return Verdict(seals, events, prev)


def _seal_rows(store: VerifyStore, since: int) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """The stored seals from *since* on, in order, with the number each should have."""
    expected = since
    while True:
        page = store.audit_seals(expected, PAGE)
        for row in page:
            yield expected, row
            expected += 1
        if len(page) < PAGE:
            return


def _check_link(prev: Seal | None, current: Seal) -> Problem | None:
    expected_seq = 1 if prev is None else prev.seq + 1
    if current.seq != expected_seq:
        return Problem("seal_missing", expected_seq, None,
                       f"seal {expected_seq} is missing: the next seal is {current.seq}")
    prev_hash = GENESIS if prev is None else prev.hash
    if current.prev_hash != prev_hash:
        return Problem("seal_out_of_order", current.seq, None,
                       f"seal {current.seq} does not follow seal {current.seq - 1}: it names "
                       f"{current.prev_hash[:16]}… before it, not {prev_hash[:16]}… (a seal "
                       "was removed, inserted or reordered, or rewritten)")
    if current.expected_hash() != current.hash:
        return Problem("seal_altered", current.seq, None,
                       f"seal {current.seq} was altered: its fields hash to "
                       f"{current.expected_hash()[:16]}…, not the {current.hash[:16]}… "
                       "stored")
    return None


def _check_rows(store: VerifyStore, prev: Seal | None, current: Seal) -> tuple[int, Problem | None]:
    """Check the rows *current* covers and the ids it looked through."""
    before = 0 if prev is None else prev.through
    waited = {} if prev is None else dict(prev.waiting)
    rows = dict(store.audit_digests(before + 1, current.through))
    for first, last in current.covered:  # rows sealed late: one read per range, not per id
        if first <= before:
            rows.update(store.audit_digests(first, min(last, before)))
    checked = 0
    for index, event_id in enumerate(current.ids()):
        digest = rows.get(event_id)
        if digest is None:
            return checked, Problem("event_removed", current.seq, event_id,
                                    f"event {event_id}, sealed by seal {current.seq}, was removed")
        if digest != current.digest_of(index):
            return checked, Problem("event_altered", current.seq, event_id,
                                    f"event {event_id}, sealed by seal {current.seq}, was altered")
        checked += 1
    covered = set(current.ids())
    waiting = {i for i, _ in current.waiting}
    for event_id in sorted(rows):
        if event_id > before and event_id not in covered and event_id not in waiting:
            return checked, _inserted(current, event_id)
    given_up = set(waited) - covered - waiting  # no longer waited for: must not be there
    for first, last in ranges(given_up):
        there = [i for i, _ in store.audit_digests(first, last) if i in given_up]
        if there:
            return checked, _inserted(current, there[0], after_wait=True)
    return checked, None


def _inserted(current: Seal, event_id: int, *, after_wait: bool = False) -> Problem:
    why = ("appeared after the trail stopped waiting for it" if after_wait
           else "is accounted for by no seal")
    return Problem("event_inserted", current.seq, event_id,
                   f"event {event_id} was inserted: it {why} (seal {current.seq})")

