"""The three-way check edge by edge: which edges of a flow graph recorded runs took, and
how many; which edges lead only to paths ``expect=`` forbids; where recorded runs left
the code.

- `trace` follows one run's points through the graph, as `jobtrail.flows.accepts` reads
  them (an ``unknown`` node may record anything), and keeps one way through: the first
  in graph order. It says how many points the code explains and which edges they took.
- `edge_use` counts, over many runs, the runs that took each edge (a run once per edge,
  however often it went round a loop), and groups the runs the code cannot explain by
  where they left it: after which point, and with which point the code cannot produce
  there (or ending where the code cannot end). A run that stopped for good partway is
  explained when its points are how a code path begins, as `jobtrail.flows.coverage`
  reads it.
- `forbidden_edges` reads the code against the expectation alone: an edge is forbidden
  when some path of the code through it ends without raising, and every such path is
  one the expectation rejects. Unknown calls record nothing there, as in `compare`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from jobtrail.expect import Expectation, Symbol
from jobtrail.expect.automaton import DEAD, Automaton
from jobtrail.flows.comparison import alphabet
from jobtrail.flows.coverage import symbols
from jobtrail.flows.graph import FlowGraph
from jobtrail.flows.moves import Move, moves_of

__all__ = ["Departure", "EdgeUse", "Trace", "edge_use", "forbidden_edges", "trace"]

MAX_PRODUCT: Final = 50_000
"""The most (node, expectation state) pairs `forbidden_edges` visits before it gives up."""

_Moves = dict[str, list[tuple[int, Move]]]
#: How a node of a layer was reached: the node before, the edge taken (``None`` when an
#: unknown node recorded the point itself), and whether that node is in the same layer.
_Back = tuple[str | None, int | None, bool]
#: A node of the graph with a state of the expectation's automaton, and edges between them.
_State = tuple[str, int]
_Leaving = dict[_State, list[tuple[int, _State]]]


@dataclass(frozen=True, slots=True)
class Trace:
    """One run followed through a graph: `edges` the indexes (in `FlowGraph.edges`) of the
    edges it took; `explained` how many of its points the code explains, in order;
    `complete` whether all of them were and the code can end there; `after` the node whose
    point was the last explained (``start`` when none was)."""

    edges: frozenset[int]
    explained: int
    complete: bool
    after: str


@dataclass(frozen=True, slots=True)
class Departure:
    """Recorded runs the code cannot explain, by where they left it: after the point of
    node `after`, they recorded `point`, which the code cannot produce there (``None``:
    they ended there, where the code cannot end)."""

    after: str
    point: str | None
    runs: int


@dataclass(frozen=True, slots=True)
class EdgeUse:
    """What recorded runs did on one graph. `runs[i]` is how many took edge ``i``;
    `explained` runs the code explains (`stopped` of them only as how a path begins);
    `unexplained` the others, grouped in `departures`; `unreadable` runs whose stored
    path cannot be read back (cut short, or holding a name the path language cannot
    write)."""

    runs: tuple[int, ...]
    departures: tuple[Departure, ...]
    explained: int
    stopped: int
    unexplained: int
    unreadable: int


def indexed_moves(graph: FlowGraph) -> _Moves:
    """Every node's outgoing edges as (index in `FlowGraph.edges`, move), in graph order."""
    moves = moves_of(graph)
    taken: Counter[str] = Counter()
    found: _Moves = {node: [] for node in graph.nodes}
    for index, edge in enumerate(graph.edges):
        found[edge.src].append((index, moves[edge.src][taken[edge.src]]))
        taken[edge.src] += 1
    return found


def trace(graph: FlowGraph, points: Sequence[Symbol], moves: _Moves | None = None) -> Trace:
    """How the run that recorded *points* went through *graph* (*moves*: `indexed_moves`
    of it, when already known)."""
    moves = indexed_moves(graph) if moves is None else moves
    unknown = {node for node, n in graph.nodes.items() if n.kind == "unknown"}
    layers = [_closure(moves, {graph.start: (None, None, False)})]
    for symbol in points:
        following: dict[str, _Back] = {}
        for node in layers[-1]:
            for index, move in moves[node]:
                if move.kind is not None and move.matches(symbol) and move.dst not in following:
                    following[move.dst] = (node, index, False)
        for node in layers[-1]:
            if node in unknown and node not in following:
                following[node] = (node, None, False)  # the unknown call recorded it
        if not following:
            break
        layers.append(_closure(moves, following))
    explained = len(layers) - 1
    if explained == len(points) and graph.end in layers[-1]:
        edges, after = _walk_back(layers, explained, graph.end)
        return Trace(frozenset(edges), explained, True, after)
    # Where the last explained point led is not known when several edges record it: the
    # edges are those up to the node that recorded it.
    recorder, _, _ = layers[-1][next(iter(layers[-1]))]
    if recorder is None:  # not even the first point
        return Trace(frozenset(), 0, False, graph.start)
    edges, _ = _walk_back(layers, explained - 1, recorder)
    return Trace(frozenset(edges), explained, False, recorder)


