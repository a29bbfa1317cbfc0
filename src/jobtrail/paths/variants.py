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

from jobtrail.records import RunRecord, Status

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
    (steps, effects, decisions, and milestones as ``event:NAME``) with the runs that
    reached it, in path order; then how the runs ended: ``outcomes`` counts them as
    ``completed`` (succeeded), ``exit:REASON``, ``dead``, ``orphaned`` or ``cancelled``;
    ``exits`` counts runs per exit reason."""

    job_name: str
    started: int
    stages: tuple[Stage, ...]
    exits: dict[str, int]
    outcomes: dict[str, int] = field(default_factory=dict)


#: The longest block of points a variant folds when it repeats (a loop's body).
MAX_BLOCK = 8


def collapse(texts: Sequence[str]) -> tuple[Sequence[str], list[int] | None]:
    """A run's points (in the path language) as its variant writes them, with each
    point's place there (``None`` when nothing was folded: each is where it was): a point
    or block of points repeated back to back is written once, with ``+`` (``fetch fetch
    fetch store`` is ``fetch+ store``, a loop of two steps ``(fetch save)+``), so that runs
    over 3 or 30 pages take one variant."""
    if len(set(texts)) == len(texts):  # no point repeats: the common case
        return texts, None
    folded = list(texts)
    places = list(range(len(texts)))
    for _ in range(3):  # a loop inside a loop folds on the next pass
        again, moved = _fold(folded)
        if len(again) == len(folded):
            break
        folded, places = again, [moved[p] for p in places]
    return folded, places


def _fold(texts: list[str]) -> tuple[list[str], list[int]]:
    """One pass of `collapse`: the folded points, and where each point went."""
    folded: list[str] = []
    moved: list[int] = []
    i, count = 0, len(texts)
    while i < count:
        for size in range(1, min(MAX_BLOCK, (count - i) // 2) + 1):
            block = texts[i:i + size]
            if texts[i + size] != block[0] or texts[i + size:i + 2 * size] != block:
                continue
            end = i + 2 * size
            while texts[end:end + size] == block:
                end += size
            if size == 1:
                folded.append(block[0] if block[0].endswith("+") else block[0] + "+")
            else:
                folded.append("(" + " ".join(block) + ")+")
            moved.extend([len(folded) - 1] * (end - i))
            i = end
            break
        else:
            folded.append(texts[i])
            moved.append(len(folded) - 1)
            i += 1
    return folded, moved


def tokens(variant: str) -> list[str]:
    """The recorded points of a variant's text, a repeated point or block once."""
    found = []
    for token in _TOKEN.findall(variant):
        if token == "…":
            continue
        if token.endswith("+"):
            token = token.rstrip("+)")
        found.append(token.lstrip("("))
    return found


def blocks(variant: str) -> list[tuple[tuple[str, ...], bool]]:
    """A variant's text read back as blocks in path order: a point once, ``(point,),
    False``; or points repeated back to back (``fetch+``, ``(fetch save)+``), with
    ``True``. Their points are those `tokens` lists, in the same order."""
    found: list[tuple[tuple[str, ...], bool]] = []
    block: list[str] = []
    depth = 0
    for token in _TOKEN.findall(variant):
        if token == "…":
            continue
        opened = len(token) - len(token.lstrip("("))
        closed = token.endswith(")+")
        point = token.rstrip("+)").lstrip("(")
        if depth == 0 and not opened:
            found.append(((point,), token.endswith("+")))
            continue
        depth += opened
        block.append(point)
        if closed:
            depth = max(0, depth - (len(token.rstrip("+")) - len(token.rstrip("+").rstrip(")"))))
            if depth == 0:
                found.append((tuple(block), True))
                block = []
    if block:  # a block cut short with the variant
        found.append((tuple(block), False))
    return found


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


def outcome_of(run: RunRecord) -> str:
    """How a run ended, as a funnel counts it."""
    if run.outcome and run.outcome.startswith("exit:"):
        return run.outcome
    return "completed" if run.status is Status.SUCCEEDED else run.status.value


def funnel(job_name: str, runs: Sequence[RunRecord], order: Iterable[str] = ()) -> Funnel:
    """How many of *runs* reached each point. Points come in *order* first (a job's
    expected path), then as they first appear in the most common paths; a milestone
    (``event:NAME``) comes where runs reached it."""
    reached: dict[str, int] = {}
    exits: dict[str, int] = {}
    outcomes: dict[str, int] = {}
    sequence: list[str] = list(dict.fromkeys(point_of(p) for p in order))
    paths: dict[tuple[str, tuple[tuple[str, int], ...]], int] = {}
    for run in runs:
        key = (run.variant, run.milestones)
        paths[key] = paths.get(key, 0) + 1
        label = outcome_of(run)
        outcomes[label] = outcomes.get(label, 0) + 1
    for (variant, milestones), count in sorted(paths.items(), key=lambda kv: (-kv[1], kv[0])):
        points = tokens(variant)
        for name, place in reversed(milestones):
            points.insert(min(place, len(points)), f"event:{name}")
        seen: set[str] = set()
        previous: str | None = None
        for token in points:
            point = point_of(token)
            if point.startswith("exit:"):
                reason = point[len("exit:"):]
                exits[reason] = exits.get(reason, 0) + count
                continue
            if point in seen:
                continue
            seen.add(point)
            reached[point] = reached.get(point, 0) + count
            if point not in sequence:  # where this run reached it: after its previous point
                sequence.insert(sequence.index(previous) + 1 if previous else 0, point)
            previous = point
    started = len(runs)
    stages = tuple(
        Stage(point, reached.get(point, 0), reached.get(point, 0) / started if started else 0.0)
        for point in sequence if not point.startswith("exit:")
    )
    return Funnel(job_name, started, stages, exits, _in_order(outcomes))


def _in_order(outcomes: dict[str, int]) -> dict[str, int]:
    """Outcomes as a funnel lists them: completed, the exits, then the failures."""
    rank = {"completed": 0, "dead": 2, "orphaned": 3, "cancelled": 4}
    return dict(sorted(outcomes.items(), key=lambda kv: (rank.get(kv[0], 1), kv[0])))
