"""Which waiting jobs a limited claim may take: the policy both backends share.

A claim of jobs that a flow limit applies to (`FlowLimits`) runs in one transaction that
no other limited claim runs beside (PostgreSQL: an advisory lock; SQLite: the write lock):

1. read how many attempts hold a slot — jobs ``running`` under a lease that has not run
   out, so the slot of a worker that died frees itself when its lease does — for the job
   types and queues limited, by (job, queue, concurrency key); and the token buckets of
   the rate limits, as last written;
2. `Allowance` turns them into what is left: free slots per limit (per key), tokens per
   bucket refilled to now, and the limits that are full, whose jobs the candidates query
   leaves out so that one saturated tenant's backlog never hides the others;
3. the candidates (ready, limited, not excluded, in claim order) are taken one by one
   while every limit that applies to each has room (`Allowance.take`);
4. the jobs taken are leased, and the buckets written back with the tokens spent.

Jobs a limit holds back stay queued: no attempt is counted, no error recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from jobtrail.store.values import FlowLimits, Limit

#: Candidates read per free slot: room for jobs a limit then turns down.
CANDIDATES_PER_SLOT = 2
#: The fewest seconds a worker waits for a token (a rate of thousands per second).
MIN_RETRY = 0.01


@dataclass(frozen=True, slots=True)
class Exclusions:
    """What the candidates query leaves out: full job types, full queues, and full
    (job type, concurrency key) pairs (the key ``""`` for jobs without one)."""

    jobs: list[str]
    queues: list[str]
    key_jobs: list[str]
    keys: list[str]


class Allowance:
    """Room left under *flow*'s limits, from the slots held (*running*: rows of job name,
    queue, concurrency key, count) and the buckets (*buckets*: name → (tokens, updated)),
    at *now* (epoch seconds of the store's clock)."""

    def __init__(self, flow: FlowLimits, running: Iterable[tuple[str, str, str | None, int]],
                 buckets: dict[str, tuple[float, float]], now: float) -> None:
        self.now = now
        self._jobs: dict[str, list[Limit]] = {}
        self._queues: dict[str, list[Limit]] = {}
        for limit in flow.limits:
            (self._jobs if limit.scope == "job" else self._queues).setdefault(
                limit.name, []).append(limit)
        held: dict[tuple[str, str, str | None], int] = {}
        for job_name, queue, key, count in running:
            for limit in self._jobs.get(job_name, ()):
                if limit.concurrency is not None:
                    slot = ("job", job_name, (key or "") if limit.keyed else None)
                    held[slot] = held.get(slot, 0) + count
            for limit in self._queues.get(queue, ()):
                if limit.concurrency is not None:
                    held[("queue", queue, None)] = held.get(("queue", queue, None), 0) + count
        self._held = held
        self.tokens: dict[str, float] = {}
        self._rates: dict[str, float] = {}
        for limit in flow.limits:
            if limit.rate is not None:
                tokens, updated = buckets.get(limit.bucket, (limit.burst, now))
                refilled = tokens + max(0.0, now - updated) * limit.rate
                self.tokens[limit.bucket] = min(limit.burst, refilled)
                self._rates[limit.bucket] = limit.rate
        self.spent = False

    def exclusions(self) -> Exclusions:
        """The limits already full, as the candidates query leaves them out."""
        jobs = [name for name, limits in self._jobs.items()
                if any(self._full(limit, None) for limit in limits if not limit.keyed)
                or any(self._starved(limit) for limit in limits)]
        queues = [name for name, limits in self._queues.items()
                  if any(self._full(limit, None) or self._starved(limit) for limit in limits)]
        pairs = [(name, key or "") for scope, name, key in self._held
                 if scope == "job" and key is not None
                 and any(self._full(limit, key) for limit in self._jobs[name] if limit.keyed)]
        return Exclusions(jobs, queues, [job for job, _ in pairs], [key for _, key in pairs])

    def take(self, job_name: str, queue: str, key: str | None) -> bool:
        """Whether a job (of *job_name*, in *queue*, with concurrency key *key*) fits every
        limit that applies to it; if so, count its slot and its tokens."""
        limits = [*self._jobs.get(job_name, ()), *self._queues.get(queue, ())]
        if any(self._full(limit, key or "") or self._starved(limit) for limit in limits):
            return False
        for limit in limits:
            if limit.concurrency is not None:
                slot = self._slot(limit, key or "")
                self._held[slot] = self._held.get(slot, 0) + 1
            if limit.rate is not None:
                self.tokens[limit.bucket] -= 1.0
                self.spent = True
        return True

    def retry_after(self) -> float | None:
        """Seconds until the emptiest bucket holds a token again (``None``: none is empty)."""
        waits = [(1.0 - tokens) / self._rates[bucket]
                 for bucket, tokens in self.tokens.items() if tokens < 1.0]
        return max(MIN_RETRY, min(waits)) if waits else None

    def buckets(self) -> list[tuple[str, float, float]]:
        """The buckets to write back: (name, tokens, now)."""
        return [(bucket, tokens, self.now) for bucket, tokens in self.tokens.items()]

    # -- one limit ----------------------------------------------------------------------
    @staticmethod
    def _slot(limit: Limit, key: str | None) -> tuple[str, str, str | None]:
        return (limit.scope, limit.name, key if limit.keyed else None)

    def _full(self, limit: Limit, key: str | None) -> bool:
        if limit.concurrency is None:
            return False
        return self._held.get(self._slot(limit, key), 0) >= limit.concurrency

    def _starved(self, limit: Limit) -> bool:
        return limit.rate is not None and self.tokens[limit.bucket] < 1.0
