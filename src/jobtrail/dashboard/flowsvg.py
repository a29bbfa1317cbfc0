"""A job's flow graph drawn as SVG, on the server: the flow page's picture.

`flow_svg` draws the data of the flow page (`jobtrail.dashboard.flows`): its nodes (one
shape per kind, as the Mermaid and DOT renderings have them), its edges with the runs that
took each, and the points where recorded runs left the code. Each edge has the class of
the three-way check it falls in — ``taken`` by runs, ``untested`` (no run took it),
``forbidden`` (only on paths ``expect=`` rejects), ``unexplained`` (recorded runs the code
cannot explain) — and the style sheet colours them: the drawing has no ``style``
attribute, only classes and presentation attributes, as the Content-Security-Policy wants.

The document is built with `xml.etree.ElementTree`, whose serializer escapes every text
and attribute: a step named ``<script>`` is drawn as those characters.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any, Final

from markupsafe import Markup

from jobtrail.dashboard.flowlayout import Layout, Placed, Route, layout

__all__ = ["EDGE_STATES", "flow_svg"]

#: The classes of edges, in the order the legend lists them.
EDGE_STATES: Final = ("taken", "untested", "forbidden", "unexplained")
#: Labels longer than this are cut (the whole label is the node's tooltip).
MAX_LABEL: Final = 32
#: Width of a character of the labels' monospace font, and a node's padding and height.
CHAR: Final = 7.3
PAD: Final = 20.0
HEIGHT: Final = 30.0
#: Stroke widths of edges, from one run to the most runs on any edge.
THIN, THICK = 1.5, 6.0
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(parent: ET.Element, x: float, y: float, text: str, css: str) -> ET.Element:
    element = ET.SubElement(parent, "text", {"x": _n(x), "y": _n(y), "class": css,
                                             "text-anchor": "middle",
                                             "dominant-baseline": "central"})
    element.text = text
    return element


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _cut(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[:MAX_LABEL - 1] + "…"


def _size(kind: str, label: str) -> tuple[float, float]:
    width = max(len(_cut(label)) * CHAR + PAD, 44.0)
    if kind == "decide":
        return width + HEIGHT, HEIGHT + 6
    if kind in ("enqueue", "raise"):
        return width + HEIGHT / 2, HEIGHT
    return width, HEIGHT


def _shape(group: ET.Element, kind: str, at: Placed) -> None:
    """The outline of a node of *kind* at *at*, as the renderings of `jobtrail.flows.render`
    shape it."""
    left, right = at.x - at.width / 2, at.x + at.width / 2
    top, bottom = at.y - at.height / 2, at.y + at.height / 2
    half = at.height / 2
    if kind == "decide":
        points = [(left, at.y), (left + half, top), (right - half, top), (right, at.y),
                  (right - half, bottom), (left + half, bottom)]
    elif kind == "enqueue":
        points = [(left + half / 2, top), (right, top), (right - half / 2, bottom),
                  (left, bottom)]
    elif kind == "raise":
        cut = half / 2
        points = [(left + cut, top), (right - cut, top), (right, top + cut),
                  (right, bottom - cut), (right - cut, bottom), (left + cut, bottom),
                  (left, bottom - cut), (left, top + cut)]
    else:
        rounded = {"start": half, "end": half, "exit": half, "return": half / 1.5,
                   "event": 0.0}.get(kind, 3.0)
        ET.SubElement(group, "rect", {"x": _n(left), "y": _n(top), "width": _n(at.width),
                                      "height": _n(at.height), "rx": _n(rounded),
                                      "class": "outline"})
        if kind == "effect":  # a double border, as Mermaid's subroutine
            ET.SubElement(group, "rect", {"x": _n(left + 4), "y": _n(top),
                                          "width": _n(at.width - 8), "height": _n(at.height),
                                          "class": "inner"})
        return
    ET.SubElement(group, "polygon", {"points": " ".join(f"{_n(a)},{_n(b)}" for a, b in points),
                                     "class": "outline"})


def _path(route: Route) -> str:
    """Straight segments around the rows for a back edge; otherwise a curve leaving and
    entering each point vertically."""
    (x0, y0), *rest = route.points
    if route.back:
        return f"M{_n(x0)},{_n(y0)} " + " ".join(f"L{_n(x)},{_n(y)}" for x, y in rest)
    parts = [f"M{_n(x0)},{_n(y0)}"]
    for x, y in rest:
        middle = (y0 + y) / 2
        parts.append(f"C{_n(x0)},{_n(middle)} {_n(x)},{_n(middle)} {_n(x)},{_n(y)}")
        x0, y0 = x, y
    return " ".join(parts)


def _width(runs: int, most: int) -> float:
    if runs <= 0 or most <= 0:
        return THIN
    return THIN + (THICK - THIN) * math.log1p(runs) / math.log1p(most)


def _markers(svg: ET.Element) -> None:
    defs = ET.SubElement(svg, "defs")
    for state in EDGE_STATES:
        marker = ET.SubElement(defs, "marker", {
            "id": f"jt-arrow-{state}", "viewBox": "0 0 10 10", "refX": "9", "refY": "5",
            "markerWidth": "7", "markerHeight": "7", "markerUnits": "userSpaceOnUse",
            "orient": "auto-start-reverse"})
        ET.SubElement(marker, "path", {"d": "M0,0 L10,5 L0,10 z", "class": f"arrow-{state}"})


def _drawn(data: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The nodes and edges to draw: the graph's, and for each group of unexplained runs
    a node naming what they recorded and an edge to it from where they left the code."""
    nodes = [dict(node) for node in data["nodes"]]
    edges = [dict(edge) for edge in data["edges"]]
    for number, departure in enumerate(data["departures"]):
        point = departure["point"]
        node_id = f"unexplained#{number + 1}"
        nodes.append({"id": node_id, "kind": "unexplained", "state": "unexplained",
                      "label": "(ended)" if point is None else point, "line": None,
                      "title": f"{departure['runs']:,} runs recorded "
                               + ("nothing more, where the code cannot end" if point is None
                                  else f"{point}, which the code cannot do here")})
        edges.append({"from": departure["after"], "to": node_id, "label": None,
                      "runs": departure["runs"], "state": "unexplained"})
    return nodes, edges


