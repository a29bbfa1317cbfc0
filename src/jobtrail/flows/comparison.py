"""`compare`: where a flow graph and an expectation disagree, shown by example.

Both are read as automata over the path language and run side by side: the graph as
sets of its nodes (a subset construction, see `jobtrail.flows.moves`), the expectation
as its own compiled `Automaton`, built afresh from the public `Expectation.ast`. The
search is breadth-first over words on a finite alphabet: every name and value either
side mentions, plus ``<other>``, which stands for every name (or decision value) neither
mentions. A word is an example when one side accepts it and the other does not.

Runs that end by ``raise`` are failures, not paths an expectation speaks for: they
never count as something the code produces. ``unknown`` nodes record nothing by
default, so examples are real paths of the code that is visible.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Final

from jobtrail.expect import Expectation, Symbol
from jobtrail.expect.automaton import DEAD, Automaton
from jobtrail.expect.nodes import KINDS, WILDCARD, atoms, quote_value
from jobtrail.flows.graph import FlowGraph
from jobtrail.flows.moves import Move, Unknown, moves_of

OTHER: Final = "\x00other"
"""The name or value standing for all those neither side mentions; shown as ``<other>``."""
_END_OK: Final = "\x00end"
_END_RAISE: Final = "\x00raise"


@dataclass(frozen=True, slots=True)
class Comparison:
    """How a flow graph and an expectation differ, by example, shortest first.

    `code_not_expected`: token sequences the code can produce (and end without raising)
    that the expectation rejects. `expected_not_in_code`: sequences the expectation
    accepts that the code cannot produce. `uncertain`: the graph has calls that were not
    followed. `truncated`: the search stopped at its bounds before it was done, so empty
    lists do not prove agreement.
    """

    code_not_expected: tuple[tuple[str, ...], ...]
    expected_not_in_code: tuple[tuple[str, ...], ...]
    uncertain: bool = False
    truncated: bool = False

    @property
    def agrees(self) -> bool:
        """True when no difference was found and the search was complete."""
        return not (self.code_not_expected or self.expected_not_in_code or self.truncated)


def compare(
    graph: FlowGraph,
    expectation: Expectation,
    *,
    limit: int = 5,
    unknown: Unknown = "nothing",
    max_states: int = 20_000,
) -> Comparison:
    """Examples, shortest first and at most `limit` of each, of what the code can do that
    `expectation` forbids and of what it expects that the code cannot do.

    `unknown` says how calls not followed read (see `jobtrail.flows.language`). Each pair
    of states is entered by at most `limit` words, and the search keeps at most
    `max_states` words in all; past that the result is `Comparison.truncated`.
    """
    code = _CodeAutomaton(graph, unknown == "anything")
    expected = Automaton(expectation.ast)
    letters = alphabet(graph, expectation)
    # Breadth-first over words, each pair of states entered by at most `limit` of them:
    # enough for `limit` distinct examples that diverge alike, and still a finite search.
    # An entry is (pair of states, index of the entry it extends, symbol added).
    start = (code.start, expected.start)
    entries: list[tuple[tuple[frozenset[str], int], int, Symbol | None]] = [(start, -1, None)]
    visits: Counter[tuple[frozenset[str], int]] = Counter({start: 1})
    produced: list[tuple[str, ...]] = []
    missing: list[tuple[str, ...]] = []
    truncated = False
    position = 0
    while position < len(entries) and not truncated:
        (states, state), current = entries[position][0], position
        position += 1
        code_ends, expected_ends = _END_OK in states, expected.accepting(state)
        if code_ends and not expected_ends and len(produced) < limit:
            produced.append(_word(entries, current))
        if expected_ends and not code_ends and len(missing) < limit:
            missing.append(_word(entries, current))
        if len(produced) >= limit and len(missing) >= limit:
            break
        for symbol in letters:
            pair = (code.move(states, symbol),
                    DEAD if state == DEAD else expected.move(state, symbol))
            # Only pairs that can still yield an example still wanted are worth a visit.
            if not pair[0] and (pair[1] == DEAD or len(missing) >= limit):
                continue
            if (pair[1] == DEAD and len(produced) >= limit) or visits[pair] >= limit:
                continue
            if len(entries) >= max_states:
                truncated = True
                break
            visits[pair] += 1
            entries.append((pair, current, symbol))
    return Comparison(tuple(produced), tuple(missing), graph.uncertain, truncated)


class _CodeAutomaton:
    """The graph as a subset automaton on symbols: a state is a set of graph nodes."""

    def __init__(self, graph: FlowGraph, anything: bool) -> None:
        self.moves = moves_of(graph)
        self.end = graph.end
        self.loops = {n for n, node in graph.nodes.items() if node.kind == "unknown" and anything}
        self.cache: dict[tuple[frozenset[str], Symbol], frozenset[str]] = {}
        self.start = self.closure({graph.start})

    def enter(self, move: Move) -> str:
        if move.dst != self.end:
            return move.dst
        return _END_RAISE if move.ending == "raise" else _END_OK

    def closure(self, states: set[str]) -> frozenset[str]:
        todo = list(states)
        while todo:
            for move in self.moves.get(todo.pop(), ()):
                target = self.enter(move)
                if move.kind is None and target not in states:
                    states.add(target)
                    todo.append(target)
        return frozenset(states)

    def move(self, states: frozenset[str], symbol: Symbol) -> frozenset[str]:
        found = self.cache.get((states, symbol))
        if found is None:
            targets = {node for node in states if node in self.loops}
            for node in states:
                for move in self.moves.get(node, ()):
                    if move.kind is not None and move.matches(symbol):
                        targets.add(self.enter(move))
            found = self.cache[(states, symbol)] = self.closure(targets)
        return found


def alphabet(graph: FlowGraph, expectation: Expectation) -> list[Symbol]:
    """One symbol for each class of symbols that both automata treat alike, sorted."""
    names: dict[str, set[str]] = {kind: {OTHER} for kind in KINDS}
    values: dict[str, set[str]] = {}
    any_name_values: set[str] = {OTHER}
    for move in (m for moves in moves_of(graph).values() for m in moves):
        if move.kind is not None and move.name is not None:
            names[move.kind].add(move.name)
            if move.guard is not None:
                values.setdefault(move.name, set()).update(move.guard.values)
    for atom in atoms(expectation.ast):
        if atom.name != WILDCARD:
            names[atom.kind].add(atom.name)
        if atom.value is not None:
            named = atom.name != WILDCARD
            (values.setdefault(atom.name, set()) if named else any_name_values).add(atom.value)
    found: list[Symbol] = []
    for kind in KINDS:
        for name in _other_last(names[kind]):
            if kind != "decide":
                found.append(Symbol(kind, name))
                continue
            for value in _other_last(values.get(name, set()) | any_name_values):
                found.append(Symbol(kind, name, value))
    return found


def _other_last(texts: set[str]) -> list[str]:
    return sorted(texts, key=lambda text: (text == OTHER, text))


def _word(
    entries: list[tuple[tuple[frozenset[str], int], int, Symbol | None]], index: int
) -> tuple[str, ...]:
    word: list[str] = []
    while index > 0:
        _, index, symbol = entries[index]
        if symbol is not None:
            word.append(_shown(symbol))
    return tuple(reversed(word))


def _shown(symbol: Symbol) -> str:
    if symbol.name == OTHER:
        head = f"{symbol.kind}:<other>"
        return head if symbol.value is None else f"{head}={_value(symbol.value)}"
    if symbol.value == OTHER:
        return f"decide:{symbol.name}=<other>"
    return str(symbol)


def _value(value: str) -> str:
    return "<other>" if value == OTHER else quote_value(value)
