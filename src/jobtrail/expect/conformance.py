"""How an observed run diverges from its expectation, as a short list of findings.

A run that conforms costs one walk over the cached automaton and returns ``[]``.
Otherwise the walk goes on from the first symbol that does not fit, keeping the
set of states the expectation could be in, and decides each misfit symbol ``x``
at position ``i`` in this order (docs/expectations.md tells the same with examples):

1. ``x`` fits: move on.
2. ``x`` is an exit that does not fit: ``unexpected_exit``; an exit ends the run, so
   the walk stops here and nothing is said about the end.
3. ``x`` was announced earlier as coming late (see 4): it is consumed silently.
4. Some shortest path ``P`` of patterns leads to a place where ``x`` fits. If a
   symbol of ``P`` is observed later in the run, ``x`` is ``out_of_order``: it came
   before those symbols; their later occurrences are remembered for step 3.
   Otherwise the symbols of ``P`` are ``missing`` before ``x``. Either way the walk
   resynchronises by following ``P`` and then ``x``.
5. ``x`` fits nowhere ahead: ``unexpected``; the walk skips it and stays put.

At the end, a walk that is not in an accepting state reports the shortest
completion: as ``missing`` for a run that completed, as ``incomplete`` for a run
that stopped for good (dead or orphaned). A run that stopped for good after doing
everything its expectation asks has no divergence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from jobtrail.expect.automaton import DEAD, Automaton
from jobtrail.expect.nodes import Symbol
from jobtrail.records import Divergence, DivergenceKind

MISSING: Final = DivergenceKind.MISSING
UNEXPECTED: Final = DivergenceKind.UNEXPECTED
OUT_OF_ORDER: Final = DivergenceKind.OUT_OF_ORDER
UNEXPECTED_EXIT: Final = DivergenceKind.UNEXPECTED_EXIT
INCOMPLETE: Final = DivergenceKind.INCOMPLETE


def check(automaton: Automaton, symbols: Sequence[Symbol], *, completed: bool) -> list[Divergence]:
    """The divergences of `symbols` from `automaton`; ``[]`` exactly when the run conforms.

    `completed` is true for a run that ended normally (succeeded, or exited by an
    ``exit:``) and false for one that stopped for good without ending.
    """
    state, position = automaton.walk(symbols)
    if position == len(symbols):
        return _ending(automaton, state, position, completed=completed)
    return _Walk(automaton, symbols).run(state, position, completed=completed)


class _Walk:
    """The slow path: walks on past misfits, collecting what it finds."""

    def __init__(self, automaton: Automaton, symbols: Sequence[Symbol]) -> None:
        self.automaton = automaton
        self.symbols = symbols
        self.found: list[Divergence] = []
        self.late: list[int] = []

    def run(self, state: int, start: int, *, completed: bool) -> list[Divergence]:
        for position in range(start, len(self.symbols)):
            symbol = self.symbols[position]
            following = self.automaton.move(state, symbol)
            if following != DEAD:
                state = following
            elif symbol.kind == "exit":
                self.found.append(self._unexpected(UNEXPECTED_EXIT, state, position))
                return self.found
            elif not self._consume_late(symbol):
                state = self._resynchronise(state, position)
        self.found.extend(_ending(self.automaton, state, len(self.symbols), completed=completed))
        return self.found

    def _consume_late(self, symbol: Symbol) -> bool:
        patterns = self.automaton.patterns
        for index, pattern in enumerate(self.late):
            if patterns[pattern].matches(symbol):
                del self.late[index]
                return True
        return False

    def _resynchronise(self, state: int, position: int) -> int:
        automaton, symbol = self.automaton, self.symbols[position]

        def fits(candidate: int) -> bool:
            return automaton.move(candidate, symbol) != DEAD

        found = automaton.shortest(state, fits, exits=False)
        if found is None:
            self.found.append(self._unexpected(UNEXPECTED, state, position))
            return state
        path, reached = found
        patterns = automaton.patterns
        rest = self.symbols[position + 1 :]
        later = [p for p in path if any(patterns[p].matches(seen) for seen in rest)]
        shown = str(symbol)
        if later:
            self.late.extend(later)
            expected = tuple(dict.fromkeys(str(patterns[p]) for p in later))
            message = (
                f"{_describe(shown)} at position {position} came before "
                f"{_listing(expected)}, which should precede it"
            )
            self.found.append(Divergence(OUT_OF_ORDER, message, position, shown, expected))
        else:
            expected = tuple(str(patterns[p]) for p in path)
            message = f"missing {_listing(expected)} before {shown} at position {position}"
            self.found.append(Divergence(MISSING, message, position, shown, expected))
        return automaton.move(reached, symbol)

    def _unexpected(self, kind: DivergenceKind, state: int, position: int) -> Divergence:
        automaton, shown = self.automaton, str(self.symbols[position])
        expected = tuple(sorted(str(automaton.patterns[p]) for p in automaton.allowed(state)))
        choices = [_describe(text) for text in expected]
        if automaton.accepting(state):
            choices.append("the end of the run")
        wanted = choices[0] if len(choices) == 1 else "one of " + ", ".join(choices)
        message = f"unexpected {_describe(shown)} at position {position}; expected {wanted}"
        return Divergence(kind, message, position, shown, expected)


def _ending(automaton: Automaton, state: int, end: int, *, completed: bool) -> list[Divergence]:
    """What the end of the walk says: nothing when it may end there, else the completion."""
    if automaton.accepting(state):
        return []
    patterns = automaton.patterns
    found = automaton.shortest(state, automaton.accepting, exits=True)
    if found is not None:
        expected = tuple(str(patterns[p]) for p in found[0])
        listing = _listing(expected)
    else:
        # Past the search bounds: name what could come next instead of a whole path.
        expected = tuple(sorted(str(patterns[p]) for p in automaton.allowed(state)))
        listing = "one of " + _listing(expected)
    if completed:
        message = f"missing {listing} at the end (position {end})"
        return [Divergence(MISSING, message, end, None, expected)]
    message = f"the run stopped at position {end} before {listing}"
    return [Divergence(INCOMPLETE, message, end, None, expected)]


def _describe(text: str) -> str:
    """Symbol text for a message: bare step names get the word "step" in front."""
    return text if ":" in text else f"step {text}"


def _listing(texts: Sequence[str]) -> str:
    return ", ".join(_describe(text) for text in texts)
