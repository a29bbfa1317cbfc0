"""A small layered layout of a directed graph, top to bottom, for the flow drawings.

The classic steps (Sugiyama's), each kept simple since flow graphs are small:

1. edges that close a cycle (found by a depth-first search in the given node order) are
   set aside as *back edges*, drawn beside the nodes;
2. each node's rank (its row) is the longest way to it over the other edges;
3. an edge that spans several rows passes through a point on each row between;
4. each row is ordered by the mean place of its neighbours (barycentres), sweeping down
   and up, keeping the order with the fewest crossings;
5. each row is placed left to right near the mean x of its neighbours, never closer than
   a gap, and rows are stacked with room between them.

Coordinates are SVG's: x to the right, y down; a node's (x, y) is its centre.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["Layout", "Placed", "Route", "layout"]

#: Space between two rows, between two neighbours of a row, around the drawing.
ROW_GAP: Final = 72.0
NODE_GAP: Final = 28.0
MARGIN: Final = 16.0
#: The width a row reserves for an edge passing through it.
PASSING: Final = 14.0
#: How far back edges run beside the nodes they pass, each one further out.
BACK_GAP: Final = 22.0
#: The space between the points where edges leave or enter one node.
PORT_GAP: Final = 12.0
#: How far along its first stretch an edge's label goes; among several leaving one node,
#: from the first to the last of them.
LABEL_AT: Final = 0.6
LABEL_FROM, LABEL_SPAN = 0.3, 0.5
#: Rounds of ordering sweeps and of placement sweeps; past `LARGE` items in its rows
#: (nodes and points of passing edges), a drawing gets `FEW_ROUNDS` of each.
ORDER_ROUNDS: Final = 8
PLACE_ROUNDS: Final = 4
LARGE: Final = 400
FEW_ROUNDS: Final = 2


@dataclass(frozen=True, slots=True)
class Placed:
    """A node's centre and size."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Route:
    """How an edge is drawn: `points` from its source to its target; `back` for an edge
    that closes a cycle, drawn as straight segments around the rows it spans (the others
    as curves through their points); `label` where its label goes."""

    points: tuple[tuple[float, float], ...]
    back: bool
    label: tuple[float, float]


@dataclass(frozen=True, slots=True)
class Layout:
    """Where every node is, how every edge runs (in the order given), and the size of the
    whole drawing."""

    nodes: dict[str, Placed]
    routes: tuple[Route, ...]
    width: float
    height: float


def layout(sizes: Mapping[str, tuple[float, float]],
           edges: Sequence[tuple[str, str]]) -> Layout:
    """The layout of the nodes of *sizes* (id → (width, height), in the order that breaks
    ties: the first is the top) joined by *edges* (source, target)."""
    order = list(sizes)
    back = _back_edges(order, edges)
    rank = _ranks(order, edges, back)
    rows, chains = _rows(order, edges, back, rank)
    ups, downs = _neighbours(chains)
    large = sum(len(row) for row in rows) > LARGE
    rows = _ordered(rows, ups, downs, FEW_ROUNDS if large else ORDER_ROUNDS)
    width_of = {item: sizes[item][0] if item in sizes else PASSING
                for row in rows for item in row}
    x = _placed(rows, width_of, ups, downs, FEW_ROUNDS if large else PLACE_ROUNDS)
    heights = [max((sizes[item][1] for item in row if item in sizes), default=0.0)
               for row in rows]
    y_row, top = [], MARGIN
    for height in heights:
        y_row.append(top + height / 2)
        top += height + ROW_GAP
    y = {item: y_row[number] for number, row in enumerate(rows) for item in row}
    shift = MARGIN - min((x[i] - width_of[i] / 2 for i in x), default=0.0)
    x = {item: value + shift for item, value in x.items()}
    nodes = {node: Placed(x[node], y[node], *sizes[node]) for node in order}
    right = max((p.x + p.width / 2 for p in nodes.values()), default=MARGIN)
    routes, reach = _routes(edges, back, chains, nodes, x, y, rank, rows, width_of)
    return Layout(nodes, routes, max(right, reach) + MARGIN,
                  max(top - ROW_GAP + MARGIN, 2 * MARGIN))


def _back_edges(order: list[str], edges: Sequence[tuple[str, str]]) -> set[int]:
    """The edges that close a cycle, by a depth-first search from each node in order."""
    leaving: dict[str, list[tuple[int, str]]] = {node: [] for node in order}
    for index, (src, dst) in enumerate(edges):
        leaving[src].append((index, dst))
    state: dict[str, int] = {}  # 1: on the current way, 2: done
    back: set[int] = set()
    for root in order:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(leaving[root]))]
        while stack:
            node, pending = stack[-1]
            for index, target in pending:
                if state.get(target) == 1:
                    back.add(index)
                elif target not in state:
                    state[target] = 1
                    stack.append((target, iter(leaving[target])))
                    break
            else:
                state[node] = 2
                stack.pop()
    return back


