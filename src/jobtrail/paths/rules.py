"""Business rules across jobs: promises one job's path makes about another's.

```python
from jobtrail.paths.rules import event, enqueued, succeeded

app.paths.rule("orders ship within the hour",
         when=succeeded("place_order"), then=enqueued("ship_order"), within=3600)
app.paths.rule("onboarding completes within a day",
         when=event("onboarding_started", key="user"),
         then=event("onboarding_complete", key="user"), within=86400)
```

A rule pairs each occurrence of ``when`` with the ``then`` that answers it:

- ``succeeded(job)`` occurs when a run of *job* succeeds (its entity is the job id); a
  run that ended early through ``ctx.exit`` did not do its work and counts only with
  ``succeeded(job, exits=True)``;
- ``event(name, key=attr)`` occurs when any job records the milestone
  ``ctx.event(name, attr=...)`` (its entity is that attribute's value; without ``key``,
  the job id);
- as ``then``, ``enqueued(job)`` / ``succeeded(job)`` is answered by a *child* job of that
  name (enqueued with ``ctx.enqueue``, so its parent is the triggering job) that was
  enqueued / succeeded within ``within`` seconds of the trigger; ``event(name, key=...)``
  by the milestone recorded for the same entity, after the trigger, within the window.

`check` reports, per rule, the occurrences checked, kept, broken (the window passed with
no answer: the exact entities are listed) and pending (the window is still open).
It reads the store; nothing is checked on the hot path. Given a `Bound`, it reads no more
than the newest runs of a triggering job and the milestones among the newest events, and
checks what happened since the oldest of those (each report says since when): a check a
page can afford on a store of millions of runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from jobtrail.errors import ConfigurationError
from jobtrail.records import Status

if TYPE_CHECKING:
    from jobtrail.records import RunRecord
    from jobtrail.store.base import Store

Kind = Literal["succeeded", "enqueued", "event"]


@dataclass(frozen=True, slots=True)
class Occurrence:
    """What a rule watches for: a job succeeding or enqueued, or a milestone event."""

    kind: Kind
    name: str
    key: str | None = None
    exits: bool = False

    def __str__(self) -> str:
        if self.kind == "event":
            return f"event {self.name}" + (f" (same {self.key})" if self.key else "")
        return f"{self.name} {self.kind}"


def succeeded(job: Any, *, exits: bool = False) -> Occurrence:
    """A run of *job* (a name or a job) that succeeded: that did its work, not one that
    ended early through ``ctx.exit`` (unless *exits*)."""
    return Occurrence("succeeded", _job_name(job), exits=exits)


def enqueued(job: Any) -> Occurrence:
    """A child job of *job* enqueued by the triggering job (``then`` only)."""
    return Occurrence("enqueued", _job_name(job))


def event(name: str, *, key: str | None = None) -> Occurrence:
    """The milestone ``ctx.event(name, ...)``, matched on its attribute *key*."""
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"event(name=...): expected a non-empty str, got {name!r}")
    return Occurrence("event", name, key)


def _job_name(job: Any) -> str:
    name = job if isinstance(job, str) else getattr(job, "name", None)
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"expected a job or a job name, got {job!r}")
    return name


@dataclass(frozen=True, slots=True)
class Rule:
    """A promise across jobs: every ``when`` is answered by a ``then`` within ``within``."""

    name: str
    when: Occurrence
    then: Occurrence
    within: float

    def __post_init__(self) -> None:
        if self.when.kind == "enqueued":
            raise ConfigurationError(
                f"rule {self.name!r}: when=enqueued(...) is not a trigger; use succeeded(...) "
                "or event(...)")
        if self.then.kind != "event" and self.when.kind != "succeeded":
            raise ConfigurationError(
                f"rule {self.name!r}: then={self.then} needs when=succeeded(...): a child job "
                "answers the job that enqueued it")
        if self.then.kind == "event" and self.when.kind == "succeeded":
            raise ConfigurationError(
                f"rule {self.name!r}: then=event(...) answers when=event(...) for the same key")
        if not (isinstance(self.within, int | float) and self.within > 0):
            raise ConfigurationError(
                f"rule {self.name!r}: within must be a positive number of seconds")

    def __str__(self) -> str:
        return f"every {self.when} is followed by {self.then} within {_span(self.within)}"


@dataclass(frozen=True, slots=True)
class Breach:
    """One occurrence that was not answered in time."""

    entity: str
    job_id: int
    at: datetime
    deadline: datetime


@dataclass(frozen=True, slots=True)
class RuleReport:
    """How a rule fared: counts, and the exact occurrences that broke it; ``since``: the
    time from which occurrences were checked (``None``: from the first one stored)."""

    rule: Rule
    checked: int
    kept: int
    pending: int
    broken: tuple[Breach, ...] = field(default=())
    since: datetime | None = None

    @property
    def ok(self) -> bool:
        return not self.broken


@dataclass(frozen=True, slots=True)
class Bound:
    """How much a check reads: the newest ``runs`` runs of a job whose success triggers a
    rule, and the milestones among the newest ``events`` rows of events."""

    runs: int
    events: int


@dataclass(frozen=True, slots=True)
class _Point:
    entity: str
    job_id: int
    at: datetime


def check(store: Store, rules: Iterable[Rule], *, since: datetime | None = None,
          now: datetime | None = None, bound: Bound | None = None) -> list[RuleReport]:
    """Check each of *rules* over the occurrences since *since* (all when ``None``), and
    with *bound*, over no more than it lets a check read."""
    now = now or datetime.now(UTC)
    return [_check(store, rule, since, now, bound) for rule in rules]


def _check(store: Store, rule: Rule, since: datetime | None, now: datetime,
           bound: Bound | None) -> RuleReport:
    window = timedelta(seconds=rule.within)
    triggers, since = _triggers(store, rule.when, since, bound)
    answers = _answers(store, rule, triggers, bound)
    # A milestone answers only after its trigger; a child may be enqueued (or even finish)
    # during its parent's run, before the parent's success is recorded.
    after = rule.then.kind == "event"
    kept = pending = 0
    broken = []
    for point in triggers:
        deadline = point.at + window
        if any((at >= point.at or not after) and at <= deadline
               for at in answers.get(point.entity, ())):
            kept += 1
        elif deadline > now:
            pending += 1
        else:
            broken.append(Breach(point.entity, point.job_id, point.at, deadline))
    return RuleReport(rule, len(triggers), kept, pending, tuple(broken), since)


def _triggers(store: Store, when: Occurrence, since: datetime | None,
              bound: Bound | None) -> tuple[list[_Point], datetime | None]:
    """The occurrences of *when* that a check judges, and since when it reads them all:
    *since*, or later when *bound* leaves the older ones out."""
    if bound is None:
        return _occurrences(store, when, since), since
    if when.kind == "succeeded":
        runs = store.runs(when.name, since, limit=bound.runs)
        oldest = runs[0].finished_at if len(runs) >= bound.runs else None
        since = oldest if oldest is not None and (since is None or oldest > since) else since
        return _succeeded(when, runs), since
    oldest = store.events_horizon(bound.events)
    since = oldest if oldest is not None and (since is None or oldest > since) else since
    return _occurrences(store, when, since, bound), since


def _succeeded(what: Occurrence, runs: Iterable[RunRecord]) -> list[_Point]:
    """The runs that count as *what* (a success, which an exit is not unless it says so)."""
    return [_Point(str(run.job_id), run.job_id, run.finished_at)
            for run in runs if run.status is Status.SUCCEEDED
            and (what.exits or not (run.outcome or "").startswith("exit:"))]


def _occurrences(store: Store, what: Occurrence, since: datetime | None,
                 bound: Bound | None = None) -> list[_Point]:
    if what.kind == "succeeded":
        return _succeeded(what, store.runs(what.name, since))
    within = None if bound is None else bound.events
    first: dict[tuple[int, str], _Point] = {}
    for found in store.milestones(what.name, since, within=within):
        if what.key and found.attrs.get(what.key) in (None, "[redacted]"):
            continue  # no entity to follow: it cannot answer or be answered
        entity = str(found.attrs[what.key]) if what.key else str(found.job_id)
        first.setdefault((found.job_id, entity), _Point(entity, found.job_id, found.at))
    return sorted(first.values(), key=lambda p: p.at)


def _answers(store: Store, rule: Rule, triggers: Sequence[_Point],
             bound: Bound | None) -> dict[str, list[datetime]]:
    """For each entity, the times its answer happened."""
    found: dict[str, list[datetime]] = {}
    if rule.then.kind == "event":
        if not triggers:
            return found
        earliest = min(p.at for p in triggers)
        for point in _occurrences(store, rule.then, earliest, bound):
            found.setdefault(point.entity, []).append(point.at)
        return found
    children = store.children([p.job_id for p in triggers], rule.then.name)
    for child in children:
        if rule.then.kind == "succeeded":
            if child.status is not Status.SUCCEEDED or child.finished_at is None:
                continue
            at = child.finished_at
        else:
            at = child.created_at
        found.setdefault(str(child.parent_job_id), []).append(at)
    return found


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size:g} {unit}"
    return f"{seconds:g} s"
