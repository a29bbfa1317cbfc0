"""Flow graphs as Mermaid, Graphviz DOT and plain text.

All three list nodes in graph order (start, then source order, end last) and edges in
graph order, so the same code always renders to the same text and a change in the code
shows as a small diff. Shapes say the kind of a node:

=========  ================  ==================
kind       Mermaid           DOT
=========  ================  ==================
start/end  circle            circle/doublecircle
step       rectangle         box
effect     subroutine        box3d
decide     rhombus           diamond
exit       stadium           rounded box
event      flag              note
enqueue    parallelogram     parallelogram
return     rounded           ellipse
raise      hexagon           octagon
unknown    dashed rectangle  dashed box
=========  ================  ==================
"""

from __future__ import annotations

import re
from typing import Final

from jobtrail.flows.graph import FlowGraph, FlowNode

_MERMAID_SHAPES: Final = {
    "start": ("((", "))"),
    "end": ("((", "))"),
    "step": ("[", "]"),
    "effect": ("[[", "]]"),
    "decide": ("{", "}"),
    "exit": ("([", "])"),
    "event": (">", "]"),
    "enqueue": ("[/", "/]"),
    "return": ("(", ")"),
    "raise": ("{{", "}}"),
    "unknown": ("[", "]"),
}
_DOT_SHAPES: Final = {
    "start": "shape=circle",
    "end": "shape=doublecircle",
    "step": "shape=box",
    "effect": "shape=box3d",
    "decide": "shape=diamond",
    "exit": "shape=box, style=rounded",
    "event": "shape=note",
    "enqueue": "shape=parallelogram",
    "return": "shape=ellipse",
    "raise": "shape=octagon",
    "unknown": "shape=box, style=dashed",
}
_MERMAID_ESCAPES: Final = {'"': "#quot;", "<": "#lt;", ">": "#gt;"}


def to_mermaid(graph: FlowGraph) -> str:
    """A Mermaid ``flowchart TD``: shapes by kind, edge labels, unknown calls dashed."""
    ids = _mermaid_ids(graph)
    lines = ["flowchart TD", f"    %% {_comment(graph.job_name)}: {_comment(graph.function)}"]
    for node in graph.nodes.values():
        opening, closing = _MERMAID_SHAPES.get(node.kind, ("[", "]"))
        lines.append(f'    {ids[node.id]}{opening}"{_mermaid_text(node.label)}"{closing}')
    for edge in graph.edges:
        arrow = "-->" if edge.label is None else f'-->|"{_mermaid_text(edge.label)}"|'
        lines.append(f"    {ids[edge.src]} {arrow} {ids[edge.dst]}")
    unknown = [ids[node.id] for node in graph.of_kind("unknown")]
    if unknown:
        lines.append("    classDef unknown stroke-dasharray: 5 5")
        lines.append(f"    class {','.join(unknown)} unknown")
    return "\n".join(lines) + "\n"


def _mermaid_ids(graph: FlowGraph) -> dict[str, str]:
    """Mermaid-safe ids made from the node ids (``step:load`` → ``n_step_load``), unique.

    The ``n_`` prefix keeps ``end``, a Mermaid keyword, from being an id.
    """
    ids: dict[str, str] = {}
    used: set[str] = set()
    for node_id in graph.nodes:
        base = "n_" + re.sub(r"[^A-Za-z0-9_]", "_", node_id)
        candidate, n = base, 1
        while candidate in used:
            n += 1
            candidate = f"{base}_{n}"
        used.add(candidate)
        ids[node_id] = candidate
    return ids


def _mermaid_text(text: str) -> str:
    return "".join(_MERMAID_ESCAPES.get(char, char) for char in text)


def _comment(text: str) -> str:
    return text.replace("\n", " ")


def to_dot(graph: FlowGraph) -> str:
    """A Graphviz ``digraph`` named after the job, node ids quoted as they are."""
    lines = [
        f"digraph {_dot_string(graph.job_name)} {{",
        "    rankdir=TB;",
        '    node [fontname="Helvetica", fontsize=11];',
        '    edge [fontname="Helvetica", fontsize=10];',
    ]
    for node in graph.nodes.values():
        shape = _DOT_SHAPES.get(node.kind, "shape=box")
        lines.append(f"    {_dot_string(node.id)} [label={_dot_string(node.label)}, {shape}];")
    for edge in graph.edges:
        label = "" if edge.label is None else f" [label={_dot_string(edge.label)}]"
        lines.append(f"    {_dot_string(edge.src)} -> {_dot_string(edge.dst)}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def to_text(graph: FlowGraph) -> str:
    """An indented listing: each node with its line, then the edges leaving it.

    ```text
    job bill: billing.bill (billing.py)
      start
        -> step:load
      decide:is_paid  (line 13)
        -> exit:already_paid  [is_paid=true]
    ```
    """
    lines = [f"job {graph.job_name}: {graph.function} ({graph.file})"]
    leaving: dict[str, list[str]] = {node_id: [] for node_id in graph.nodes}
    for edge in graph.edges:
        label = "" if edge.label is None else f"  [{edge.label}]"
        leaving[edge.src].append(f"    -> {edge.dst}{label}")
    for node in graph.nodes.values():
        lines.append(f"  {_describe(node)}")
        lines.extend(leaving[node.id])
    if graph.notes:
        lines.append("notes:")
        lines.extend(f"  - {note}" for note in graph.notes)
    return "\n".join(lines) + "\n"


def _describe(node: FlowNode) -> str:
    if node.kind in ("start", "end"):
        return node.id
    detail = f": {node.label}" if node.kind in ("raise", "unknown") else ""
    return f"{node.id}  (line {node.line}){detail}"
