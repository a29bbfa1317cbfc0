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

import json
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from jobtrail.audit.checkpoints import Checkpoint
from jobtrail.audit.encoding import GENESIS, Digest, Seal, ranges
from jobtrail.audit.encoding import seal_from_row as _seal_from_row
from jobtrail.audit.notes import VerifierKey
from jobtrail.errors import NoteError

#: Seals read at once.
PAGE = 200

ProblemKind = Literal["seal_missing", "seal_out_of_order", "seal_altered", "seal_damaged",
                      "event_removed", "event_altered", "event_inserted",
                      "checkpoint_forged", "checkpoint_mismatch", "chain_unanchored"]


class VerifyStore(Protocol):
    """What verification needs of a `Store` (or of an export, `jobtrail.audit.exported`)."""

    def audit_seals(self, since: int, limit: int) -> list[tuple[Any, ...]]: ...
    def audit_digests(self, first: int, last: int) -> list[Digest]: ...
    def audit_checkpoints(self, since: int, limit: int) -> list[tuple[int, str]]: ...
    def audit_pruned(self) -> list[tuple[int, str]]: ...


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
    head, when nothing is wrong), the first problem, and the newest checkpoint whose
    signature was checked and whose seal the chain reaches (``signed``: it vouches for
    every seal up to it)."""

    seals: int
    events: int
    head: Seal | None
    problem: Problem | None = None
    signed: Checkpoint | None = None
    checkpoints: int = 0
    pruned: int = 0  # sealed events removed by a recorded prune of history

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(slots=True)
class _Walk:
    """What the walk has found so far."""

    checkpoints: dict[int, list[Checkpoint]]
    checked: bool  # whether the checkpoints' signatures were checked (a key was given)
    removed: Pruned
    seals: int = 0
    events: int = 0
    prev: Seal | None = None
    signed: Checkpoint | None = None
    matched: set[int] = field(default_factory=set)

    def verdict(self, problem: Problem | None = None) -> Verdict:
        return Verdict(self.seals, self.events, self.prev, problem, self.signed,
                       len(self.matched), self.removed.found)

    def match(self, seal: Seal) -> Problem | None:
        """Compare *seal* with the checkpoints of its number."""
        for made in self.checkpoints.get(seal.seq, ()):
            if made.hash != seal.hash:
                return Problem("checkpoint_mismatch", seal.seq, None,
                               f"seal {seal.seq} is not the seal its checkpoint signed (hash "
                               f"{seal.hash[:16]}…, signed {made.hash[:16]}…): the trail was "
                               "rewritten" + ("" if self.checked else
                                              ", or the stored checkpoint altered"))
            self.matched.add(seal.seq)
            if self.checked:
                self.signed = made
        return None


def verify(store: VerifyStore, *, since: int = 1, key: VerifierKey | None = None,
           anchors: Iterable[Checkpoint] = (), partial: bool = False,
           excerpt: bool = False) -> Verdict:
    """Check the chain from seal *since* on (the seal before it is taken as good), and
    every checkpoint stored or given (*anchors*) against it; with *key*, each checkpoint's
    signature too. A trail whose first seals were pruned is checked from its first seal on,
    which a checkpoint signed by *key* must vouch for, and a recorded prune explain (unless
    the store is an *excerpt*: an export that starts where it was asked to). *partial*: the
    rows are those of an export filtered to one job, so a row that is not there is not a
    problem."""
    first = store.audit_seals(1, 1)
    lowest = int(first[0][0]) if first else 0
    pruned = lowest > 1 and since <= lowest
    since = lowest + 1 if pruned else since
    try:
        walk = _Walk(_checkpoints(store, since - 1, key, anchors), key is not None,
                     Pruned.read(store))
    except _Forged as forged:
        return Verdict(0, 0, None, forged.problem)
    if since > 1:
        problem = _base(store, since - 1, walk)
        if problem is not None:
            return walk.verdict(problem)
    for seq, row in _seal_rows(store, since):
        try:
            current = _seal_from_row(row)
        except ValueError as exc:
            return walk.verdict(Problem("seal_damaged", seq, None, str(exc)))
        problem = _check_link(walk.prev, current)
        if problem is None:
            checked, problem = _check_rows(store, walk.prev, current, walk.removed,
                                           partial=partial)
            walk.events += checked
        if problem is None:
            problem = walk.match(current)
        if problem is not None:
            return walk.verdict(problem)
        walk.seals += 1
        walk.prev = current
    return walk.verdict(_ends(walk, pruned=pruned and not excerpt, lowest=lowest))


class Pruned:
    """What recorded prunes removed (``history_pruned`` and ``seals_pruned`` events, each
    itself an event of the trail, sealed and checked like any other): event ids, and the
    seals the trail was pruned to start at."""

    def __init__(self, spans: list[tuple[int, int]], starts: set[int]) -> None:
        self._firsts = [first for first, _ in spans]
        self._spans = spans
        self.starts = starts
        self.found = 0

    @classmethod
    def read(cls, store: VerifyStore) -> Pruned:
        spans: list[tuple[int, int]] = []
        starts: set[int] = set()
        for _, attrs in store.audit_pruned():
            try:
                record = json.loads(attrs)
                if "event_ids" in record:
                    spans.extend((int(a), int(b)) for a, b in record["event_ids"])
                else:
                    starts.add(int(record["before"]))
            except (ValueError, KeyError, TypeError):
                continue  # an altered record: its own seal's digest names it
        return cls(sorted(spans), starts)

    def holds(self, event_id: int) -> bool:
        at = bisect_right(self._firsts, event_id) - 1
        if at >= 0 and self._spans[at][0] <= event_id <= self._spans[at][1]:
            self.found += 1
            return True
        return False


class _Forged(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def _checkpoints(store: VerifyStore, since: int, key: VerifierKey | None,
                 anchors: Iterable[Checkpoint]) -> dict[int, list[Checkpoint]]:
    """The checkpoints of seals from *since* on, stored and given, by seal number; each
    one's signature checked when there is a key."""
    found: dict[int, list[Checkpoint]] = {}
    for made in anchors:
        if made.seq >= since:
            found.setdefault(made.seq, []).append(made)
    after = max(since, 1)
    while True:
        page = store.audit_checkpoints(after, 500)
        for seq, note in page:
            try:
                made = Checkpoint.parse(note, key)
                if made.seq != seq:
                    raise NoteError(f"it names seal {made.seq}")
            except NoteError as exc:
                raise _Forged(Problem("checkpoint_forged", seq, None,
                                      f"the checkpoint stored for seal {seq} does not check: "
                                      f"{exc}")) from None
            found.setdefault(seq, []).append(made)
        if len(page) < 500:
            return found
        after = page[-1][0] + 1