def _closure(moves: _Moves, layer: dict[str, _Back]) -> dict[str, _Back]:
    """*layer* with the nodes its nodes reach by edges that record nothing, in graph
    order, breadth first."""
    todo = list(layer)
    for node in todo:
        for index, move in moves[node]:
            if move.kind is None and move.dst not in layer:
                layer[move.dst] = (node, index, True)
                todo.append(move.dst)
    return layer


def _walk_back(layers: list[dict[str, _Back]], depth: int, node: str) -> tuple[set[int], str]:
    """The edges on the way to *node* in layer *depth*, and the node that recorded the
    last point on it (the start when none did)."""
    edges: set[int] = set()
    after: str | None = None
    current: str | None = node
    while current is not None:
        before, index, same = layers[depth][current]
        if index is not None:
            edges.add(index)
        if not same and before is not None:
            depth -= 1
            after = before if after is None else after
        current = before
    return edges, after if after is not None else next(iter(layers[0]))


def edge_use(graph: FlowGraph, runs: Iterable[tuple[str, bool]]) -> EdgeUse:
    """What *runs* — (stored variant, whether the run stopped for good partway) — did on
    *graph*."""
    moves = indexed_moves(graph)
    taken = [0] * len(graph.edges)
    departures: Counter[tuple[str, str | None]] = Counter()
    explained = stopped = unexplained = unreadable = 0
    for (variant, partway), count in Counter(runs).items():
        points = symbols(variant)
        if points is None:
            unreadable += count
            continue
        found = trace(graph, points, moves)
        for index in found.edges:
            taken[index] += count
        if found.complete:
            explained += count
        elif partway and found.explained == len(points):
            explained += count
            stopped += count
        else:
            unexplained += count
            point = str(points[found.explained]) if found.explained < len(points) else None
            departures[(found.after, point)] += count
    return EdgeUse(
        tuple(taken),
        tuple(Departure(after, point, n) for (after, point), n in departures.items()),
        explained, stopped, unexplained, unreadable,
    )


def forbidden_edges(graph: FlowGraph, expectation: Expectation) -> frozenset[int] | None:
    """The indexes of the edges only on paths that *expectation* rejects (see the module
    docstring); ``None`` when the search passed `MAX_PRODUCT` states unfinished."""
    moves = indexed_moves(graph)
    automaton = Automaton(expectation.ast)
    letters = alphabet(graph, expectation)
    fits = {index: [s for s in letters if move.matches(s)]
            for outgoing in moves.values() for index, move in outgoing if move.kind is not None}
    start: _State = (graph.start, automaton.start)
    leaving: _Leaving = {}
    seen, todo = {start}, [start]
    while todo:
        if len(seen) > MAX_PRODUCT:
            return None
        state = todo.pop()
        node, position = state
        for index, move in moves[node]:
            if move.dst == graph.end and move.ending == "raise":
                continue  # a failure: not a path the expectation speaks for
            nexts = {position} if move.kind is None else {
                automaton.move(position, symbol) for symbol in fits[index]}
            for following in nexts - {DEAD}:
                target = (move.dst, following)
                leaving.setdefault(state, []).append((index, target))
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
    accepted = {s for s in seen if s[0] == graph.end and automaton.accepting(s[1])}
    allowed = _edges_into(leaving, accepted)
    ending = _edges_into(_plain(graph, moves), {(graph.end, 0)})
    return frozenset(ending - allowed)


def _plain(graph: FlowGraph, moves: _Moves) -> _Leaving:
    """The graph alone as states (node, 0) reached from its start, with their edges but
    those that end the job by raising."""
    leaving: _Leaving = {}
    seen, todo = {graph.start}, [graph.start]
    while todo:
        node = todo.pop()
        leaving[(node, 0)] = [(index, (move.dst, 0)) for index, move in moves[node]
                              if not (move.dst == graph.end and move.ending == "raise")]
        for _, (target, _) in leaving[(node, 0)]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return leaving


def _edges_into(leaving: _Leaving, goals: set[_State]) -> set[int]:
    """The edges of *leaving* (from states reached from the start) that lie on a way to
    one of *goals*."""
    entering: dict[_State, list[tuple[int, _State]]] = {}
    for source, targets in leaving.items():
        for index, target in targets:
            entering.setdefault(target, []).append((index, source))
    useful, todo = set(goals), list(goals)
    edges: set[int] = set()
    while todo:
        for index, source in entering.get(todo.pop(), ()):
            edges.add(index)
            if source not in useful:
                useful.add(source)
                todo.append(source)
    return edges
