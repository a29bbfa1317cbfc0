"""Rendering flow graphs: golden Mermaid, structurally sound DOT, and the text listing."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from jobtrail.flows import FlowEdge, FlowGraph, FlowNode, build_flow, to_dot, to_mermaid, to_text
from tests.flows import corpus
from tests.flows.test_builder import EXPECTED

GOLDEN = Path(__file__).parent / "golden"
QUOTED = r'"(?:[^"\\]|\\.)*"'
DOT_NODE = re.compile(rf"^    ({QUOTED}) \[label=({QUOTED}), (shape=[a-z0-9]+(?:, style=[a-z]+)?)\];$")
DOT_EDGE = re.compile(rf"^    ({QUOTED}) -> ({QUOTED})(?: \[label=({QUOTED})\])?;$")
MERMAID_NODE = re.compile(r"^    (n_[A-Za-z0-9_]+)(\(\(|\[\[|\(\[|\[/|\[|\{\{|\{|\(|>)\"([^\"]*)\"(\)\)|\]\]|\]\)|/\]|\]|\}\}|\}|\))$")
MERMAID_EDGE = re.compile(r'^    (n_[A-Za-z0-9_]+) -->(?:\|"([^"]*)"\|)? (n_[A-Za-z0-9_]+)$')


def build(name: str) -> FlowGraph:
    """The flow graph of the corpus function `name`."""
    return build_flow(getattr(corpus, name), job_name=name)


def unquote(text: str) -> str:
    """A DOT quoted string's value."""
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def parse_dot(text: str) -> tuple[str, dict[str, str], list[tuple[str, str, str | None]]]:
    """The graph name, the declared nodes (id to label) and the edges of DOT text; asserts
    its structure: one digraph, balanced braces, only node and edge statements inside."""
    lines = text.splitlines()
    assert text.endswith("\n") and lines[-1] == "}"
    header = re.fullmatch(rf"digraph ({QUOTED}) \{{", lines[0])
    assert header is not None
    outside_strings = re.sub(QUOTED, '""', text)
    assert outside_strings.count("{") == outside_strings.count("}") == 1
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, str | None]] = []
    for line in lines[4:-1]:
        if node := DOT_NODE.match(line):
            assert unquote(node[1]) not in nodes, f"declared twice: {line}"
            nodes[unquote(node[1])] = unquote(node[2])
        elif edge := DOT_EDGE.match(line):
            edges.append((unquote(edge[1]), unquote(edge[2]), unquote(edge[3]) if edge[3] else None))
        else:
            pytest.fail(f"not a node or edge statement: {line!r}")
    return unquote(header[1]), nodes, edges


@pytest.mark.parametrize("name", ["early_exit", "for_loop", "uses_helpers"])
def test_mermaid_matches_the_golden_file(name: str) -> None:
    """The Mermaid text of a corpus job is exactly its golden file under tests/flows/golden."""
    assert to_mermaid(build(name)) == (GOLDEN / f"{name}.mmd").read_text()


def test_mermaid_declares_every_node_once_with_its_shape_and_every_edge_between_declared_ids() -> None:
    """The 31-node job renders each node once, shaped by kind, and only edges between them."""
    graph = build("fulfil_order")
    lines = to_mermaid(graph).splitlines()
    assert lines[0] == "flowchart TD"
    declared = {m[1]: (m[2], m[3]) for line in lines if (m := MERMAID_NODE.match(line))}
    assert len(declared) == len(graph.nodes) == 31
    edge_lines = [m for line in lines if (m := MERMAID_EDGE.match(line))]
    assert len(edge_lines) == len(graph.edges)
    assert all(m[1] in declared and m[3] in declared for m in edge_lines)
    assert declared["n_decide_shipping"] == ("{", "shipping?")
    assert declared["n_exit_cancelled"] == ("([", "exit:cancelled")
    assert declared["n_effect_charge"] == ("[[", "effect:charge")
    assert declared["n_end"] == ("((", "end")
    assert "    class n_unknown_deeper unknown" in lines