def _base(store: VerifyStore, seq: int, walk: _Walk) -> Problem | None:
    """Read the seal the walk starts after, taken as good but for its own hash and its
    checkpoints."""
    found = store.audit_seals(seq, 1)
    if not found or int(found[0][0]) != seq:
        return Problem("seal_missing", seq, None, f"there is no seal {seq} to start from")
    try:
        base = _seal_from_row(found[0])
    except ValueError as exc:
        return Problem("seal_damaged", seq, None, str(exc))
    if base.expected_hash() != base.hash:
        return Problem("seal_altered", seq, None, f"seal {seq} was altered: its fields hash to "
                       f"{base.expected_hash()[:16]}…, not the {base.hash[:16]}… stored")
    walk.prev = base
    return walk.match(base)


def _ends(walk: _Walk, *, pruned: bool, lowest: int) -> Problem | None:
    """What the end of a walk without problems still shows: a checkpoint beyond the last
    seal (the trail cut short), or a pruned trail that no signed checkpoint vouches for."""
    last = 0 if walk.prev is None else walk.prev.seq
    beyond = [seq for seq in walk.checkpoints if seq > last]
    if beyond:
        return Problem("seal_missing", last + 1, None,
                       f"a checkpoint was signed for seal {max(beyond)}, but the trail ends at "
                       f"seal {last}: it was cut short")
    if pruned and lowest not in walk.removed.starts:
        return Problem("seal_missing", 1, None,
                       f"seals 1 to {lowest - 1} were removed, and no prune of them is recorded "
                       "in the trail")
    if pruned and walk.signed is None:
        why = ("no checkpoint signed by the key vouches for it" if walk.checked else
               "give the public key so that a signed checkpoint can vouch for it")
        return Problem("chain_unanchored", lowest, None,
                       f"the trail starts at seal {lowest} (the seals before were pruned): {why}")
    return None


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


def _check_rows(store: VerifyStore, prev: Seal | None, current: Seal, removed: Pruned, *,
                partial: bool = False) -> tuple[int, Problem | None]:
    """Check the rows *current* covers and the ids it looked through (with *partial*,
    only the rows that are there): a row missing must have been removed by a recorded
    prune of history."""
    before = 0 if prev is None else prev.through
    waited = {} if prev is None else dict(prev.waiting)
    rows = dict(store.audit_digests(before + 1, current.through))
    for first, last in current.covered:  # rows sealed late: one read per range, not per id
        if first <= before:
            rows.update(store.audit_digests(first, min(last, before)))
    checked = 0
    for index, event_id in enumerate(current.ids()):
        digest = rows.get(event_id)
        if digest is None and (partial or removed.holds(event_id)):
            continue
        if digest is None:
            return checked, Problem("event_removed", current.seq, event_id,
                                    f"event {event_id}, sealed by seal {current.seq}, was removed")
        if digest != current.digest_of(index):
            return checked, Problem("event_altered", current.seq, event_id,
                                    f"event {event_id}, sealed by seal {current.seq}, was altered")
        checked += 1
    if partial:
        return checked, None
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

