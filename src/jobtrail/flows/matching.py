"""``match`` statements: one edge per case, with values when the subject is a decision.

On ``match ctx.decide("tier", t)`` each case's edge leaves the decision node with a
`Guard`: the case's literal values (``tier=gold``; ``case "a" | "b"`` is ``tier=a,b``;
enum members and module constants are looked up), ``case _`` or a bare capture every
value no earlier case took (``tier!=gold,silver``), a pattern that is not a literal
any value (``tier=*``). Without an irrefutable case, one more edge stands for "no case
matched" (``tier!=gold,silver``), unless the cases cover both booleans or every member
of an enum they name. On any other subject, case edges are labelled ``case <pattern>``.

A case guard (``case x if ...``) is a condition on the case's edge; when it records
points itself, its false branch is drawn as leaving the ``match`` (a simplification:
Python would try the next cases).
"""

from __future__ import annotations

import ast

from jobtrail.flows import resolve
from jobtrail.flows.expressions import recorder
from jobtrail.flows.graph import Guard
from jobtrail.flows.raw import Frontier, Pending, merge
from jobtrail.flows.walk import Walk


def match_statement(walker: Walk, node: ast.Match, frontier: Frontier) -> Frontier:
    """The frontier after a ``match`` statement."""
    namespace = walker.scope.namespace
    subject = node.subject.value if isinstance(node.subject, ast.NamedExpr) else node.subject
    frontier = walker.expr(node.subject, frontier)
    decision: int | None = None
    if recorder(subject, walker.scope.ctx) == "decide" and len(frontier) == 1:
        only = frontier[0]
        if walker.graph.kind(only.src) == "decide" and only.guard is None and not only.labels:
            decision = only.src
    outs: Frontier = []
    taken: list[str] = []  # values of earlier cases without a guard
    for case in node.cases:
        values = resolve.pattern_values(case.pattern, namespace)
        catch_all = resolve.irrefutable(case.pattern)
        if decision is not None:
            if values is not None:
                guard = Guard(values)
            else:
                guard = Guard(tuple(dict.fromkeys(taken)) if catch_all else (), negated=True)
            entry = [Pending(decision, guard=guard)]
        else:
            entry = [p.labelled(f"case {ast.unparse(case.pattern)}") for p in frontier]
        if case.guard is not None:
            before = walker.graph.points
            entry, failed = walker.cond(case.guard, entry)
            if walker.graph.points != before:
                outs = merge(outs, failed)
        outs = merge(outs, walker.block(case.body, entry))
        if case.guard is None:
            taken.extend(values or ())
            if catch_all:
                return outs
    if decision is None:
        return merge(outs, [p.labelled("no case") for p in frontier])
    unguarded = [case.pattern for case in node.cases if case.guard is None]
    if resolve.exhaustive(taken, resolve.enum_classes(unguarded, namespace)):
        return outs
    return merge(outs, [Pending(decision, guard=Guard(tuple(dict.fromkeys(taken)), negated=True))])
