"""What a run amounts to once it ends for good: its path variant and its divergences.

Called on the worker as the final attempt's outcome is made, from the path held in memory
(a retried job replays its completed steps and effects into its last attempt, so that
path is the whole run), so summarising costs no query. The summary is written with the
outcome, in the same transaction.

Every finished run pays for its summary, so it is kept cheap: each distinct recorded point
(kind, name, decided value) becomes its `Symbol` and its text once, then is looked up.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from jobtrail.expect import Symbol, format_value
from jobtrail.paths.variants import collapse, tokens
from jobtrail.records import VARIANT_POINTS, Divergence, DivergenceKind, Status
from jobtrail.redaction import MASK, Redactor
from jobtrail.store.base import PathEvent, RunSummary
from jobtrail.text import storable

if TYPE_CHECKING:
    from jobtrail.context import Context
    from jobtrail.expect import Expectation
    from jobtrail.middleware import Concluding
    from jobtrail.paths.timings import StepTimings

#: Recorded points that make up a path variant and that expectations speak of.
POINTS = VARIANT_POINTS
#: A variant longer than this is cut (a job looping over thousands of steps).
MAX_VARIANT = 2000
#: Distinct points remembered; past this (names made per run), points are made afresh.
MAX_KNOWN_POINTS = 10_000
_NEVER = float("inf")
#: Milestones kept per run (each name once, the first time it is reached).
MAX_MILESTONES = 100

_Point = tuple[Symbol, str]


class Summarizer:
    """Makes the `RunSummary` of finished runs for one app: its step timings (for
    ``slow``), its code version, and the points it has already seen."""

    def __init__(self, timings: StepTimings | None, code_version: str | None) -> None:
        self.timings = timings
        self.code_version = code_version
        self._known: dict[tuple[str, str, str | None], _Point] = {}
        self._steps: dict[str, _Point] = {}  # the points of steps, by name: the usual ones

    def __call__(self, attempt: Concluding, status: Status) -> RunSummary:
        """The pipeline's built-in stage: the summary of the run whose last attempt ended
        with *status*."""
        context = attempt.context
        return self.summarize_path(context.job_name, context.path, context.redactor,
                                   completed=status is Status.SUCCEEDED,
                                   expectation=attempt.expectation)

    def summarize(self, context: Context, *, completed: bool,
                  expectation: Expectation | None) -> RunSummary:
        """The summary of the run whose last attempt *context* is. *completed* is true
        when it ended as the code meant (succeeded or exited), false when it failed."""
        return self.summarize_path(context.job_name, context.recorded(), context.redactor,
                                   completed=completed, expectation=expectation)

    def summarize_path(self, job_name: str, entries: Sequence[PathEvent],
                       redactor: Redactor | None, *, completed: bool,
                       expectation: Expectation | None) -> RunSummary:
        """The summary of a run of *job_name* that recorded *entries* (its whole path:
        the last attempt's, which replays the earlier ones, or what a run that died
        saved). *redactor* masks them, unless they are masked already."""
        if not entries and expectation is None:  # most jobs of a busy queue: nothing to do
            return RunSummary(job_name, "", self.code_version)
        # One pass over the path (every finished run pays for it): its points, the steps
        # that ran (for ``slow``), whether any point is flagged, whether it has milestones.
        points: list[_Point] = []
        texts: list[str] = []
        ran: list[tuple[int, PathEvent]] = []  # steps that ran, longer than `shorter`
        flagged = milestones = False
        known = self._known
        steps = self._steps
        timings = self.timings
        sampled = timings is not None and timings.sampled()
        # A step no longer than the floor is never slow: judged only when sampled.
        shorter = _NEVER if timings is None else -1.0 if sampled else timings.floor
        for entry in entries:
            kind, name, _, duration, attrs, result = entry
            if kind == "step":
                if attrs is None:  # most steps: one that ran, unflagged
                    if duration is not None and duration > shorter:
                        ran.append((len(points), entry))
                    point = steps.get(name) or self._step_point(entry)
                    points.append(point)
                    texts.append(point[1])
                    continue
                if duration is not None and duration > shorter and not attrs.get("replayed"):
                    ran.append((len(points), entry))
                flagged = flagged or bool(attrs.get("rerun"))
                result = None
            elif kind not in POINTS:
                milestones = milestones or kind == "event"
                continue
            elif kind != "decide":
                flagged = flagged or bool(attrs and attrs.get("repeated"))
                result = None
            key = (kind, name, result)
            point = known.get(key) or self._point(entry, key)
            points.append(point)
            texts.append(point[1])
        symbols: list[Symbol] = []
        if redactor is not None:  # judged masked, so no divergence quotes a sensitive value
            # Decided values are masked before the language quotes them: quoting escapes
            # again a value that may already be escaped (a repr inside JSON), past what
            # masking the quoted text could recognise.
            masked = redactor.entries([e for e in entries if e.kind in POINTS])
            symbols = [_masked(self._point(e)[0], redactor.fields) for e in masked]
        elif expectation is not None:
            symbols = [symbol for symbol, _ in points]
        findings: list[Divergence] = []
        if expectation is not None:
            # Decided values are the job's own text: stored as any backend can keep them.
            findings.extend(
                dataclasses.replace(
                    d, message=storable(d.message),
                    found=None if d.found is None else storable(d.found),
                    expected=tuple(storable(e) for e in d.expected))
                for d in expectation.check(symbols, completed=completed)
            )
        if flagged:
            findings.extend(_flagged(entries))
        if timings is not None and ran:
            findings.extend(_slow_steps(job_name, ran, timings, sampled))
        if redactor is not None:
            texts = [redactor.text(storable(str(s))) for s in symbols]
            findings = [redactor.divergence(f) for f in findings]
        folded, places = collapse(texts)
        return RunSummary(job_name, _variant(folded), self.code_version, findings,
                          _milestones(entries, folded, places) if milestones else ())

    def _step_point(self, entry: PathEvent) -> _Point:
        point = self._point(entry, ("step", entry.name, None))
        if len(self._steps) < MAX_KNOWN_POINTS:
            self._steps[entry.name] = point
        return point

    def _point(self, entry: PathEvent,
               key: tuple[str, str, str | None] | None = None) -> _Point:
        if key is None:
            key = (entry.kind, entry.name, entry.result if entry.kind == "decide" else None)
        found = self._known.get(key)
        if found is None:
            value = _decided(entry.result) if entry.kind == "decide" else None
            symbol = Symbol(entry.kind, entry.name, value)
            found = (symbol, storable(str(symbol)))
            if len(self._known) < MAX_KNOWN_POINTS:
                self._known[key] = found
        return found


def _masked(symbol: Symbol, fields: frozenset[str]) -> Symbol:
    if symbol.kind == "decide" and symbol.name in fields:
        return Symbol("decide", symbol.name, MASK)
    return symbol


def _variant(texts: Sequence[str]) -> str:
    """A run's path variant: its recorded points in the expectation language."""
    text = " ".join(texts)
    return text if len(text) <= MAX_VARIANT else text[: MAX_VARIANT - 2] + " …"


