"""The three-way check edge by edge (`jobtrail.flows.usage`): recorded runs traced through
a flow graph and counted on its edges, the runs the code cannot explain grouped by where
they left it, and the edges only paths the expectation forbids take."""

from __future__ import annotations

from jobtrail.expect import parse
from jobtrail.flows import FlowGraph, build_flow
from jobtrail.flows.coverage import symbols
from jobtrail.flows.usage import Departure, edge_use, forbidden_edges, trace
from tests.flows import corpus

UNPAID = "load decide:is_paid=false effect:charge"
PAID = "load decide:is_paid=true exit:already_paid"


def graph_of(fn: object) -> FlowGraph:
    return build_flow(fn, job_name="job")  # type: ignore[arg-type]


def edges(graph: FlowGraph, counts: tuple[int, ...] | frozenset[int]) -> dict[str, int]:
    """Edges as ``src->dst`` with their count (for a set of indexes, 1 each), zeros left out."""
    if isinstance(counts, frozenset):
        counts = tuple(int(i in counts) for i in range(len(graph.edges)))
    return {f"{e.src}->{e.dst}": n for e, n in zip(graph.edges, counts, strict=True) if n}


def test_a_run_is_traced_along_the_edges_it_took() -> None:
    """A run's points, from start to end, take exactly the edges of its way through the code."""
    graph = graph_of(corpus.early_exit)
    points = symbols(UNPAID)
    assert points is not None
    found = trace(graph, points)
    assert found.complete and found.explained == 3 and found.after == "effect:charge"
    assert edges(graph, found.edges) == {
        "start->step:load": 1, "step:load->decide:is_paid": 1,
        "decide:is_paid->effect:charge": 1, "effect:charge->return#1": 1, "return#1->end": 1}


def test_edge_counts_are_the_runs_that_took_each_edge() -> None:
    """Each edge counts the runs that took it; an edge no run took counts none."""
    graph = graph_of(corpus.early_exit)
    use = edge_use(graph, [(UNPAID, False)] * 3 + [(PAID, False)] * 2)
    assert edges(graph, use.runs) == {
        "start->step:load": 5, "step:load->decide:is_paid": 5,
        "decide:is_paid->exit:already_paid": 2, "exit:already_paid->end": 2,
        "decide:is_paid->effect:charge": 3, "effect:charge->return#1": 3, "return#1->end": 3}
    assert (use.explained, use.stopped, use.unexplained, use.departures) == (5, 0, 0, ())


def test_a_run_going_round_a_loop_counts_once_on_each_edge() -> None:
    """A run that went round a loop many times (its variant folded with ``+``) counts one
    run on the loop's edges, as on the others."""
    graph = graph_of(corpus.for_loop)
    variant = "fetch (decide:skip=false pack decide:full=false)+ decide:skip=false pack " \
              "decide:full=true close"
    use = edge_use(graph, [(variant, False)])
    assert use.explained == 1
    assert edges(graph, use.runs) == {
        "start->step:fetch": 1, "step:fetch->decide:skip": 1, "decide:skip->step:pack": 1,
        "step:pack->decide:full": 1, "decide:full->decide:skip": 1,
        "decide:full->step:close": 1, "step:close->end": 1}


def test_a_run_that_stopped_partway_is_counted_up_to_its_last_point() -> None:
    """A dead run whose points begin a code path is explained, drawn up to the node that
    recorded its last point; the same points from a run that completed are unexplained."""
    graph = graph_of(corpus.early_exit)
    use = edge_use(graph, [("load decide:is_paid=false", True)])
    assert (use.explained, use.stopped, use.unexplained) == (1, 1, 0)
    assert edges(graph, use.runs) == {"start->step:load": 1, "step:load->decide:is_paid": 1}
    completed = edge_use(graph, [("load decide:is_paid=false", False)])
    assert completed.unexplained == 1
    assert completed.departures == (Departure("decide:is_paid", None, 1),)


def test_runs_the_code_cannot_explain_are_grouped_where_they_left_it() -> None:
    """A recorded point the code cannot produce is named with the node after which it came,
    and the runs that did so are counted; what they did before is counted on the edges."""
    graph = graph_of(corpus.early_exit)
    left = "load decide:is_paid=false audit effect:charge"
    use = edge_use(graph, [(left, False), (left, False), ("load skipped", False)])
    assert set(use.departures) == {Departure("decide:is_paid", "audit", 2),
                                   Departure("step:load", "skipped", 1)}
    assert (use.explained, use.unexplained) == (0, 3)
    assert edges(graph, use.runs) == {"start->step:load": 3, "step:load->decide:is_paid": 2}


def test_a_path_that_cannot_be_read_back_is_set_aside() -> None:
    """A variant stored cut short is neither counted on edges nor called unexplained."""
    graph = graph_of(corpus.early_exit)
    use = edge_use(graph, [("load " + "decide:is_paid=false " * 5 + "…", False)])
    assert (use.unreadable, use.explained, use.unexplained, any(use.runs)) == (1, 0, 0, False)


def test_edges_only_on_paths_the_expectation_forbids_are_forbidden() -> None:
    """An edge is forbidden when every path through it that ends without raising is one
    the expectation rejects; edges shared with an expected path are not."""
    graph = graph_of(corpus.early_exit)
    forbidden = forbidden_edges(graph, parse(UNPAID))
    assert forbidden is not None
    assert edges(graph, forbidden) == {"decide:is_paid->exit:already_paid": 1,
                                       "exit:already_paid->end": 1}
    assert forbidden_edges(graph, parse(f"{UNPAID} | {PAID}")) == frozenset()


def test_edges_only_on_failures_are_never_forbidden() -> None:
    """Runs that end by raising are failures, not paths an expectation speaks for: the
    edges only they take are not forbidden, while an unexpected handled branch is."""
    graph = graph_of(corpus.raising)
    forbidden = forbidden_edges(graph, parse("decide:too_large=false approve decide:suspicious"))
    assert forbidden is not None
    found = edges(graph, forbidden)
    assert "decide:suspicious->raise#2" not in found and "raise#2->end" not in found
    assert "decide:too_large->step:approve" not in found and "step:reject->decide:suspicious" in found
    assert "decide:too_large->raise#1" in found
