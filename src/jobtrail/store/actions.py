"""What operators select and what their actions on many jobs report: the filter of the
dead-letter selections, and the result of an action on one job of a batch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from jobtrail.records import JobRecord


@dataclass(frozen=True, slots=True)
class DeadLetterFilter:
    """What `Store.dead_letters` selects among the dead letters (``dead`` and ``orphaned``
    jobs). Every field narrows; ``None`` means any. ``error_type`` is the class of the error
    that ended the job as stored (``NameError``, ``billing.Declined``) or its last dotted
    parts (``Declined``); ``since`` bounds when the job ended."""

    job_name: str | None = None
    queue: str | None = None
    error_type: str | None = None
    since: datetime | None = None
    limit: int = 50
    before_id: int | None = None


#: What an operator's action did to one job: ``done``, or why not: ``not_found`` (no such
#: job), ``status`` (its status does not allow it: it moved on since it was chosen) or
#: ``uncertain`` (a replay refused while one of its effects is uncertain).
ActionVerdict = Literal["done", "not_found", "status", "uncertain"]


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What an operator's action on many jobs did to one of them: its verdict, the job as
    it is now (``None`` when there is none) and, when refused, why."""

    job_id: int
    verdict: ActionVerdict
    job: JobRecord | None = None
    message: str | None = None