def _ranks(order: list[str], edges: Sequence[tuple[str, str]], back: set[int]) -> dict[str, int]:
    """Each node's row: the longest way to it over the edges but the back edges."""
    entering = {node: 0 for node in order}
    leaving: dict[str, list[str]] = {node: [] for node in order}
    for index, (src, dst) in enumerate(edges):
        if index not in back:
            entering[dst] += 1
            leaving[src].append(dst)
    rank = dict.fromkeys(order, 0)
    ready = [node for node in order if entering[node] == 0]
    while ready:
        node = ready.pop(0)
        for target in leaving[node]:
            rank[target] = max(rank[target], rank[node] + 1)
            entering[target] -= 1
            if entering[target] == 0:
                ready.append(target)
    return rank


def _rows(order: list[str], edges: Sequence[tuple[str, str]], back: set[int],
          rank: dict[str, int]) -> tuple[list[list[str]], dict[int, list[str]]]:
    """The rows, nodes first in order then the points of passing edges; and each forward
    edge's chain of items from its source to its target."""
    rows: list[list[str]] = [[] for _ in range(max(rank.values(), default=0) + 1)]
    for node in order:
        rows[rank[node]].append(node)
    chains: dict[int, list[str]] = {}
    for index, (src, dst) in enumerate(edges):
        if index in back:
            continue
        chain = [src]
        for level in range(rank[src] + 1, rank[dst]):
            point = f"\x00{index}:{level}"
            rows[level].append(point)
            chain.append(point)
        chains[index] = [*chain, dst]
    return rows, chains


