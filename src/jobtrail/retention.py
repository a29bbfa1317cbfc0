"""History retention: finished jobs removed once they are older than the app keeps them.

``App(history_retention=seconds)`` keeps each job that succeeded or was cancelled for that
long after it finished; then its row, its events (its path), its effects and its
divergences are removed, a batch of `BATCH` jobs per transaction (`Store.prune_history`).
Dead letters stay until they are replayed or discarded; a job whose children are still to
finish, or one of a group still waiting, stays until they are done. Every worker prunes
every `EVERY` seconds on its sealer's thread (`jobtrail.audit.sealer`), and
``jobtrail prune`` does it now.

Each batch is recorded in the audit trail, in its own transaction, as an event of no job
(``audit``/``history_pruned``: the cut-off, how many jobs and events, the event ids
removed, and who pruned): the trail's verification takes those events' absence for what
it is — a removal recorded, by whom and when — rather than tampering.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from jobtrail.errors import ConfigurationError
from jobtrail.settings import is_seconds

#: Jobs removed per transaction.
BATCH = 500
#: Seconds between two prunes of a worker.
EVERY = 60.0
#: Batches a worker removes per prune, at most (the rest waits for the next).
ROUNDS = 20


class PruneStore(Protocol):
    """What pruning needs of a `Store`."""

    def prune_history(self, before: float, limit: int) -> tuple[int, int]: ...
    def audit_now(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Pruned:
    """What a prune removed: jobs, events, and the transactions (batches) it took."""

    before: float
    jobs: int = 0
    events: int = 0
    batches: int = 0


def check_retention(retention: object, idempotency_retention: float | None) -> float | None:
    """*retention* as seconds, or None (keep history forever); a `ConfigurationError` for
    a value that is not positive seconds, or shorter than the idempotency keys are kept
    (a key's answer would name a job no longer there)."""
    if retention is None:
        return None
    if not is_seconds(retention) or retention <= 0:
        raise ConfigurationError(f"App(history_retention={retention!r}): must be a positive "
                                 "number of seconds, or None to keep history forever")
    if idempotency_retention is None or retention < idempotency_retention:
        kept = "forever" if idempotency_retention is None else f"{idempotency_retention:g} s"
        raise ConfigurationError(
            f"App(history_retention={retention!r}): shorter than idempotency_retention "
            f"({kept}): a job must outlive its idempotency key, whose answer names it")
    return float(retention)


def prune(store: PruneStore, older_than: float, *, batch: int = BATCH,
          rounds: int | None = None,
          progress: Callable[[Pruned], None] | None = None) -> Pruned:
    """Remove the history of jobs that finished more than *older_than* seconds ago, a batch
    per transaction, until none is left (or *rounds* batches); *progress* is told the
    running total after each batch."""
    done = Pruned(store.audit_now() - older_than)
    while rounds is None or done.batches < rounds:
        jobs, events = store.prune_history(done.before, batch)
        if not jobs:
            break
        done = Pruned(done.before, done.jobs + jobs, done.events + events, done.batches + 1)
        if progress is not None:
            progress(done)
    return done


class Retention:
    """A worker's periodic prune: `tick` prunes when `EVERY` seconds have passed."""

    def __init__(self, store: PruneStore, older_than: float, *, every: float = EVERY) -> None:
        self.store = store
        self.older_than = older_than
        self.every = every
        self._last: float | None = None

    def tick(self, now: float) -> Pruned | None:
        """Prune if it is time (*now*: a monotonic clock); what was removed, or None."""
        if self._last is not None and now - self._last < self.every:
            return None
        self._last = now
        return prune(self.store, self.older_than, rounds=ROUNDS)
