"""Operators' actions on many jobs: replay, discard or cancel them in batches of
`BATCH_SIZE`, one transaction each, never one transaction holding the whole table.

The jobs are chosen first — given by id, or the dead letters a filter selects, read a page
at a time (`dead_letter_ids`) — and counted. Then each batch locks its jobs, checks each
against the transition table and the uncertain-effect rule (`jobtrail.store.policy`), acts
on those that allow it and reports the others with why (`ActionResult`): a job that moved
on since it was chosen is skipped and counted, never lost. `ActionTally` adds up what a
whole run did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields, replace
from typing import Literal

from jobtrail.store.actions import ActionResult, ActionVerdict, DeadLetterFilter
from jobtrail.store.base import Store

#: How many jobs one transaction acts on.
BATCH_SIZE = 500

#: An operator's action that applies to many jobs at once.
Action = Literal["replay", "discard", "cancel"]


@dataclass(frozen=True, slots=True)
class ActionTally:
    """How many jobs an action on many acted on (``done``), and how many it left and why:
    ``not_found`` (no such job), ``status`` (the job's status did not allow it — for a
    selected job, it moved on meanwhile), ``uncertain`` (a replay refused while an effect
    of the job is uncertain)."""

    done: int = 0
    not_found: int = 0
    status: int = 0
    uncertain: int = 0

    @property
    def total(self) -> int:
        """Every job the action met."""
        return sum(getattr(self, field.name) for field in fields(self))

    @property
    def failed(self) -> int:
        """The jobs the action left as they were."""
        return self.total - self.done

    def add(self, results: Iterable[ActionResult]) -> ActionTally:
        """This tally with *results* counted too."""
        counts = {field.name: getattr(self, field.name) for field in fields(self)}
        for result in results:
            counts[result.verdict] += 1
        return ActionTally(**counts)

    def of(self, verdict: ActionVerdict) -> int:
        """How many results had *verdict*."""
        count: int = getattr(self, verdict)
        return count


#: Told of each batch once it is committed, with its results and the tally so far.
OnBatch = Callable[[list[ActionResult], ActionTally], None]


def batches(job_ids: Iterable[int], size: int = BATCH_SIZE) -> Iterator[list[int]]:
    """The distinct *job_ids*, in the order given, in lists of at most *size*."""
    unique = list(dict.fromkeys(job_ids))
    for start in range(0, len(unique), size):
        yield unique[start:start + size]


def dead_letter_ids(store: Store, where: DeadLetterFilter, size: int = BATCH_SIZE) -> list[int]:
    """The ids of every dead letter *where* selects, newest first, read a page of *size* at a
    time below the last id of the page before (keyset paging): what an action on them all
    will meet, counted before it begins."""
    found: list[int] = []
    cursor = where.before_id
    while page := store.dead_letters(replace(where, before_id=cursor, limit=size)):
        found += [job.id for job in page]
        cursor = page[-1].id
    return found


def run_batches(pages: Iterable[list[int]], act: Callable[[list[int]], list[ActionResult]],
                on_batch: OnBatch | None = None) -> ActionTally:
    """Apply *act* to each page of ids in turn (one transaction each) and add up what it
    did, telling *on_batch* after each."""
    tally = ActionTally()
    for page in pages:
        results = act(page)
        tally = tally.add(results)
        if on_batch is not None:
            on_batch(results, tally)
    return tally
