"""The directly-follows graph of a job's path variants, and its drawing as SVG.

`graph` reads the most common variants (as `jobtrail.paths.variants` groups them) into
points and the transitions between them, each counted in runs: a run that passes a
transition twice (a loop) counts once. A repeated point or block adds the edge back to
its start. `svg` lays the graph out left to right — each point in the column of its
longest way from ``start``, the points of the most common variant first in theirs — and
draws it as SVG text built here: every label is escaped, and characters XML cannot hold
are replaced, so a hostile step name is text in the drawing, and the drawing always
parses. Styles come from the dashboard's style sheet, by class; nothing in it runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Any
from xml.sax.saxutils import escape

from markupsafe import Markup

from jobtrail.paths.variants import blocks

__all__ = ["END", "MAX_POINTS", "MAX_VARIANTS", "START", "graph", "svg"]

#: The nodes every path begins and ends at.
START, END = "start", "end"
#: The most variants and points a graph draws (the most common first).
MAX_VARIANTS = 20
MAX_POINTS = 60
#: The geometry of the drawing, in pixels.
COLUMN, ROW, BOX_WIDTH, BOX_HEIGHT, MARGIN = 180, 46, 150, 28, 24
#: The longest label drawn in a box (the whole one is its tooltip).
LABEL = 22
#: The widest stroke, for the transition most runs took.
WIDEST = 12.0
#: Characters XML 1.0 cannot hold, even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: A place in the drawing: (x, y).
Point = tuple[float, float]


def graph(variants: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The directly-follows graph of *variants* (their JSON shapes, most common first): how
    many variants and runs it covers, its nodes (``id``, ``runs``) in the order they were
    first met, and its edges (``source``, ``target``, ``runs``, ``loop``: a repetition's
    way back)."""
    runs: dict[str, int] = {START: 0}
    edges: dict[tuple[str, str], list[Any]] = {}
    drawn = 0
    for variant in variants[:MAX_VARIANTS]:
        walk = blocks(variant["path"])
        points = list(dict.fromkeys(point for block, _ in walk for point in block))
        if drawn and len(runs.keys() | set(points)) > MAX_POINTS + 1:
            break
        count = int(variant["count"])
        drawn += 1
        for point in [START, *points]:
            runs[point] = runs.get(point, 0) + count
        passed: set[tuple[str, str]] = set()
        previous = START
        for block, repeated in walk:
            for source, target in zip((previous, *block), block, strict=False):
                _follow(edges, passed, source, target, count, loop=False)
            if repeated:
                _follow(edges, passed, block[-1], block[0], count, loop=True)
            previous = block[-1]
        _follow(edges, passed, previous, END, count, loop=False)
    if not drawn:
        return {"variants": 0, "runs": 0, "nodes": [], "edges": []}
    runs[END] = runs[START]
    return {
        "variants": drawn, "runs": runs[START],
        "nodes": [{"id": node, "runs": n} for node, n in runs.items()],
        "edges": [{"source": s, "target": t, "runs": n, "loop": loop}
                  for (s, t), (n, loop) in edges.items()],
    }


def _follow(edges: dict[tuple[str, str], list[Any]], passed: set[tuple[str, str]],
            source: str, target: str, count: int, *, loop: bool) -> None:
    """Count *count* runs of one variant on the edge *source* → *target*, once."""
    if (source, target) not in passed:
        passed.add((source, target))
        edges.setdefault((source, target), [0, loop])[0] += count