def _decided(result: str | None) -> str:
    """The value of a recorded decision as the language spells it (always text)."""
    return format_value(json.loads(result)) if result is not None else "null"


def _positions(entries: Sequence[PathEvent]) -> list[tuple[int, PathEvent]]:
    """Each recorded point with its index among the run's points."""
    return list(enumerate(entry for entry in entries if entry.kind in POINTS))


#: The attribute that flags a recorded point as a divergence, by kind of point.
_FLAGGED = {"effect": "repeated", "step": "rerun"}


def _flagged(entries: Sequence[PathEvent]) -> list[Divergence]:
    """Effects that may have run twice, and steps a replay found called otherwise."""
    found = []
    for position, entry in _positions(entries):
        flag = _FLAGGED.get(entry.kind)
        if flag is None or not entry.attrs or not entry.attrs.get(flag):
            continue
        if entry.kind == "effect":
            found.append(Divergence(
                DivergenceKind.DUPLICATE_EFFECT,
                f"effect {entry.name} (key {entry.attrs.get('key')!r}) ran again after an "
                "earlier attempt started it and never recorded its end: it may have happened "
                "twice (it is declared repeat_safe)",
                position, f"effect:{entry.name}",
            ))
        else:
            found.append(Divergence(
                DivergenceKind.NONDETERMINISTIC,
                f"step {entry.name} (call {entry.attrs[flag]} of that name) was called with "
                "other arguments than an earlier attempt recorded: it and the steps after "
                "it ran again instead of being replayed",
                position, entry.name,
            ))
    return found


def _milestones(entries: Sequence[PathEvent], folded: Sequence[str],
                places: Sequence[int] | None) -> tuple[tuple[str, int], ...]:
    """The milestones (``ctx.event`` names) a run reached, each once, with how many
    points of its variant (as `tokens` reads them back) came before it. *folded* is the
    variant's points, *places* each recorded point's place among them."""
    reached: dict[str, int] = {}
    points = 0
    before: list[int] = []
    for entry in entries:
        if entry.kind in POINTS:
            points += 1
        elif entry.kind == "event" and entry.name not in reached:
            if not before:  # how many points the variant holds up to each of its tokens
                for text in folded:
                    before.append((before[-1] if before else 0) + len(tokens(text)))
            if len(reached) == MAX_MILESTONES:
                break
            place = points - 1 if places is None else places[points - 1]
            reached[entry.name] = before[place] if points else 0
    return tuple(reached.items())


def _slow_steps(job_name: str, steps: Sequence[tuple[int, PathEvent]], timings: StepTimings,
                sampled: bool) -> list[Divergence]:
    """The steps that ran (each with its position) far slower than their history; when
    *sampled*, their durations join it."""
    judge = timings.observe_many if sampled else timings.judge
    limits = judge(job_name, [(e.name, e.duration or 0.0) for _, e in steps])
    if limits.count(None) == len(limits):  # the usual answer: nothing slow
        return []
    return [
        Divergence(
            DivergenceKind.SLOW,
            f"step {entry.name} took {entry.duration * 1000:.1f} ms, more than "
            f"{timings.factor:g} times its recent p99 of {p99 * 1000:.1f} ms",
            position, entry.name,
        )
        for (position, entry), p99 in zip(steps, limits, strict=True)
        if p99 is not None and entry.duration is not None
    ]
