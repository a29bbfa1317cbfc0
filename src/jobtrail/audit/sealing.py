"""Sealing: the rows written since the last seal, appended to the chain as the next seal.

`seal` reads the last seal (its number, hash, the highest id it covered and the ids it
waits for), then the rows after that id (at most `BATCH`) and the waited-for ids now
there, and appends seal n + 1 covering them. Ids missing below the highest row read are
waited for (their transactions may still commit) until `WAIT` has passed. The append
succeeds only if no other sealer appended n + 1 first; then nothing is lost either: the
rows are covered by the seal that won, and the next round goes on from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from jobtrail.audit.encoding import GENESIS, Digest, Seal, make_seal, ranges
from jobtrail.audit.encoding import seal_from_row as _seal_from_row

#: Rows covered by one seal at most.
BATCH = 5000
#: Seconds a seal waits for a missing id before taking it for rolled back.
WAIT = 600.0
#: Missing ids waited for are the newest this many below the highest row read: ids lower
#: in a wider gap (a sequence moved on by hand) are taken as never used.
MAX_SPAN = 100_000


class SealStore(Protocol):
    """What sealing needs of a `Store`."""

    def audit_head(self) -> tuple[Any, ...] | None: ...
    def audit_append(self, seal: Seal) -> bool: ...
    def audit_pending(self, after: int, waiting: Sequence[int], limit: int
                      ) -> list[Digest]: ...
    def audit_now(self) -> float: ...


def head_of(store: SealStore) -> Seal | None:
    """The last seal, read back (a damaged one raises ValueError)."""
    row = store.audit_head()
    return None if row is None else _seal_from_row(row)


def seal(store: SealStore, *, batch: int = BATCH) -> Seal | None:
    """Append the next seal over the rows written since the last one; ``None`` when there
    was nothing new, or another sealer appended that number first."""
    head = head_of(store)
    seq, prev_hash = (0, GENESIS) if head is None else (head.seq, head.hash)
    after = _highest(head)
    waiting = dict(head.waiting) if head is not None else {}
    now = store.audit_now()
    found = store.audit_pending(after, sorted(waiting), batch)
    late = {event_id for event_id, _ in found if event_id in waiting}
    fresh = sorted(event_id for event_id, _ in found if event_id > after)
    if not fresh and not late and not _expired(waiting, now):
        return None
    top = fresh[-1] if fresh else after
    seen = set(fresh)
    still = {i: since for i, since in waiting.items() if i not in late and now - since < WAIT}
    still.update((i, now) for i in range(max(after + 1, top - MAX_SPAN), top) if i not in seen)
    covered = sorted(pair for pair in found if pair[0] in late or pair[0] > after)
    made = make_seal(seq + 1, now, max(top, after), ranges(i for i, _ in covered),
                     sorted(still.items()), "".join(digest for _, digest in covered), prev_hash)
    return made if store.audit_append(made) else None


def seal_all(store: SealStore, *, batch: int = BATCH) -> int:
    """Seal until nothing is left to seal; the number of seals appended."""
    appended = 0
    while seal(store, batch=batch) is not None:
        appended += 1
    return appended


def _highest(head: Seal | None) -> int:
    """The highest id the chain has looked through."""
    return 0 if head is None else head.through


def _expired(waiting: dict[int, float], now: float) -> bool:
    return any(now - since >= WAIT for since in waiting.values())
