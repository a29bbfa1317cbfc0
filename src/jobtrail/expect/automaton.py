"""An expectation compiled once into an automaton that checks runs in a few dict lookups.

The tree becomes a Thompson NFA: one small fragment per node, joined by epsilon
moves. Every state's epsilon closure is computed once, up front. Checking a run
then works on *sets* of NFA states (the subset construction), built lazily: each
set reached is interned as a small integer, and the move from a set on a concrete
observed `Symbol` is computed the first time it is needed and cached in a dict
keyed by that symbol. A conforming run of ten symbols is ten dict lookups.

Closures keep only the states that matter for what comes next, the ones with a
symbol edge and the final state, so that two sets differing only in epsilon-only
states share one cached row.

The same sets can also be moved on a *pattern* (an `Atom`) rather than a symbol;
`shortest` searches those moves breadth-first to say what a divergent run should
have done. Both caches only grow with the sets and symbols actually seen; a row
of concrete symbols is bounded because decision values are open-ended.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Final

from jobtrail.expect.nodes import Alt, Atom, Node, Repeat, Seq, Symbol, atoms

DEAD: Final = -1
"""The state reached when the run can no longer conform."""

ROW_LIMIT: Final = 4096
"""Cached moves per state before its row is cleared; bounds memory for open-ended values."""

SEARCH_DEPTH: Final = 50
"""The longest path of patterns `shortest` looks for."""

SEARCH_STATES: Final = 10_000
"""The most state sets `shortest` visits before giving up."""


class _Builder:
    """Thompson's construction: each node becomes a fragment (entry state, exit state)."""

    def __init__(self, patterns: dict[Atom, int]) -> None:
        self.patterns = patterns
        self.edges: list[list[tuple[int, int]]] = []
        self.eps: list[list[int]] = []

    def state(self) -> int:
        self.edges.append([])
        self.eps.append([])
        return len(self.edges) - 1

    def build(self, node: Node) -> tuple[int, int]:
        if isinstance(node, Atom):
            start, end = self.state(), self.state()
            self.edges[start].append((self.patterns[node], end))
            return start, end
        if isinstance(node, Seq):
            start, end = self.build(node.items[0])
            for item in node.items[1:]:
                entry, end_next = self.build(item)
                self.eps[end].append(entry)
                end = end_next
            return start, end
        start, end = self.state(), self.state()
        if isinstance(node, Alt):
            for option in node.options:
                entry, exit_ = self.build(option)
                self.eps[start].append(entry)
                self.eps[exit_].append(end)
            return start, end
        return self.repeat(node, start, end)

    def repeat(self, node: Repeat, start: int, end: int) -> tuple[int, int]:
        entry, exit_ = self.build(node.node)
        self.eps[start].append(entry)
        self.eps[exit_].append(end)
        if node.op in "?*":
            self.eps[start].append(end)
        if node.op in "*+":
            self.eps[exit_].append(entry)
        return start, end