def _neighbours(chains: dict[int, list[str]]
                ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """For each item, its neighbours on the row above and on the row below."""
    ups: dict[str, list[str]] = {}
    downs: dict[str, list[str]] = {}
    for chain in chains.values():
        for upper, lower in itertools.pairwise(chain):
            downs.setdefault(upper, []).append(lower)
            ups.setdefault(lower, []).append(upper)
    return ups, downs


def _ordered(rows: list[list[str]], ups: dict[str, list[str]], downs: dict[str, list[str]],
             rounds: int) -> list[list[str]]:
    """The rows reordered by barycentres, the order with the fewest crossings kept."""
    best, fewest = [list(row) for row in rows], _crossings(rows, downs)
    current = [list(row) for row in rows]
    for _ in range(rounds):
        for level in range(1, len(current)):
            current[level] = _by_barycentre(current[level], current[level - 1], ups)
        for level in range(len(current) - 2, -1, -1):
            current[level] = _by_barycentre(current[level], current[level + 1], downs)
        crossings = _crossings(current, downs)
        if crossings < fewest:
            best, fewest = [list(row) for row in current], crossings
        if fewest == 0:
            break
    return best


def _by_barycentre(row: list[str], fixed: list[str], links: dict[str, list[str]]) -> list[str]:
    place = {item: number for number, item in enumerate(fixed)}
    here = {item: float(number) for number, item in enumerate(row)}

    def barycentre(item: str) -> float:
        linked = [place[other] for other in links.get(item, ()) if other in place]
        return sum(linked) / len(linked) if linked else here[item]

    return sorted(row, key=barycentre)


def _crossings(rows: list[list[str]], downs: dict[str, list[str]]) -> int:
    """How many pairs of edges cross between neighbouring rows: the inversions of the
    lower ends once sorted by the upper ones, counted with a Fenwick tree."""
    total = 0
    for upper, lower in itertools.pairwise(rows):
        place = {item: number for number, item in enumerate(lower)}
        ends: list[int] = []
        for item in upper:  # in the upper row's order; one item's edges never cross
            ends.extend(sorted(place[d] for d in downs.get(item, ()) if d in place))
        tree = [0] * (len(lower) + 1)
        for seen, end in enumerate(ends):
            below = 0
            index = end + 1
            while index > 0:  # how many seen so far end at or left of this one
                below += tree[index]
                index -= index & -index
            total += seen - below
            index = end + 1
            while index <= len(lower):
                tree[index] += 1
                index += index & -index
    return total


def _placed(rows: list[list[str]], width_of: dict[str, float], ups: dict[str, list[str]],
            downs: dict[str, list[str]], rounds: int) -> dict[str, float]:
    """Each item's x: rows packed about 0, then each moved towards its neighbours, row
    by row, sweeping down and up; the last sweep down."""
    x: dict[str, float] = {}
    for row in rows:  # all wanted at 0, the gaps spread them evenly about it
        x.update(zip(row, _spread(row, [0.0] * len(row), width_of), strict=True))
    sweeps = [*[(level, ups) for level in range(1, len(rows))],
              *[(level, downs) for level in range(len(rows) - 2, -1, -1)]]
    for level, links in [*sweeps * rounds, *sweeps[:len(rows) - 1]]:
        row = rows[level]
        wanted = [_mean([x[other] for other in links.get(item, ())], x[item]) for item in row]
        x.update(zip(row, _spread(row, wanted, width_of), strict=True))
    return x


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


def _spread(row: list[str], wanted: list[float], width_of: dict[str, float]) -> list[float]:
    """Places near *wanted* for the items of *row*, in order, never closer than the gap:
    the mean of a left-to-right and a right-to-left pass, then the gaps restored."""
    if not row:
        return []

    def gap(i: int) -> float:  # between the centres of items i - 1 and i
        return (width_of[row[i - 1]] + width_of[row[i]]) / 2 + NODE_GAP

    left = list(wanted)
    for i in range(1, len(row)):
        left[i] = max(wanted[i], left[i - 1] + gap(i))
    right = list(wanted)
    for i in range(len(row) - 2, -1, -1):
        right[i] = min(wanted[i], right[i + 1] - gap(i + 1))
    placed = [(a + b) / 2 for a, b in zip(left, right, strict=True)]
    for i in range(1, len(row)):
        placed[i] = max(placed[i], placed[i - 1] + gap(i))
    return placed


def _ports(chains: dict[int, list[str]], nodes: dict[str, Placed], x: dict[str, float]
           ) -> tuple[dict[int, float], dict[int, float], dict[int, float]]:
    """Where each forward edge leaves its source's bottom and enters its target's top:
    spread along them in the order of where the edges go or come from, so that edges
    sharing a node do not share a point; and how far along its first stretch its label
    goes, staggered among the edges leaving one node so that their labels do not meet."""
    leaving: dict[str, list[tuple[float, int]]] = {}
    entering: dict[str, list[tuple[float, int]]] = {}
    for index, chain in chains.items():
        leaving.setdefault(chain[0], []).append((x[chain[1]], index))
        entering.setdefault(chain[-1], []).append((x[chain[-2]], index))
    leave: dict[int, float] = {}
    enter: dict[int, float] = {}
    along = dict.fromkeys(chains, LABEL_AT)
    for links in leaving.values():
        if len(links) > 1:
            for number, (_, index) in enumerate(sorted(links)):
                along[index] = LABEL_FROM + LABEL_SPAN * number / (len(links) - 1)
    for found, ports in ((leaving, leave), (entering, enter)):
        for node, links in found.items():
            links.sort()
            at = nodes[node]
            step = min(PORT_GAP, max(at.width - 2 * PORT_GAP, 0.0) / max(len(links) - 1, 1))
            for number, (_, index) in enumerate(links):
                ports[index] = at.x + (number - (len(links) - 1) / 2) * step
    return leave, enter, along


def _routes(edges: Sequence[tuple[str, str]], back: set[int], chains: dict[int, list[str]],
            nodes: dict[str, Placed], x: dict[str, float], y: dict[str, float],
            rank: dict[str, int], rows: list[list[str]], width_of: dict[str, float],
            ) -> tuple[tuple[Route, ...], float]:
    """Each edge's route, and how far right the back edges reach."""
    routes: list[Route] = []
    reach = 0.0
    outside = 0
    leave, enter, along = _ports(chains, nodes, x)
    for index, (src, dst) in enumerate(edges):
        a, b = nodes[src], nodes[dst]
        if index not in back:
            chain = chains[index]
            points = [(leave[index], a.y + a.height / 2),
                      *((x[item], y[item]) for item in chain[1:-1]),
                      (enter[index], b.y - b.height / 2)]
            (x0, y0), (x1, y1) = points[0], points[1]
            at = along[index]
            label = (x0 + at * (x1 - x0), y0 + at * (y1 - y0))
            routes.append(Route(tuple(points), False, label))
            continue
        outside += 1
        if src == dst:  # a loop on itself: out of its right side and back in, close by
            side, top, bottom = a.x + a.width / 2, a.y - a.height / 4, a.y + a.height / 4
            points = [(side, top), (side + BACK_GAP, top), (side + BACK_GAP, bottom),
                      (side, bottom)]
            reach = max(reach, side + 2 * BACK_GAP)
            routes.append(Route(tuple(points), True, (side + BACK_GAP, a.y)))
            continue
        # Down into the gap below the source's row, beside every row between, then along
        # the gap above the target's row and into its top: never across a node.
        low, high = sorted((rank[src], rank[dst]))
        side = max(x[item] + width_of[item] / 2 for level in range(low, high + 1)
                   for item in rows[level]) + BACK_GAP * outside
        reach = max(reach, side + BACK_GAP)
        shift = (outside % 4) * 5.0
        below = a.y + a.height / 2 + ROW_GAP / 3 + shift
        above = b.y - b.height / 2 - ROW_GAP / 3 - shift
        points = [(a.x + shift, a.y + a.height / 2), (a.x + shift, below), (side, below),
                  (side, above), (b.x + shift, above), (b.x + shift, b.y - b.height / 2)]
        routes.append(Route(tuple(points), True, (side, (below + above) / 2)))
    return tuple(routes), reach
