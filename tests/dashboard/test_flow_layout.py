"""The flow drawings' layered layout: rows top to bottom along the edges, no two nodes
overlapping, cycles drawn beside the rows, everything inside the drawing."""

from __future__ import annotations

import itertools

from jobtrail.dashboard.flowlayout import NODE_GAP, Layout, layout

SIZES = {"start": (50.0, 30.0), "load": (60.0, 30.0), "paid?": (90.0, 36.0),
         "exit": (80.0, 30.0), "fetch": (60.0, 30.0), "charge": (110.0, 30.0),
         "end": (50.0, 30.0)}
EDGES = [("start", "load"), ("load", "paid?"), ("paid?", "exit"), ("paid?", "fetch"),
         ("paid?", "charge"), ("fetch", "fetch"), ("fetch", "charge"), ("charge", "paid?"),
         ("exit", "end"), ("charge", "end")]


def drawn() -> Layout:
    return layout(SIZES, EDGES)


def test_edges_that_do_not_close_a_cycle_run_downwards() -> None:
    """Each edge but those closing a cycle goes from a row to a lower one."""
    placed = drawn()
    backs = {EDGES[i] for i, route in enumerate(placed.routes) if route.back}
    assert backs == {("fetch", "fetch"), ("charge", "paid?")}
    for src, dst in EDGES:
        if (src, dst) not in backs:
            assert placed.nodes[src].y < placed.nodes[dst].y, (src, dst)


def test_nodes_of_a_row_never_overlap_and_all_fit_in_the_drawing() -> None:
    """Nodes on one row keep at least the gap between them; every node lies inside the
    drawing's width and height."""
    placed = drawn()
    for a, b in itertools.combinations(placed.nodes.values(), 2):
        if a.y == b.y:
            assert abs(a.x - b.x) >= (a.width + b.width) / 2 + NODE_GAP - 1e-6
    for node in placed.nodes.values():
        assert node.x - node.width / 2 >= 0 and node.x + node.width / 2 <= placed.width
        assert node.y - node.height / 2 >= 0 and node.y + node.height / 2 <= placed.height


def test_a_cycle_is_drawn_beside_the_rows_it_spans() -> None:
    """An edge back up runs right of every node on the rows it passes, then enters its
    target from above; a loop on one node stays by its right side."""
    placed = drawn()
    back = placed.routes[EDGES.index(("charge", "paid?"))]
    top, bottom = placed.nodes["paid?"].y, placed.nodes["charge"].y
    side = max(x for x, _ in back.points)
    beside = [n for n in placed.nodes.values() if top <= n.y <= bottom]
    assert all(side > n.x + n.width / 2 for n in beside)
    assert back.points[-1] == (back.points[-1][0], top - placed.nodes["paid?"].height / 2)
    loop = placed.routes[EDGES.index(("fetch", "fetch"))]
    fetch = placed.nodes["fetch"]
    assert loop.back and loop.points[0][0] == fetch.x + fetch.width / 2
    assert max(x for x, _ in loop.points) <= placed.width


def test_a_single_node_is_drawn() -> None:
    """A graph of one node with no edge is laid out in the corner."""
    placed = layout({"start": (50.0, 30.0)}, [])
    assert placed.routes == () and placed.width > 50 and placed.height > 30
