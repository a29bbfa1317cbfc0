"""The data of a static flow graph: nodes for the points a job can record, edges between them.

A `FlowGraph` is what `jobtrail.flows.build_flow` reads out of a job function's source.
Its nodes are only the *recordable* points (``ctx.step``, ``ctx.effect``, ``ctx.decide``,
``ctx.exit``, ``ctx.event``, ``ctx.enqueue``), the statements that end the job
(``return``, ``raise``), calls the builder could not follow (``unknown``) and the two ends,
``start`` and ``end``. Everything between two such points is folded into the edge
that joins them.

Node ids are keyed by names, never by line numbers, so that moving code around does
not change them and a stored graph diffs meaningfully:

=====================  ==================================================
``start``, ``end``     the two ends
``step:load``          the first ``ctx.step("load", ...)``; ``step:load#2`` the next
``effect:charge``      likewise for effects, decisions, exits, events
``enqueue:send_mail``  a child job, by its registered name when known
``return#1``           returns and raises are numbered in source order
``unknown:audit.log``  a call that received ``ctx`` and was not followed
``unknown:ctx.step``   a recording call whose name is not a literal
=====================  ==================================================

An edge leaving a decision may carry a `Guard`: the values of the decision for which
control takes that edge (``is_paid=true``). Edge labels are for people (``is_paid=true``,
``tier!=gold``, ``except ValueError``, ``break``, ``loop``, ``case "gold"``); the guard is
what `jobtrail.flows.language` reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from jobtrail.expect.nodes import quote_value
from jobtrail.records import VARIANT_POINTS

NODE_KINDS: Final = (
    "start",
    "end",
    "step",
    "effect",
    "decide",
    "exit",
    "event",
    "enqueue",
    "return",
    "raise",
    "unknown",
)
"""Every kind of `FlowNode`."""

PATH_KINDS: Final = VARIANT_POINTS
"""The kinds whose points are symbols of the path language (events and the rest are not)."""


@dataclass(frozen=True, slots=True)
class Guard:
    """The decision values for which an edge is taken, as the path language writes them.

    ``Guard(("true",))`` is exactly ``true``; ``Guard(("gold", "silver"))`` either value;
    ``Guard(("gold",), negated=True)`` any value but ``gold``; ``Guard((), negated=True)``
    any value at all.
    """

    values: tuple[str, ...]
    negated: bool = False

    def allows(self, value: str | None) -> bool:
        """True when a decision recorded with `value` can take this edge."""
        return (value in self.values) != self.negated

    @property
    def is_any(self) -> bool:
        """True when every value takes the edge."""
        return self.negated and not self.values

    def text(self, name: str) -> str:
        """The label for decision `name`: ``tier=gold``, ``tier=gold,silver``, ``tier!=gold``,
        ``tier=*`` (any value)."""
        if self.is_any:
            return f"{name}=*"
        values = ",".join(quote_value(value) for value in self.values)
        return f"{name}{'!=' if self.negated else '='}{values}"


@dataclass(frozen=True, slots=True)
class FlowNode:
    """One recordable point of a job (or one of its ends).

    `kind` is one of `NODE_KINDS`; `name` is the point's name (``"load"``), the exception
    raised, the callee of an unknown call, or ``None`` when there is none or it is not a
    literal; `line` is the line in the file the code comes from (a helper's own file
    line for inlined code); `label` the short text shown in renderings.
    """

    id: str
    kind: str
    name: str | None
    line: int
    label: str

    @property
    def token(self) -> str | None:
        """The node in the path language without a value (``load``, ``effect:charge``,
        ``decide:is_paid``, ``exit:done``), or ``None`` for a kind the language lacks."""
        if self.kind not in PATH_KINDS or self.name is None:
            return None
        return self.name if self.kind == "step" else f"{self.kind}:{self.name}"


@dataclass(frozen=True, slots=True)
class FlowEdge:
    """Control can go from node `src` to node `dst`; `label` says when, for people.

    `guard` is set only on edges leaving a decision whose value the code branches on.
    """

    src: str
    dst: str
    label: str | None = None
    guard: Guard | None = None


@dataclass(frozen=True)
class FlowGraph:
    """The static flow graph of one job function.

    `nodes` is ordered: ``start`` first, then the points in source order (inlined helper
    code where it is called, ``finally`` copies where they are built), ``end`` last.
    `edges` are sorted by that order of their source, then of their target, then label.
    `notes` say what the builder could not see or chose to simplify.
    """

    job_name: str
    function: str
    file: str
    nodes: dict[str, FlowNode]
    edges: tuple[FlowEdge, ...]
    start: str = "start"
    end: str = "end"
    notes: tuple[str, ...] = ()

    def out_edges(self, node_id: str) -> tuple[FlowEdge, ...]:
        """The edges leaving `node_id`, in graph order."""
        return tuple(edge for edge in self.edges if edge.src == node_id)

    def in_edges(self, node_id: str) -> tuple[FlowEdge, ...]:
        """The edges reaching `node_id`, in graph order."""
        return tuple(edge for edge in self.edges if edge.dst == node_id)

    def of_kind(self, kind: str) -> tuple[FlowNode, ...]:
        """The nodes of `kind`, in graph order."""
        return tuple(node for node in self.nodes.values() if node.kind == kind)

    @property
    def uncertain(self) -> bool:
        """True when some call was not followed (an ``unknown`` node): what it records is
        not known."""
        return any(node.kind == "unknown" for node in self.nodes.values())