class Automaton:
    """A compiled expectation: `start`, `move`, `accepting`, and searches for explanations.

    States handed out are small integers naming interned sets of NFA states; `DEAD`
    is the state of a run that can no longer conform. Safe to share between
    threads: the caches only ever gain entries, under a lock.
    """

    def __init__(self, node: Node) -> None:
        index: dict[Atom, int] = {}
        for atom in atoms(node):
            index.setdefault(atom, len(index))
        builder = _Builder(index)
        entry, self._final = builder.build(node)
        self.patterns: tuple[Atom, ...] = tuple(index)
        self._edges = [tuple(edges) for edges in builder.edges]
        self._closure = self._closures(builder.eps)
        self._lock = threading.Lock()
        self._sets: list[frozenset[int]] = []
        self._ids: dict[frozenset[int], int] = {}
        self._accepting: list[bool] = []
        self._moves: list[dict[Symbol, int]] = []
        self._pattern_moves: list[dict[int, int]] = []
        self.start = self._intern(self._closure[entry])

    def _closures(self, eps: list[list[int]]) -> list[frozenset[int]]:
        """For each state, the states it reaches by epsilon moves that matter later."""
        closures: list[frozenset[int]] = []
        for origin in range(len(eps)):
            seen, todo = {origin}, [origin]
            while todo:
                for target in eps[todo.pop()]:
                    if target not in seen:
                        seen.add(target)
                        todo.append(target)
            closures.append(frozenset(s for s in seen if self._edges[s] or s == self._final))
        return closures

    def _intern(self, states: frozenset[int]) -> int:
        found = self._ids.get(states)
        if found is not None:
            return found
        with self._lock:
            found = self._ids.get(states)
            if found is None:
                found = len(self._sets)
                self._sets.append(states)
                self._accepting.append(self._final in states)
                self._moves.append({})
                self._pattern_moves.append({})
                # Published last, so a reader that finds the id also finds its rows.
                self._ids[states] = found
        return found

    def _follow(self, state: int, take: Callable[[int], bool]) -> int:
        """The set reached from `state` along the edges whose pattern index `take` accepts."""
        reached: set[int] = set()
        for nfa_state in self._sets[state]:
            for pattern, target in self._edges[nfa_state]:
                if take(pattern):
                    reached |= self._closure[target]
        return self._intern(frozenset(reached)) if reached else DEAD

    def move(self, state: int, symbol: Symbol) -> int:
        """The state after observing `symbol` in `state` (`DEAD` if it does not fit)."""
        row = self._moves[state]
        found = row.get(symbol)
        if found is None:
            found = self._follow(state, lambda p: self.patterns[p].matches(symbol))
            if len(row) >= ROW_LIMIT:
                row.clear()
            row[symbol] = found
        return found

    def move_pattern(self, state: int, pattern: int) -> int:
        """The state after one symbol written exactly as `patterns[pattern]`."""
        row = self._pattern_moves[state]
        found = row.get(pattern)
        if found is None:
            found = row[pattern] = self._follow(state, lambda p: p == pattern)
        return found

    def walk(self, symbols: Sequence[Symbol]) -> tuple[int, int]:
        """Move from the start over `symbols`: the last live state and how many fitted."""
        state, moves = self.start, self._moves
        for position, symbol in enumerate(symbols):
            found = moves[state].get(symbol)
            if found is None:
                found = self.move(state, symbol)
            if found == DEAD:
                return state, position
            state = found
        return state, len(symbols)

    def accepting(self, state: int) -> bool:
        """True when a run may end in `state`."""
        return state != DEAD and self._accepting[state]

    def allowed(self, state: int) -> list[int]:
        """The pattern indices that may come next in `state`, in first-appearance order."""
        if state == DEAD:
            return []
        return sorted({p for s in self._sets[state] for p, _ in self._edges[s]})

    def shortest(
        self, state: int, goal: Callable[[int], bool], *, exits: bool
    ) -> tuple[tuple[int, ...], int] | None:
        """The shortest pattern path from `state` to a state where `goal` holds.

        Breadth-first, trying patterns in first-appearance order, so the answer is
        deterministic. Exit patterns are used only when `exits` is true. Returns the
        path and the state it reaches, or ``None`` when no path is found within
        `SEARCH_DEPTH` patterns and `SEARCH_STATES` visited sets.
        """
        if goal(state):
            return (), state
        parents: dict[int, tuple[int, int]] = {state: (DEAD, DEAD)}
        frontier = [state]
        for _ in range(SEARCH_DEPTH):
            following: list[int] = []
            for current in frontier:
                for pattern in self.allowed(current):
                    if not exits and self.patterns[pattern].kind == "exit":
                        continue
                    target = self.move_pattern(current, pattern)
                    if target in parents:
                        continue
                    parents[target] = (current, pattern)
                    if goal(target):
                        return self._path(parents, target), target
                    following.append(target)
            frontier = following
            if not frontier or len(parents) > SEARCH_STATES:
                break
        return None

    @staticmethod
    def _path(parents: dict[int, tuple[int, int]], target: int) -> tuple[int, ...]:
        path: list[int] = []
        parent, pattern = parents[target]
        while pattern != DEAD:
            path.append(pattern)
            parent, pattern = parents[parent]
        return tuple(reversed(path))