def _ranks(nodes: Sequence[str], edges: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Each node's column: its longest way from ``start`` over the edges that go forward
    (a way back, found depth first from ``start``, is left out); ``end`` last."""
    out: dict[str, list[str]] = {node: [] for node in nodes}
    for edge in sorted(edges, key=lambda e: -e["runs"]):
        if not edge["loop"]:
            out[edge["source"]].append(edge["target"])
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1: on the way being walked, 2: done
    order: list[str] = []
    stack: list[tuple[str, Iterable[str]]] = [(START, iter(out[START]))]
    state[START] = 1
    while stack:
        node, targets = stack[-1]
        for target in targets:
            if state.get(target) == 1:
                back.add((node, target))
            elif target not in state:
                state[target] = 1
                stack.append((target, iter(out[target])))
                break
        else:
            state[node] = 2
            order.append(node)
            stack.pop()
    rank = dict.fromkeys(nodes, 0)
    for node in reversed(order):  # a topological order of the forward edges
        for target in out[node]:
            if (node, target) not in back:
                rank[target] = max(rank[target], rank[node] + 1)
    rank[END] = 1 + max(r for node, r in rank.items() if node != END)
    return rank


def _text(value: object) -> str:
    """*value* as text XML can hold, escaped for an element or a quoted attribute."""
    return escape(_NOT_XML.sub("\ufffd", str(value)), {'"': "&quot;"})


def _label(node: str) -> str:
    return node if len(node) <= LABEL else node[:LABEL - 1] + "…"


def _kind(node: str) -> str:
    if node in (START, END):
        return "terminal"
    head = node.split(":", 1)[0]
    return head if head in ("decide", "effect", "exit", "event") else "step"


def _layout(nodes: Sequence[str], edges: Sequence[Mapping[str, Any]]
            ) -> tuple[dict[str, Point], dict[tuple[str, str], list[Point]], int, int]:
    """Where each node's box goes, the way of each forward edge (the points it passes,
    through a slot of its own in each column it crosses, so that it passes no box), and the
    columns and rows used. In each column, boxes and slots come in the order of the rows
    of what leads to them weighted by runs, the most common first (so that it runs
    straight), then in the order first met."""
    rank = _ranks(nodes, edges)
    met = {node: n for n, node in enumerate(nodes)}
    into: dict[Any, list[tuple[Any, int]]] = {}  # each item: what leads to it, with runs
    columns: dict[int, list[Any]] = {}
    for node in nodes:
        columns.setdefault(rank[node], []).append(node)
    for edge in edges:
        source, target, runs = edge["source"], edge["target"], edge["runs"]
        if edge["loop"] or rank[target] <= rank[source]:
            continue
        previous: Any = source
        for column in range(rank[source] + 1, rank[target]):
            slot = (source, target, column)
            columns[column].append(slot)
            into[slot] = [(previous, runs)]
            previous = slot
        into.setdefault(target, []).append((previous, runs))
    row: dict[Any, int] = {}
    for column in sorted(columns):
        def key(item: Any) -> tuple[float, int, int]:
            leads = [(row[before], runs) for before, runs in into.get(item, ()) if before in row]
            weight = sum(runs for _, runs in leads)
            centre = sum(r * runs for r, runs in leads) / weight if weight else 0.0
            return centre, -weight, met[item] if isinstance(item, str) else met[item[0]]
        for n, item in enumerate(sorted(columns[column], key=key)):
            row[item] = n
    place: dict[str, Point] = {node: (MARGIN + rank[node] * COLUMN, MARGIN + row[node] * ROW)
                               for node in nodes}
    ways: dict[tuple[str, str], list[Point]] = {}
    for edge in edges:
        source, target = edge["source"], edge["target"]
        if edge["loop"] or rank[target] <= rank[source]:
            continue
        (sx, sy), (tx, ty) = place[source], place[target]
        way = [(sx + BOX_WIDTH, sy + BOX_HEIGHT / 2)]
        for column in range(rank[source] + 1, rank[target]):
            y = MARGIN + row[(source, target, column)] * ROW + BOX_HEIGHT / 2
            x = MARGIN + column * COLUMN
            way += [(x, y), (x + BOX_WIDTH, y)]
        ways[(source, target)] = [*way, (tx, ty + BOX_HEIGHT / 2)]
    return place, ways, max(rank.values()), max(len(items) for items in columns.values())


def svg(drawn: Mapping[str, Any]) -> Markup:
    """The SVG drawing of a `graph`, ready to place in a page (empty for no graph)."""
    nodes = [node["id"] for node in drawn["nodes"]]
    if not nodes:
        return Markup("")
    edges = drawn["edges"]
    place, ways, columns, rows = _layout(nodes, edges)
    width = MARGIN * 2 + columns * COLUMN + BOX_WIDTH
    height = MARGIN * 2 + (rows - 1) * ROW + BOX_HEIGHT + ROW
    most = max((edge["runs"] for edge in edges), default=1) or 1
    total = drawn["runs"] or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="follows" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Directly-follows graph of {drawn["variants"]} path variants">',
        '<defs><marker id="follows-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="8" markerHeight="8" markerUnits="userSpaceOnUse" orient="auto">'
        '<path d="M 0 0 L 10 5 L 0 10 z" class="arrow"/></marker></defs>',
    ]
    for edge in edges:
        parts.append(_edge(edge, place, ways.get((edge["source"], edge["target"])), most,
                           total))
    for node in drawn["nodes"]:
        x, y = place[node["id"]]
        parts.append(
            f'<g class="node node-{_kind(node["id"])}"><title>{_text(node["id"])}: '
            f'{node["runs"]:,} runs</title>'
            f'<rect x="{x}" y="{y}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" rx="5"/>'
            f'<text x="{x + BOX_WIDTH / 2}" y="{y + BOX_HEIGHT / 2 + 4}">'
            f'{_text(_label(node["id"]))}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _edge(edge: Mapping[str, Any], place: Mapping[str, Point], way: Sequence[Point] | None,
          most: int, total: int) -> str:
    """One transition: a curve along *way* (under the boxes for a way back), as wide as its
    share of the runs, with its count."""
    stroke = round(1 + (WIDEST - 1) * edge["runs"] / most, 1)
    title = (f'<title>{_text(edge["source"])} → {_text(edge["target"])}: '
             f'{edge["runs"]:,} runs ({edge["runs"] / total:.1%})</title>')
    if way is None:  # a way back: under the boxes, from one to the other
        (sx, sy), (tx, ty) = place[edge["source"]], place[edge["target"]]
        x1, y1 = sx + BOX_WIDTH / 2 + 10, sy + BOX_HEIGHT
        x2, y2 = tx + BOX_WIDTH / 2 - 10, ty + BOX_HEIGHT
        dip = ROW * 0.6 + abs(x1 - x2) / 8
        path = f"M {x1} {y1} C {x1} {y1 + dip}, {x2} {y2 + dip}, {x2} {y2}"
        label_x, label_y = max(x1, x2) + 14, max(y1, y2) + dip * 0.75 + 4
        kind = "edge back"
    else:
        (x1, y1), (x2, y2) = way[0], way[1]
        steps = [f"M {x1} {y1}"]
        for n, ((ax, ay), (bx, by)) in enumerate(pairwise(way)):
            if n % 2:  # through a column's slot: straight on
                steps.append(f"L {bx} {by}")
            else:
                bend = (bx - ax) / 2
                steps.append(f"C {ax + bend} {ay}, {bx - bend} {by}, {bx} {by}")
        path = " ".join(steps)
        label_x, label_y = (x1 + x2) / 2, (y1 + y2) / 2 - 4
        kind = "edge"
    return (f'<g class="{kind}">{title}<path d="{path}" stroke-width="{stroke}" '
            f'marker-end="url(#follows-arrow)"/>'
            f'<text x="{label_x}" y="{label_y}">{edge["runs"]:,}</text></g>')
