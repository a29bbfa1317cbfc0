"""Path variants and funnels: how the runs of one job group by the path they took.

A run's variant is the text of its recorded points (``load decide:is_paid=false
effect:charge mark_paid``), stored with its outcome. Grouping reads the finished runs of a
job (optionally since a time) and counts them in memory: a command an operator runs, not a
hot path. A variant is *new* when no run took that path before a deploy: its first run
finished after a given time, or all its runs ran under a given code version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from jobtrail.records import RunRecord

_TOKEN = re.compile(r'(?:[^\s"]|"(?:\\.|[^"\\])*")+')


@dataclass(frozen=True, slots=True)
class Variant:
    """One path runs took, with how often and how fast."""

    path: str
    count: int
    share: float
    p50: float | None
    p95: float | None
    first_seen: datetime
    last_seen: datetime
    versions: tuple[str, ...]
    outcomes: dict[str, int] = field(default_factory=dict)
    new: bool = False


@dataclass(frozen=True, slots=True)
class Stage:
    """A point of a funnel: how many runs reached it."""

    point: str
    reached: int
    share: float


@dataclass(frozen=True, slots=True)
class Funnel:
    """Drop-off between the points of a job's runs: ``started`` runs, then each point
    with the runs that reached it, in path order; ``exits`` counts runs per exit reason."""

    job_name: str
    started: int
    stages: tuple[Stage, ...]
    exits: dict[str, int]


def tokens(variant: str) -> list[str]:
    """The recorded points of a variant's text."""
    return [t for t in _TOKEN.findall(variant) if t != "…"]


def point_of(token: str) -> str:
    """The funnel point of a token: a decision without its value."""
    if token.startswith("decide:") and "=" in token:
        return token.split("=", 1)[0]
    return token


def _percentile(ordered: Sequence[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def group(
    runs: Sequence[RunRecord],
    *,
    new_since: datetime | None = None,
    new_in_version: str | None = None,
) -> list[Variant]:
    """The variants of *runs*, most common first.

    A variant is new when its first run finished at or after *new_since*, or when every
    run of it ran under *new_in_version* (a path that code version brought)."""
    by_path: dict[str, list[RunRecord]] = {}
    for run in runs:
        by_path.setdefault(run.variant, []).append(run)
    total = len(runs)
    found = []
    for path, members in by_path.items():
        durations = sorted(d for d in (r.duration for r in members) if d is not None)
        versions = sorted({r.code_version for r in members if r.code_version})
        first = min(r.finished_at for r in members)
        outcomes: dict[str, int] = {}
        for r in members:
            label = r.outcome if r.outcome else r.status.value
            outcomes[label] = outcomes.get(label, 0) + 1
        new = (new_since is not None and first >= new_since) or (
            new_in_version is not None and all(r.code_version == new_in_version for r in members)
        )
        found.append(Variant(
            path, len(members), len(members) / total, _percentile(durations, 0.5),
            _percentile(durations, 0.95), first, max(r.finished_at for r in members),
            tuple(versions), outcomes, new,
        ))
    found.sort(key=lambda v: (-v.count, v.path))
    return found


def funnel(job_name: str, runs: Sequence[RunRecord], order: Iterable[str] = ()) -> Funnel:
    """How many of *runs* reached each point. Points come in *order* first (a job's
    expected path), then as they first appear in the most common paths."""
    reached: dict[str, int] = {}
    exits: dict[str, int] = {}
    sequence: list[str] = list(dict.fromkeys(point_of(p) for p in order))
    for variant in group(runs):
        seen = set()
        for token in tokens(variant.path):
            point = point_of(token)
            if point.startswith("exit:"):
                reason = point[len("exit:"):]
                exits[reason] = exits.get(reason, 0) + variant.count
                continue
            if point in seen:
                continue
            seen.add(point)
            reached[point] = reached.get(point, 0) + variant.count
            if point not in sequence:
                sequence.append(point)
    started = len(runs)
    stages = tuple(
        Stage(point, reached.get(point, 0), reached.get(point, 0) / started if started else 0.0)
        for point in sequence if not point.startswith("exit:")
    )
    return Funnel(job_name, started, stages, exits)

