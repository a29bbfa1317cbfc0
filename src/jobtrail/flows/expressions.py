"""The points an expression records, in evaluation order, and how a condition splits control.

Python evaluates a call's callee and arguments before the call, operands left to right,
and ``and``/``or``/``x if c else y`` lazily; the walk does the same, so
``ctx.step("save", f, ctx.step("load", g))`` is ``load`` then ``save``. A condition
returns two frontiers, the edges taken when it is true and when it is false; a
decision tested directly puts a `Guard` on each (see `jobtrail.flows.builder`).
"""

from __future__ import annotations

import ast
from typing import Final

from jobtrail.flows import resolve
from jobtrail.flows.declared import DeclaredJob
from jobtrail.flows.frames import Function, Scope
from jobtrail.flows.graph import Guard
from jobtrail.flows.raw import Frontier, Pending, merge
from jobtrail.flows.walk import Walk
from jobtrail.records import PointKind

RECORDERS: Final = frozenset({*PointKind, "enqueue"})
"""The methods of the context that record a point."""

TRUE: Final = Guard(("true",))
FALSE: Final = Guard(("false",))
_NEGATED: Final[dict[type[ast.cmpop], bool]] = {
    ast.Eq: False, ast.Is: False, ast.In: False, ast.NotEq: True, ast.IsNot: True, ast.NotIn: True,
}
_NAME_KEYWORD: Final = {"decide": "name", "event": "name", "exit": "reason"}


def recorder(node: ast.AST, ctx: str | None) -> str | None:
    """The method of ``ctx.<method>(...)`` when `node` is a recording call, else ``None``."""
    if ctx is None or not isinstance(node, ast.Call):
        return None
    func = node.func
    if not isinstance(func, ast.Attribute) or func.attr not in RECORDERS:
        return None
    owner = func.value
    return func.attr if isinstance(owner, ast.Name) and owner.id == ctx else None


def expression(walker: Walk, node: ast.expr | None, frontier: Frontier) -> Frontier:
    """The frontier after evaluating `node`, with the points it records added."""
    if node is None or not frontier:
        return frontier
    match node:
        case ast.Call():
            return call(walker, node, frontier)
        case ast.IfExp():
            yes, no = condition(walker, node.test, frontier)
            return merge(expression(walker, node.body, yes), expression(walker, node.orelse, no))
        case ast.BoolOp():
            return merge(*boolean(walker, node, frontier))
        case ast.Lambda():
            walker.not_followed(node, "a lambda")
            return frontier
        case ast.ListComp() | ast.SetComp() | ast.GeneratorExp() | ast.DictComp():
            return comprehension(walker, node, frontier)
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.keyword):
            child = child.value
        if isinstance(child, ast.expr):
            frontier = expression(walker, child, frontier)
    return frontier


def condition(walker: Walk, node: ast.expr, frontier: Frontier) -> tuple[Frontier, Frontier]:
    """The frontiers when `node` is true and when it is false."""
    if not frontier:
        return [], []
    match node:
        case ast.UnaryOp(op=ast.Not()):
            yes, no = condition(walker, node.operand, frontier)
            return no, yes
        case ast.BoolOp():
            return boolean(walker, node, frontier)
        case ast.NamedExpr():
            return condition(walker, node.value, frontier)
        case ast.Constant():
            return (frontier, []) if node.value else ([], frontier)
    guards = _decision_test(walker, node)
    out = expression(walker, node, frontier)
    if guards is not None and len(out) == 1:
        only = out[0]
        if walker.graph.kind(only.src) == "decide" and only.guard is None and not only.labels:
            return [Pending(only.src, guard=guards[0])], [Pending(only.src, guard=guards[1])]
    return out, out


def _decision_test(walker: Walk, node: ast.expr) -> tuple[Guard, Guard] | None:
    """The guards for true and false when `node` tests a decision's value directly."""
    ctx = walker.scope.ctx
    if recorder(node, ctx) == "decide":
        return TRUE, FALSE
    if not isinstance(node, ast.Compare) or len(node.ops) != 1:
        return None
    op, left, right = type(node.ops[0]), node.left, node.comparators[0]
    if op not in _NEGATED:
        return None
    if recorder(right, ctx) == "decide" and op in (ast.Eq, ast.NotEq):
        left, right = right, left  # "gold" == ctx.decide(...)
    is_list = isinstance(right, ast.Tuple | ast.List | ast.Set)
    if recorder(left, ctx) != "decide" or is_list != (op in (ast.In, ast.NotIn)):
        return None
    values = resolve.literal_values(right, walker.scope.namespace)
    if values is None:
        return None
    negated = _NEGATED[op]
    return Guard(values, negated), Guard(values, not negated)


