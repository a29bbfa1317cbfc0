"""The directly-follows graph of path variants and its SVG drawing: counts, loops, caps,
edges that pass no box, and labels that stay text whatever they hold."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from jobtrail.dashboard.follows import END, MAX_VARIANTS, START, graph, svg

SVG = "{http://www.w3.org/2000/svg}"


def edges_of(drawn: dict) -> dict[tuple[str, str], tuple[int, bool]]:  # type: ignore[type-arg]
    return {(e["source"], e["target"]): (e["runs"], e["loop"]) for e in drawn["edges"]}


def test_transitions_count_the_runs_that_took_them_once_each() -> None:
    """Each edge counts the runs of the variants that pass it, a loop's runs once, and a
    repetition adds its way back."""
    drawn = graph([{"path": "load fetch+ save", "count": 5},
                   {"path": "load (fetch parse)+ save", "count": 2},
                   {"path": "load save", "count": 1}])
    edges = edges_of(drawn)
    assert edges[(START, "load")] == (8, False)
    assert edges[("load", "fetch")] == (7, False)
    assert edges[("fetch", "fetch")] == (5, True)
    assert edges[("parse", "fetch")] == (2, True)
    assert edges[("load", "save")] == (1, False)
    assert edges[("save", END)] == (8, False)
    assert {n["id"]: n["runs"] for n in drawn["nodes"]} == {
        START: 8, "load": 8, "fetch": 7, "save": 8, "parse": 2, END: 8}
    assert (drawn["variants"], drawn["runs"]) == (3, 8)


def test_the_drawing_parses_and_keeps_hostile_and_unprintable_labels_as_text() -> None:
    """Labels with markup, quotes, ampersands and control characters come out escaped or
    replaced: the drawing parses as XML, names them as text, and shapes each by its kind."""
    hostile = '<script>alert("x")</script>&amp;\x07'
    drawn = graph([{"path": f"load {hostile} decide:note=\"a b\" effect:pay", "count": 3}])
    text = str(svg(drawn, "bill"))
    assert "<script>" not in text and "\x07" not in text
    root = ET.fromstring(text)
    assert root.tag == f"{SVG}svg"
    titles = [t.text or "" for t in root.iter(f"{SVG}title")]
    assert titles[0] == "The paths of 1 variants of bill"
    assert any(t.startswith('<script>alert("x")</script>&amp;\ufffd:') for t in titles), titles
    assert any(t.startswith('decide:note="a b":') for t in titles), titles
    kinds = {g.get("class", "").split()[1] for g in root.iter(f"{SVG}g")
             if "node" in g.get("class", "").split()}
    assert kinds == {"node-start", "node-step", "node-decide", "node-effect", "node-end"}
    labels = {t.text for t in root.iter(f"{SVG}text") if t.text}
    assert {"start", "load", 'note="a b"', "pay", "end"} <= labels


def test_the_most_common_variants_are_drawn_and_no_more() -> None:
    """Past `MAX_VARIANTS`, the rarer variants are left out of the graph, which says how
    many it draws and how many runs they cover."""
    counts = [100 - n for n in range(MAX_VARIANTS + 5)]
    drawn = graph([{"path": f"load step{n} save", "count": count}
                   for n, count in enumerate(counts)])
    assert drawn["variants"] == MAX_VARIANTS
    assert drawn["runs"] == sum(counts[:MAX_VARIANTS])
    assert "step24" not in {n["id"] for n in drawn["nodes"]}


def test_no_variant_is_no_drawing_and_a_skipping_edge_passes_no_box() -> None:
    """No variant draws nothing; an edge that skips a row passes beside the box of the
    point it skips, not through it."""
    assert str(svg(graph([]))) == ""
    root = ET.fromstring(str(svg(graph([{"path": "a b c", "count": 5},
                                        {"path": "a c", "count": 1}]))))
    boxes = {(g.find(f"{SVG}title").text or "").split(":")[0]:  # type: ignore[union-attr]
             g.find(f"{SVG}rect") for g in root.iter(f"{SVG}g")
             if "node" in g.get("class", "").split()}
    b = boxes["b"]
    assert b is not None
    skip = next(g for g in root.iter(f"{SVG}g")
                if (g.get("data-from"), g.get("data-to")) == ("a", "c"))
    way = skip.find(f"{SVG}path").get("d", "")  # type: ignore[union-attr]
    left, top = float(b.get("x", "0")), float(b.get("y", "0"))
    right, bottom = left + float(b.get("width", "0")), top + float(b.get("height", "0"))
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", way)]
    points = list(zip(numbers[::2], numbers[1::2], strict=True))
    beside = [(x, y) for x, y in points if top <= y <= bottom]
    assert beside, way  # it crosses b's row...
    assert not any(left <= x <= right for x, _ in beside), way  # ...beside b's box
