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
from jobtrail.records import VARIANT_POINTS, Divergence, DivergenceKind, Status
from jobtrail.redaction import MASK
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

_Point = tuple[Symbol, str]


class Summarizer:
    """Makes the `RunSummary` of finished runs for one app: its step timings (for
    ``slow``), its code version, and the points it has already seen."""

    def __init__(self, timings: StepTimings | None, code_version: str | None) -> None:
        self.timings = timings
        self.code_version = code_version
        self._known: dict[tuple[str, str, str | None], _Point] = {}

    def __call__(self, attempt: Concluding, status: Status) -> RunSummary:
        """The pipeline's built-in stage: the summary of the run whose last attempt ended
        with *status*."""
        return self.summarize(attempt.context, completed=status is Status.SUCCEEDED,
                              expectation=attempt.expectation)

    def summarize(self, context: Context, *, completed: bool,
                  expectation: Expectation | None) -> RunSummary:
        """The summary of the run whose last attempt *context* is. *completed* is true
        when it ended as the code meant (succeeded or exited), false when it failed."""
        entries = context.recorded()
        if not entries and expectation is None:  # most jobs of a busy queue: nothing to do
            return RunSummary(context.job_name, "", self.code_version)
        redactor = context.redactor
        points: list[_Point] = []
        symbols: list[Symbol] = []
        if redactor is not None:  # judged masked, so no divergence quotes a sensitive value
            # Decided values are masked before the language quotes them: quoting escapes
            # again a value that may already be escaped (a repr inside JSON), past what
            # masking the quoted text could recognise.
            masked = redactor.entries([e for e in entries if e.kind in POINTS])
            symbols = [_masked(self._point(e)[0], redactor.fields) for e in masked]
        else:
            points = [self._point(e) for e in entries if e.kind in POINTS]
            if expectation is not None:
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
        if any(e.kind == "effect" and e.attrs and e.attrs.get("repeated") for e in entries):
            findings.extend(_repeated_effects(entries))
        if self.timings is not None:
            findings.extend(_slow_steps(context.job_name, entries, self.timings))
        if redactor is None:
            variant = _variant([text for _, text in points])
            return RunSummary(context.job_name, variant, self.code_version, findings)
        return RunSummary(
            context.job_name, _variant([redactor.text(storable(str(s))) for s in symbols]),
            self.code_version,
            [redactor.divergence(f) for f in findings],
        )

    def _point(self, entry: PathEvent) -> _Point:
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


def _repeated_effects(entries: Sequence[PathEvent]) -> list[Divergence]:
    return [
        Divergence(
            DivergenceKind.DUPLICATE_EFFECT,
            f"effect {entry.name} (key {entry.attrs.get('key')!r}) ran again after an "
            "earlier attempt started it and never recorded its end: it may have happened "
            "twice (it is declared repeat_safe)",
            position, f"effect:{entry.name}",
        )
        for position, entry in _positions(entries)
        if entry.kind == "effect" and entry.attrs and entry.attrs.get("repeated")
    ]


def _slow_steps(job_name: str, entries: Sequence[PathEvent], timings: StepTimings
                ) -> list[Divergence]:
    steps = [(position, entry) for position, entry in _positions(entries)
             if entry.kind == "step" and entry.duration is not None and not entry.attrs]
    if not steps:
        return []
    limits = timings.observe_many(job_name, [(e.name, e.duration or 0.0) for _, e in steps])
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
