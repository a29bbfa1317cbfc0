"""`Expectation`: a parsed, compiled expectation, and `parse` to make one from text.

Parsing and compiling happen once, when a job is defined; `accepts` and `check`
then run against the cached automaton for every finished run.
"""

from __future__ import annotations

from collections.abc import Sequence

from jobtrail.expect.automaton import Automaton
from jobtrail.expect.conformance import check
from jobtrail.expect.grammar import parse_node, render
from jobtrail.expect.nodes import WILDCARD, Atom, Node, Symbol, atoms
from jobtrail.records import Divergence


class Expectation:
    """The paths a job is expected to take, written in the expectation language.

    `text` is the canonical rendering, `ast` the normal-form tree. Two expectations
    are equal when their trees are; ``str()`` is `text`.
    """

    __slots__ = ("_automaton", "ast", "text")

    def __init__(self, ast: Node) -> None:
        self.ast = ast
        self.text = render(ast)
        self._automaton = Automaton(ast)

    def accepts(self, symbols: Sequence[Symbol]) -> bool:
        """True when `symbols` is, from first to last, one of the expected paths."""
        automaton = self._automaton
        state, position = automaton.walk(symbols)
        return position == len(symbols) and automaton.accepting(state)

    def check(self, symbols: Sequence[Symbol], *, completed: bool) -> list[Divergence]:
        """How `symbols` diverge from the expectation; ``[]`` when the run conforms.

        `completed` is true for a run that ended normally (succeeded or exited by an
        ``exit:``), false for one that stopped for good (dead or orphaned). A run that
        stopped for good gets one ``incomplete`` divergence unless it had already done
        everything expected. See `jobtrail.expect.conformance` for the algorithm.
        """
        return check(self._automaton, symbols, completed=completed)

    def alphabet(self) -> frozenset[str]:
        """The patterns the expectation mentions, in the language: ``{"load", "effect:charge"}``."""
        return frozenset(str(atom) for atom in self._automaton.patterns)

    def names(self, kind: str = "step") -> tuple[str, ...]:
        """The names of `kind` it mentions, in first-appearance order, without wildcards.

        With the default kind these are the step names, the stages of a funnel.
        """
        seen = (a.name for a in atoms(self.ast) if a.kind == kind and a.name != WILDCARD)
        return tuple(dict.fromkeys(seen))

    def points(self) -> tuple[str, ...]:
        """The points it mentions in first-appearance order, as a funnel counts them: steps
        and effects in the language (``load``, ``effect:charge``), decisions without their
        value (``decide:is_paid``); no exits, no wildcards."""
        seen = (
            str(Atom(a.kind, a.name)) for a in atoms(self.ast)
            if a.kind != "exit" and a.name != WILDCARD
        )
        return tuple(dict.fromkeys(seen))

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Expectation({self.text!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Expectation):
            return NotImplemented
        return self.ast == other.ast

    def __hash__(self) -> int:
        return hash(self.ast)


def parse(text: str) -> Expectation:
    """Parse and compile an expectation, or raise `ExpectationError` naming the column."""
    return Expectation(parse_node(text))
