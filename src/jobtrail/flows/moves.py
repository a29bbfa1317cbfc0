"""A flow graph's edges as the path language reads them, shared by `language` and `comparison`.

Each edge, read from its source node, says what a run records when control takes it:
leaving a step, effect or exit node records that point; leaving a decision records the
decision with a value the edge's `Guard` allows (any value without one); leaving any other
node (start, event, enqueue, return, raise, unknown) records nothing in the language. An
edge into ``end`` also says how the run ends: the kind of the node it leaves when that is
``return``, ``exit`` or ``raise``, or the way out an edge after a ``finally`` copy is
labelled with; otherwise ``end`` (the function fell off its end).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Literal

from jobtrail.expect import Symbol
from jobtrail.expect.nodes import Atom
from jobtrail.flows.graph import PATH_KINDS, FlowGraph, Guard

Unknown = Literal["anything", "nothing"]
"""How ``unknown`` nodes are read: recording any symbols (none included), or none."""

ENDINGS: Final = ("return", "exit", "raise")


@dataclass(frozen=True, slots=True)
class Move:
    """One edge as the language reads it."""

    dst: str
    kind: str | None  # the kind of symbol recorded; None when nothing is
    name: str | None
    guard: Guard | None
    ending: str  # for an edge into end: how the run ends

    def matches(self, symbol: Symbol) -> bool:
        """True when taking this edge can record `symbol`."""
        return (
            self.kind == symbol.kind
            and self.name == symbol.name
            and (self.guard is None or self.guard.allows(symbol.value))
        )

    def tokens(self) -> Iterator[str | None]:
        """The tokens `code_paths` writes for this move: one per value of an exact guard."""
        if self.kind is None or self.name is None:
            yield None
        elif self.guard is not None and not self.guard.negated:
            for value in self.guard.values:
                yield str(Symbol(self.kind, self.name, value))
        else:
            yield str(Atom(self.kind, self.name))


def moves_of(graph: FlowGraph) -> dict[str, list[Move]]:
    """Every node's outgoing edges as moves, in graph order."""
    moves: dict[str, list[Move]] = {node: [] for node in graph.nodes}
    for edge in graph.edges:
        src = graph.nodes[edge.src]
        recorded = src.kind in PATH_KINDS and src.name is not None
        moves[edge.src].append(Move(
            edge.dst,
            src.kind if recorded else None,
            src.name if recorded else None,
            edge.guard if src.kind == "decide" else None,
            ending(src.kind, edge.label),
        ))
    return moves


def ending(kind: str, label: str | None) -> str:
    """How a run that takes an edge into ``end`` from a node of `kind` ends."""
    if kind in ENDINGS:
        return kind
    parts = [part for part in (label or "").split(", ") if part in ENDINGS]
    return parts[-1] if parts else "end"
