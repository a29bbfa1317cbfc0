"""The directly-follows graph of a job's path variants, and its drawing as SVG.

`graph` reads the most common variants (as `jobtrail.paths.variants` groups them) into
points and the transitions between them, each counted in runs: a run that passes a
transition twice (a loop) counts once. A repeated point or block adds the edge back to
its start. `svg` draws it as the flow pages draw a job's flow from its code
(`jobtrail.dashboard.flowsvg`: the same layered layout, shapes by kind, edges as wide as
their runs, every label escaped), so the paths runs took read like the paths the code has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from jobtrail.dashboard.flowsvg import flow_svg
from jobtrail.paths.variants import blocks

__all__ = ["END", "MAX_POINTS", "MAX_VARIANTS", "START", "graph", "svg"]

#: The nodes every path begins and ends at (no point's text has parentheses around it).
START, END = "(start)", "(end)"
#: The most variants and points a graph draws (the most common first).
MAX_VARIANTS = 20
MAX_POINTS = 60
#: The kinds of points a drawing shapes apart (the others are steps).
KINDS = ("decide", "effect", "exit", "event")


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


def _kind(node: str) -> str:
    if node in (START, END):
        return node.strip("()")
    head = node.split(":", 1)[0]
    return head if head in KINDS else "step"


def _label(node: str) -> str:
    """A point as its box names it: without its kind, which the box's shape shows."""
    if node in (START, END):
        return node.strip("()")
    return node.split(":", 1)[1] if _kind(node) in KINDS else node


def svg(drawn: Mapping[str, Any], job_name: str = "") -> Markup:
    """The SVG drawing of a `graph`, ready to place in a page (empty for no graph)."""
    if not drawn["nodes"]:
        return Markup("")
    nodes = [{"id": node["id"], "kind": _kind(node["id"]), "label": _label(node["id"]),
              "state": "taken", "line": None, "title": f"{node['id']}: {node['runs']:,} runs"}
             for node in drawn["nodes"]]
    edges = [{"from": edge["source"], "to": edge["target"], "label": None,
              "runs": edge["runs"], "state": "taken"} for edge in drawn["edges"]]
    return flow_svg({"job": job_name, "nodes": nodes, "edges": edges, "departures": []},
                    title=f"The paths of {drawn['variants']} variants of {job_name}".strip())