def flow_svg(data: Mapping[str, Any], title: str | None = None) -> Markup:
    """The SVG drawing of a flow page's *data* (its ``nodes``, ``edges`` and
    ``departures``), ready to put in the page; *title* names it (by default, the flow of
    the job from its code)."""
    nodes, edges = _drawn(data)
    sizes = {node["id"]: _size(node["kind"], node["label"]) for node in nodes}
    placed = layout(sizes, [(edge["from"], edge["to"]) for edge in edges])
    svg = ET.Element("svg", {
        "xmlns": "http://www.w3.org/2000/svg", "class": "flow", "role": "img",
        "width": _n(placed.width), "height": _n(placed.height),
        "viewBox": f"0 0 {_n(placed.width)} {_n(placed.height)}"})
    named = title or f"The flow of {data['job']}, from its code"
    ET.SubElement(svg, "title").text = _clean(named)
    _markers(svg)
    _edges(ET.SubElement(svg, "g", {"class": "edges"}), edges, placed)
    _nodes(ET.SubElement(svg, "g", {"class": "nodes"}), nodes, placed)
    return Markup(ET.tostring(svg, encoding="unicode"))  # every text escaped by ElementTree


def _edges(group: ET.Element, edges: Sequence[dict[str, Any]], placed: Layout) -> None:
    most = max((edge["runs"] for edge in edges), default=0)
    for edge, route in zip(edges, placed.routes, strict=True):
        state = edge["state"]
        shown = ET.SubElement(group, "g", {"class": f"edge edge-{state}",
                                           "data-from": _clean(edge["from"]),
                                           "data-to": _clean(edge["to"]),
                                           "data-runs": str(edge["runs"])})
        what = f" [{edge['label']}]" if edge["label"] else ""
        ET.SubElement(shown, "title").text = _clean(
            f"{edge['from']} → {edge['to']}{what}: {edge['runs']:,} runs ({state})")
        ET.SubElement(shown, "path", {"d": _path(route), "class": "line",
                                      "stroke-width": _n(_width(edge["runs"], most)),
                                      "marker-end": f"url(#jt-arrow-{state})"})
        x, y = route.label
        text = _text(shown, x, y, "", "edge-label")
        text.attrib["text-anchor"] = "start" if route.back else "middle"
        if route.back or not edge["label"]:
            text.attrib["x"] = _n(x + 4)
        if edge["label"]:
            ET.SubElement(text, "tspan").text = _clean(_cut(edge["label"])) + " "
        ET.SubElement(text, "tspan", {"class": "count"}).text = f"{edge['runs']:,}"


def _clean(text: str) -> str:
    """*text* with what XML cannot hold (control characters, lone surrogates) replaced."""
    return _NOT_XML.sub("\ufffd", text)


def _nodes(group: ET.Element, nodes: Sequence[dict[str, Any]], placed: Layout) -> None:
    for node in nodes:
        at = placed.nodes[node["id"]]
        shown = ET.SubElement(group, "g", {
            "class": f"node node-{node['kind']} state-{node['state']}",
            "data-node": _clean(node["id"])})
        line = f" (line {node['line']})" if node.get("line") else ""
        ET.SubElement(shown, "title").text = _clean(node.get("title")
                                                    or f"{node['label']}{line}")
        _shape(shown, node["kind"], at)
        _text(shown, at.x, at.y, _clean(_cut(node["label"])), "label")
