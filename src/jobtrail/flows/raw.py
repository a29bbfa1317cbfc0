"""The graph while it is being built: junction nodes allowed, ids provisional.

The builder joins control flow freely through *junction* nodes (the head of a loop,
the entry of an ``except`` handler, the start of a ``finally`` copy) so that it never
needs to know which recordable point comes next. `RawGraph.finish` then removes the
junctions, joining each point directly to the points after them and concatenating
the labels met on the way; drops what ``start`` cannot reach; orders the nodes by
source line; and only then gives out the final, name-keyed ids, so that code the
builder laid out but control never reaches leaves no gap in the numbering.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Final

from jobtrail.flows.graph import FlowEdge, FlowGraph, FlowNode, Guard

START: Final = 0
END: Final = 1
NUMBERED: Final = frozenset({"return", "raise"})
"""Kinds whose ids always carry their occurrence (``return#1``): they have no name."""


@dataclass(frozen=True, slots=True)
class Pending:
    """An edge that leaves `src` and waits for the node control reaches next."""

    src: int
    labels: tuple[str, ...] = ()
    guard: Guard | None = None

    def labelled(self, label: str) -> Pending:
        return replace(self, labels=(*self.labels, label))


Frontier = list[Pending]


@dataclass(frozen=True, slots=True)
class RawNode:
    """A node under construction; `kind` ``"junction"`` marks one that `finish` removes.

    `key` is the id before numbering (``step:load``, ``return``); `site` the line in the
    job function the node comes from (the call's line for inlined helper code), which
    orders the nodes.
    """

    kind: str
    key: str
    name: str | None
    line: int
    label: str
    site: int


@dataclass(frozen=True, slots=True)
class RawEdge:
    src: int
    dst: int
    labels: tuple[str, ...]
    guard: Guard | None


def merge(*frontiers: Frontier) -> Frontier:
    """The frontiers joined, each pending edge once, in order."""
    return list(dict.fromkeys(p for frontier in frontiers for p in frontier))


class RawGraph:
    """Nodes and edges in creation order; `START` and `END` exist from the outset."""

    def __init__(self, first_line: int, last_line: int) -> None:
        self.nodes: list[RawNode] = [
            RawNode("start", "start", None, first_line, "start", first_line),
            RawNode("end", "end", None, last_line, "end", last_line),
        ]
        self.edges: list[RawEdge] = []
        self.points = 0
        """How many recordable nodes exist: a test that adds none records nothing."""

    def add(self, kind: str, key: str, name: str | None, line: int, label: str, site: int) -> int:
        self.nodes.append(RawNode(kind, key, name, line, label, site))
        self.points += 1
        return len(self.nodes) - 1

    def junction(self) -> int:
        self.nodes.append(RawNode("junction", "", None, 0, "", 0))
        return len(self.nodes) - 1

    def kind(self, index: int) -> str:
        return self.nodes[index].kind

    def connect(self, frontier: Frontier, dst: int, label: str | None = None) -> None:
        for pending in frontier:
            labels = pending.labels if label is None else (*pending.labels, label)
            self.edges.append(RawEdge(pending.src, dst, labels, pending.guard))

    def finish(self, job_name: str, function: str, file: str, notes: list[str]) -> FlowGraph:
        """The finished graph: junctions contracted, unreachable nodes dropped, ids given."""
        edges = self._contract()
        reachable = self._reachable(edges)
        inner = [i for i in reachable if i not in (START, END)]
        order = [START, *sorted(inner, key=lambda i: (self.nodes[i].site, i)), END]
        ids = self._ids(order)
        nodes = {ids[i]: self._node(ids[i], i) for i in order}
        position = {index: rank for rank, index in enumerate(order)}
        flow_edges: dict[FlowEdge, tuple[int, int, str]] = {}
        for edge in edges:
            if edge.src in reachable:
                flow = FlowEdge(ids[edge.src], ids[edge.dst], self._label(edge), edge.guard)
                key = (position[edge.src], position[edge.dst], flow.label or "")
                flow_edges.setdefault(flow, key)
        ordered = tuple(sorted(flow_edges, key=lambda e: flow_edges[e]))
        unique_notes = tuple(dict.fromkeys(notes))
        return FlowGraph(job_name, function, file, nodes, ordered, "start", "end", unique_notes)

    def _contract(self) -> list[RawEdge]:
        """Every edge from a real node, followed through junctions to the real nodes beyond."""
        out: dict[int, list[RawEdge]] = {}
        for edge in self.edges:
            out.setdefault(edge.src, []).append(edge)
        result: list[RawEdge] = []
        for src, node in enumerate(self.nodes):
            if node.kind == "junction":
                continue
            for first in out.get(src, []):
                # Depth-first through junctions; a junction seen with the same labels
                # adds nothing new, which also stops loops made only of junctions.
                todo = [(first.dst, first.labels)]
                seen: set[tuple[int, tuple[str, ...]]] = set()
                while todo:
                    dst, labels = todo.pop()
                    if self.nodes[dst].kind != "junction":
                        result.append(RawEdge(src, dst, labels, first.guard))
                        continue
                    if (dst, labels) in seen:
                        continue
                    seen.add((dst, labels))
                    for edge in reversed(out.get(dst, [])):
                        todo.append((edge.dst, _join(labels, edge.labels)))
        return result

    def _reachable(self, edges: list[RawEdge]) -> set[int]:
        out: dict[int, list[int]] = {}
        for edge in edges:
            out.setdefault(edge.src, []).append(edge.dst)
        seen, todo = {START}, [START]
        while todo:
            for dst in out.get(todo.pop(), []):
                if dst not in seen:
                    seen.add(dst)
                    todo.append(dst)
        return seen | {END}

    def _ids(self, order: list[int]) -> dict[int, str]:
        counts: Counter[str] = Counter()
        ids: dict[int, str] = {}
        for index in order:
            key = self.nodes[index].key
            counts[key] += 1
            n = counts[key]
            numbered = self.nodes[index].kind in NUMBERED or n > 1
            ids[index] = f"{key}#{n}" if numbered else key
        return ids

    def _node(self, node_id: str, index: int) -> FlowNode:
        raw = self.nodes[index]
        return FlowNode(node_id, raw.kind, raw.name, raw.line, raw.label)

    def _label(self, edge: RawEdge) -> str | None:
        src = self.nodes[edge.src]
        parts = list(edge.labels)
        if edge.guard is not None and src.name is not None:
            parts.insert(0, edge.guard.text(src.name))
        if edge.dst == END:
            # "return" on the edge from a return node says nothing; after a finally
            # block it tells how the job is leaving.
            parts = [part for part in parts if part != src.kind]
        parts = list(dict.fromkeys(parts))
        return ", ".join(parts) if parts else None


def _join(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*first, *second)))