def boolean(walker: Walk, node: ast.BoolOp, frontier: Frontier) -> tuple[Frontier, Frontier]:
    """``a and b`` / ``a or b``, short-circuited: each operand runs only when it must."""
    conjunction = isinstance(node.op, ast.And)
    yes: Frontier = []
    no: Frontier = []
    current = frontier
    for value in node.values:
        value_yes, value_no = condition(walker, value, current)
        if conjunction:
            no, current = merge(no, value_no), value_yes
        else:
            yes, current = merge(yes, value_yes), value_no
    return (current, no) if conjunction else (yes, current)


def comprehension(
    walker: Walk, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp,
    frontier: Frontier,
) -> Frontier:
    """A comprehension as a loop: its element is evaluated zero or more times."""
    generators = node.generators
    frontier = expression(walker, generators[0].iter, frontier)

    def body(current: Frontier) -> Frontier:
        skipped: Frontier = []
        for index, generator in enumerate(generators):
            if index:
                current = expression(walker, generator.iter, current)
            for test in generator.ifs:
                current, no = condition(walker, test, current)
                skipped = merge(skipped, no)
        results = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for result in results:
            current = expression(walker, result, current)
        return merge(current, skipped)

    return walker.loop(frontier, None, body, [])


def call(walker: Walk, node: ast.Call, frontier: Frontier) -> Frontier:
    """A call: its callee and arguments first, then what the call itself records."""
    method = recorder(node, walker.scope.ctx)
    if method is None:
        frontier = expression(walker, node.func, frontier)
    for argument in [*node.args, *(keyword.value for keyword in node.keywords)]:
        frontier = expression(walker, argument, frontier)
    if not frontier:
        return []
    if method is not None:
        return _recording(walker, node, method, frontier)
    ctx = walker.scope.ctx
    if ctx is not None and resolve.passes(node, ctx):
        return _handing_over(walker, node, ctx, frontier)
    return frontier


def _recording(walker: Walk, node: ast.Call, method: str, frontier: Frontier) -> Frontier:
    name = _point_name(walker, node, method)
    if name is None:
        walker.notes.append(
            f"line {walker.line(node)}: ctx.{method}(...) has no literal name; shown as unknown"
        )
        key, label = f"unknown:ctx.{method}", f"? ctx.{method}(...)"
        index = walker.point("unknown", key, None, node, label, frontier)
    else:
        key = f"{method}:{name}"
        label = name if method == "step" else f"{name}?" if method == "decide" else key
        index = walker.point(method, key, name, node, label, frontier)
    if method == "exit":  # ctx.exit raises: nothing after it runs
        walker.leave("exit", [Pending(index)])
        return []
    return [Pending(index)]


def _point_name(walker: Walk, node: ast.Call, method: str) -> str | None:
    """The literal name of a recording call, or for ``enqueue`` the child job's name."""
    keyword = _NAME_KEYWORD.get(method)
    first = node.args[0] if node.args else next(
        (k.value for k in node.keywords if k.arg is not None and k.arg == keyword), None
    )
    if method == "enqueue":
        if isinstance(first, ast.Name | ast.Attribute):
            job = resolve.lookup(first, walker.scope.namespace)
            return job.name if isinstance(job, DeclaredJob) else ast.unparse(first)
        return None
    if isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value:
        return first.value
    return None


def _handing_over(walker: Walk, node: ast.Call, ctx: str, frontier: Frontier) -> Frontier:
    """A call that receives the context: inlined when it is a helper here, else unknown."""
    scope = walker.scope
    callee = ast.unparse(node.func)
    found = resolve.helper(node.func, scope.namespace, scope.module)
    line = walker.line(node)
    if found is None:
        reason = "not a module-level function of this module"
    elif found.__qualname__ in scope.chain:
        reason = "recursive"
    elif len(scope.chain) >= walker.depth:
        reason = f"deeper than inline_depth={walker.depth}"
    else:
        definition, offset, _ = resolve.parse_function(found)
        param = resolve.bound_parameter(definition, node, ctx)
        if param is not None:
            walker.notes.append(f"line {line}: {callee}(...) is inlined")
            chain = (*scope.chain, found.__qualname__)
            inner = Scope(param, found.__globals__, found.__module__, offset, scope.site or line,
                          chain)
            frame = Function()
            walker.scope = inner
            walker.frames.append(frame)
            out = walker.block(definition.body, frontier)
            walker.frames.pop()
            walker.scope = scope
            return merge(out, frame.returns)
        reason = "cannot tell which parameter receives ctx"
    walker.notes.append(f"line {line}: {callee}(...) receives ctx and is not followed ({reason})")
    index = walker.point("unknown", f"unknown:{callee}", callee, node, f"? {callee}(...)", frontier)
    return [Pending(index)]