def test_mermaid_escapes_quotes_and_angle_brackets_and_keeps_ids_unique() -> None:
    """Quotes and angle brackets in labels become entities; ids that clean up alike stay distinct."""
    nodes = {
        "start": FlowNode("start", "start", None, 1, "start"),
        "step:a-b": FlowNode("step:a-b", "step", "a-b", 2, 'say "hi" <b>'),
        "step:a_b": FlowNode("step:a_b", "step", "a_b", 3, "a_b"),
        "end": FlowNode("end", "end", None, 4, "end"),
    }
    edges = (
        FlowEdge("start", "step:a-b", 'x="1"'),
        FlowEdge("step:a-b", "step:a_b"),
        FlowEdge("step:a_b", "end"),
    )
    text = to_mermaid(FlowGraph("odd", "m.odd", "m.py", nodes, edges))
    assert '    n_step_a_b["say #quot;hi#quot; #lt;b#gt;"]' in text
    assert '    n_step_a_b_2["a_b"]' in text
    assert '    n_start -->|"x=#quot;1#quot;"| n_step_a_b' in text
    assert "    n_step_a_b --> n_step_a_b_2" in text


@pytest.mark.parametrize("name", [*EXPECTED, "fulfil_order"])
def test_dot_is_structurally_sound(name: str) -> None:
    """DOT text has balanced braces, declares each node once, and edges join declared nodes."""
    graph = build(name)
    title, nodes, edges = parse_dot(to_dot(graph))
    assert title == name
    assert list(nodes) == list(graph.nodes)
    assert {node_id: n.label for node_id, n in graph.nodes.items()} == nodes
    assert all(src in nodes and dst in nodes for src, dst, _ in edges)
    assert edges == [(e.src, e.dst, e.label) for e in graph.edges]


def test_dot_escapes_quotes_and_backslashes() -> None:
    """Quotes and backslashes in ids and labels are escaped so the DOT still parses."""
    nodes = {
        "start": FlowNode("start", "start", None, 1, "start"),
        'step:a"b\\c': FlowNode('step:a"b\\c', "step", 'a"b\\c', 2, 'a"b\\c'),
        "end": FlowNode("end", "end", None, 3, "end"),
    }
    edges = (FlowEdge("start", 'step:a"b\\c', 'k="v"'), FlowEdge('step:a"b\\c', "end"))
    _, parsed_nodes, parsed_edges = parse_dot(to_dot(FlowGraph('j"1', "m.j", "m.py", nodes, edges)))
    assert parsed_nodes['step:a"b\\c'] == 'a"b\\c'
    assert parsed_edges == [("start", 'step:a"b\\c', 'k="v"'), ('step:a"b\\c', "end", None)]


def test_dot_shapes_follow_node_kinds() -> None:
    """Decisions are diamonds, effects 3D boxes, exits rounded, unknown calls dashed."""
    text = to_dot(build("fulfil_order"))
    assert '"decide:gift" [label="gift?", shape=diamond];' in text
    assert '"effect:email" [label="effect:email", shape=box3d];' in text
    assert '"exit:backordered" [label="exit:backordered", shape=box, style=rounded];' in text
    assert '"unknown:deeper" [label="? deeper(...)", shape=box, style=dashed];' in text


def test_text_lists_nodes_with_lines_and_the_edges_leaving_them() -> None:
    """The text listing shows each node with its file line and, indented, its edges and labels."""
    lines, first = inspect.getsourcelines(corpus.not_decide)
    at = {name: first + next(i for i, line in enumerate(lines) if name in line) for name in ("has_items", "return", "process")}
    assert to_text(build("not_decide")) == (
        "job not_decide: tests.flows.corpus.not_decide (tests/flows/corpus.py)\n"
        "  start\n"
        "    -> decide:has_items\n"
        f"  decide:has_items  (line {at['has_items']})\n"
        "    -> return#1  [has_items=false]\n"
        "    -> step:process  [has_items=true]\n"
        f"  return#1  (line {at['return']})\n"
        "    -> end\n"
        f"  step:process  (line {at['process']})\n"
        "    -> end\n"
        "  end\n"
    )


def test_text_shows_unknown_calls_raises_and_notes() -> None:
    """Unknown calls and raises show their label; the notes close the listing."""
    text = to_text(build("uses_helpers"))
    assert re.search(r"^  unknown:countdown  \(line \d+\): \? countdown\(\.\.\.\)$", text, re.M)
    assert text.splitlines()[-6:][0] == "notes:"
    assert "  - " in text.splitlines()[-1]
    assert re.search(r"^  raise#2  \(line \d+\): raise ValueError$", to_text(build("raising")), re.M)


@pytest.mark.parametrize("render", [to_mermaid, to_dot, to_text])
def test_renderings_are_deterministic(render: Callable[[FlowGraph], str]) -> None:
    """Rendering two separately built graphs of one job gives identical text."""
    assert render(build("fulfil_order")) == render(build("fulfil_order"))
