"""A flow graph read as an automaton over the path language: its code paths, the runs it
accepts.

How an edge reads as a symbol, and how a run ends, is in `jobtrail.flows.moves`; the
comparison with an expectation is in `jobtrail.flows.comparison` (`compare` and
`Comparison` are re-exported here).

``unknown`` nodes (calls not followed) record something the graph cannot know. They are
read in one of two ways, chosen by the `unknown` argument of `accepts` and `compare`:

- ``"anything"`` (the default of `accepts`): any symbols, none included. No run the code
  can produce is rejected; a run accepted only by letting an unknown node stand for some
  of its symbols (or none) is reported as `Acceptance.uncertain`.
- ``"nothing"`` (the default of `compare`, and what `code_paths` lists): no symbols, so the
  examples are real paths of the code that is visible. `Comparison.uncertain` and
  `CodePath.uncertain` say when an unknown node was passed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from jobtrail.expect import Symbol
from jobtrail.flows.comparison import Comparison, compare
from jobtrail.flows.graph import FlowGraph
from jobtrail.flows.moves import Move, Unknown, moves_of

__all__ = [
    "Acceptance", "CodePath", "CodePathList", "Comparison", "accepts", "code_paths", "compare",
]

WORK_LIMIT: Final = 200_000
"""Edges `code_paths` follows at most before it stops and says the list is truncated."""


@dataclass(frozen=True, slots=True)
class CodePath:
    """One way through the code: its tokens in the path language and how it ends.

    `ends` is ``"return"``, ``"exit"``, ``"raise"`` or ``"end"`` (fell off the end of the
    function). `uncertain` is true when every way to these tokens passes a call that was
    not followed, whose own points are missing from `tokens`.
    """

    tokens: tuple[str, ...]
    ends: str
    uncertain: bool = False

    @property
    def text(self) -> str:
        """The tokens as one expectation-language sequence (``load decide:x=true``)."""
        return " ".join(self.tokens)


class CodePathList(list[CodePath]):
    """The list `code_paths` returns; `truncated` is true when some paths were left out."""

    __slots__ = ("truncated",)

    def __init__(self, items: Sequence[CodePath], truncated: bool) -> None:
        super().__init__(items)
        self.truncated = truncated


@dataclass(frozen=True, slots=True)
class Acceptance:
    """The answer of `accepts`; true exactly when `accepted`.

    `uncertain` is true when the run was accepted only by letting an ``unknown`` node
    stand for some of its symbols (or for none of them).
    """

    accepted: bool
    uncertain: bool = False

    def __bool__(self) -> bool:
        return self.accepted


def code_paths(
    graph: FlowGraph, *, max_paths: int = 1000, loop_bound: int = 1
) -> CodePathList:
    """The distinct token sequences from start to end, shortest first.

    A node appears on one path at most ``1 + loop_bound`` times, so each loop is taken at
    most `loop_bound` extra times. Events, enqueues, returns, raises and unknown calls add
    no token. When more than `max_paths` distinct paths exist, or the search follows
    `WORK_LIMIT` edges, the list is cut and `CodePathList.truncated` is set; which paths
    are kept then follows the graph's edge order, so it is deterministic too.
    """
    moves = moves_of(graph)
    unknown = {node for node, n in graph.nodes.items() if n.kind == "unknown"}
    found: dict[tuple[tuple[str, ...], str], bool] = {}
    tokens: list[str] = []
    visits: Counter[str] = Counter({graph.start: 1})
    unknowns, work, truncated = 0, 0, False
    stack: list[_Frame] = [(graph.start, _options(moves[graph.start]), False)]
    while stack:
        node, options, added = stack[-1]
        option = next(options, None)
        if option is None:
            stack.pop()
            visits[node] -= 1
            unknowns -= node in unknown
            if added:
                tokens.pop()
            continue
        work += 1
        if work > WORK_LIMIT:
            truncated = True
            break
        move, token = option
        if move.dst == graph.end:
            key = ((*tokens, token) if token else tuple(tokens), move.ending)
            if key not in found and len(found) == max_paths:
                truncated = True
                break
            found[key] = found.get(key, True) and unknowns > 0
            continue
        if visits[move.dst] > loop_bound:
            continue
        visits[move.dst] += 1
        unknowns += move.dst in unknown
        if token:
            tokens.append(token)
        stack.append((move.dst, _options(moves[move.dst]), bool(token)))
    ordered = sorted(found, key=lambda key: (len(key[0]), key[0], key[1]))
    return CodePathList([CodePath(t, ends, found[(t, ends)]) for t, ends in ordered], truncated)


_Frame = tuple[str, Iterator[tuple[Move, str | None]], bool]
"""A node on the current path, the options left there, and whether it added a token."""


def _options(moves: list[Move]) -> Iterator[tuple[Move, str | None]]:
    for move in moves:
        for token in move.tokens():
            yield move, token


def accepts(
    graph: FlowGraph,
    symbols: Sequence[Symbol],
    *,
    complete: bool = True,
    unknown: Unknown = "anything",
) -> Acceptance:
    """Whether the code can produce the observed run `symbols` (loops taken any number of
    times). With `complete` false, whether the run is how some path of the code begins
    (a run that failed or stopped partway). See the module docstring for `unknown`."""
    moves = moves_of(graph)
    unknown_nodes = {node for node, n in graph.nodes.items() if n.kind == "unknown"}
    anything = unknown == "anything"

    def closure(states: set[tuple[str, bool]]) -> set[tuple[str, bool]]:
        todo = list(states)
        while todo:
            node, flagged = todo.pop()
            for move in moves.get(node, ()):
                if move.kind is None:
                    state = (move.dst, flagged or move.dst in unknown_nodes)
                    if state not in states:
                        states.add(state)
                        todo.append(state)
        return states

    current = closure({(graph.start, False)})
    for symbol in symbols:
        following: set[tuple[str, bool]] = set()
        for node, flagged in current:
            if anything and node in unknown_nodes:
                following.add((node, True))  # the unknown call recorded this symbol
            for move in moves.get(node, ()):
                if move.kind is not None and move.matches(symbol):
                    following.add((move.dst, flagged or move.dst in unknown_nodes))
        current = closure(following)
        if not current:
            return Acceptance(False)
    flags = {flagged for node, flagged in current if not complete or node == graph.end}
    return Acceptance(bool(flags), bool(flags) and False not in flags)
