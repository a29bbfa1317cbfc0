"""`build_flow`: read a job function's source and build its static flow graph.

The walk follows Python's control flow over the syntax tree (stdlib `ast` only; the job
is never run). Nodes are made only for recordable points; everything in between is an
edge. How each construct is modelled:

- ``if``/``elif``/``else``, ``while``, conditional expressions, ``and``/``or``: when the
  test is ``ctx.decide(...)`` itself, ``not ctx.decide(...)``, or a decision compared
  with a literal (``==``, ``!=``, ``in``, ``not in``, ``is``, ``is not``), the decision's
  outgoing edges carry a `Guard`: ``is_paid=true`` / ``is_paid=false`` for truthiness
  (a decision used as a condition is taken to be a bool), ``tier=gold`` / ``tier!=gold``
  for a comparison. Any other test leaves both branches unguarded.
- ``match ctx.decide(...)``: one edge per case with the case's literal values (enum
  members and module constants are looked up); ``case _`` takes every value the cases
  before it did not; without one, an edge for "no case matched" unless the cases cover
  both booleans or every member of an enum.
- ``for``/``while``/comprehensions: the body runs zero or more times; the edge back to
  the body's first point is labelled ``loop``; ``break`` leaves past the ``else``.
- ``try``: every point in the body, and the body's entry, may jump to each handler that
  may catch an exception (``except`` classes are resolved to skip those that surely do
  not). An exception nothing catches is a failure and is not drawn, except an explicit
  ``raise``. ``ctx.exit`` raises `JobExit`, caught only by handlers that surely catch it.
- ``finally``: built once for falling through and once more for each other way out that
  actually crosses it (return, raise, exit, break, continue, an exception on its way to
  an outer handler), so that each way keeps its continuation: ``step:close`` and
  ``step:close#2``.
- ``return``/``raise`` lead to ``end``; ``return ctx.exit(...)`` and ``ctx.exit(...)``
  are the exit node and then ``end``. An edge that reaches ``end`` after a ``finally``
  copy is labelled with how the job is leaving (``return``, ``exit``, ``raise``).
- A call handing ``ctx`` to a module-level function of the same module is inlined (up to
  `inline_depth` deep; its ``return`` continues after the call). Any other call handing
  over ``ctx``, recursion, and a recording call whose name is not a literal become
  ``unknown`` nodes: what they record is not known.
- Nested functions, classes and lambdas are not followed (a note says so when they
  record points), nor is ``ctx`` bound to another name.
"""

from __future__ import annotations

import ast
import inspect
import os
from collections.abc import Callable
from typing import Any, Final

from jobtrail.flows import expressions, matching, resolve
from jobtrail.flows.declared import DeclaredJob
from jobtrail.flows.expressions import recorder
from jobtrail.flows.frames import Finally, Frame, Function, Loop, Scope, Try
from jobtrail.flows.graph import FlowGraph
from jobtrail.flows.raw import END, START, Frontier, Pending, RawGraph, merge

MAY_RAISE: Final = frozenset({"step", "effect", "decide", "event", "enqueue", "unknown"})
"""Kinds of node after which ordinary code runs, so an exception may follow them."""


def build_flow(
    job: Callable[..., Any] | DeclaredJob, *, job_name: str, ctx_name: str | None = None,
    inline_depth: int = 2,
) -> FlowGraph:
    """The static flow graph of job function `job` (a `DeclaredJob`, such as the `JobDef`
    ``@app.job`` makes, is read through its function).

    The context is the function's first parameter (none for a declared job that takes no
    context) unless `ctx_name` names it; helpers receiving it are inlined `inline_depth`
    calls deep. Raises `TypeError` when the function has no Python source (a builtin),
    `OSError` when it cannot be read.
    """
    # A declared job knows whether its function takes the context; a plain function is
    # assumed to.
    if isinstance(job, DeclaredJob):
        takes_context, fn = job.takes_context, inspect.unwrap(job.fn)
    else:
        takes_context, fn = True, inspect.unwrap(job)
    definition, offset, file = resolve.parse_function(fn)
    params = [*definition.args.posonlyargs, *definition.args.args]
    ctx = ctx_name if ctx_name is not None else (params[0].arg if params else None)
    if ctx_name is None and not takes_context:
        ctx = None
    scope = Scope(ctx, fn.__globals__, fn.__module__, offset)
    walker = Walker(scope, inline_depth, definition, offset)
    if ctx is None:
        walker.notes.append("the function takes no context: it records nothing")
    out = walker.block(definition.body, [Pending(START)])
    walker.graph.connect(out, END)
    function = f"{fn.__module__}.{fn.__qualname__}"
    return walker.graph.finish(job_name, function, _shown(file), walker.notes)


def _shown(file: str) -> str:
    """The file relative to the working directory when inside it, so graphs stay portable."""
    relative = os.path.relpath(file)
    return file if relative.startswith("..") else relative.replace(os.sep, "/")


class Walker:
    """The walk over one job function; `expressions` and `matching` extend it."""

    def __init__(self, scope: Scope, depth: int, fn: ast.FunctionDef | ast.AsyncFunctionDef,
                 offset: int) -> None:
        self.graph = RawGraph(offset + fn.lineno, offset + (fn.end_lineno or fn.lineno))
        self.scope = scope
        self.depth = depth
        self.frames: list[Frame] = []
        self.notes: list[str] = []

    # -- points and ways out ------------------------------------------------------------

    def line(self, node: ast.AST) -> int:
        return self.scope.offset + getattr(node, "lineno", 0)

    def point(self, kind: str, key: str, name: str | None, node: ast.AST, label: str,
              frontier: Frontier) -> int:
        line = self.line(node)
        index = self.graph.add(kind, key, name, line, label, self.scope.site or line)
        self.graph.connect(frontier, index)
        if kind in MAY_RAISE:
            self.leave("exception", [Pending(index)])
        return index

    def leave(self, way: str, frontier: Frontier, depth: int | None = None,
              raised: type | None = None) -> None:
        """Route control leaving by `way` outward through the enclosing frames."""
        level = len(self.frames) if depth is None else depth
        while frontier and level > 0:
            level -= 1
            frame = self.frames[level]
            if isinstance(frame, Finally):
                self.through_finally(frame, level, way, frontier, raised)
                return
            if isinstance(frame, Try) and way in ("exception", "raise", "exit"):
                if self.catch(frame, way, frontier, raised):
                    return
            elif isinstance(frame, Loop) and way in ("break", "continue"):
                (frame.breaks if way == "break" else frame.again).extend(frontier)
                return
            elif isinstance(frame, Function) and way == "return":
                frame.returns.extend(frontier)
                return
        if way in ("return", "exit", "raise"):
            self.graph.connect(frontier, END, way)
        # An exception nothing catches fails the job: a failure, not a path, so not drawn.

    def through_finally(self, frame: Finally, level: int, way: str, frontier: Frontier,
                        raised: type | None) -> None:
        if way == "exception" and not any(isinstance(f, Try) for f in self.frames[:level]):
            return  # no handler further out: the exception fails the job
        entry = frame.copies.get((way, raised))
        if entry is None:
            # One copy of the finally block per way out, so each keeps its own continuation.
            entry = frame.copies[(way, raised)] = self.graph.junction()
            frames, scope = self.frames, self.scope
            self.frames, self.scope = frames[:level], frame.scope
            out = self.block(frame.body, [Pending(entry)])
            self.leave(way, out, level, raised)
            self.frames, self.scope = frames, scope
        self.graph.connect(frontier, entry)

    def catch(self, frame: Try, way: str, frontier: Frontier, raised: type | None) -> bool:
        """Send the frontier to the handlers that may catch; True if one surely does."""
        for entry, handler in frame.handlers:
            if way == "exit":
                verdict: bool | None = resolve.catches_exit(handler, frame.namespace)
                taken = verdict is True
            else:
                verdict = resolve.catches(handler, raised, frame.namespace)
                taken = verdict is not False
            if taken:
                shown = ast.unparse(handler.type) if handler.type else ""
                self.graph.connect(frontier, entry, f"except {shown}".strip())
            if verdict is True:
                return True
        return False

    # -- statements ---------------------------------------------------------------------

    def block(self, body: list[ast.stmt], frontier: Frontier) -> Frontier:
        for index, statement in enumerate(body):
            if not frontier:
                self.unreachable(body[index:])
                break
            frontier = self.statement(statement, frontier)
        return frontier

    def statement(self, node: ast.stmt, frontier: Frontier) -> Frontier:
        match node:
            case ast.Expr() | ast.Assign() | ast.AnnAssign() | ast.AugAssign():
                if isinstance(node, ast.AugAssign):
                    frontier = self.expr(node.target, frontier)
                frontier = self.expr(node.value, frontier)
                for target in getattr(node, "targets", ()):
                    frontier = self.expr(target, frontier)
                return frontier
            case ast.Return():
                return self.returning(node, frontier)
            case ast.Raise():
                return self.raising(node, frontier)
            case ast.If():
                yes, no = self.cond(node.test, frontier)
                return merge(self.block(node.body, yes), self.block(node.orelse, no))
            case ast.While():
                body = node.body
                return self.loop(frontier, node.test, lambda f: self.block(body, f), node.orelse)
            case ast.For() | ast.AsyncFor():
                frontier, body = self.expr(node.iter, frontier), node.body
                return self.loop(frontier, None, lambda f: self.block(body, f), node.orelse)
            case ast.Break() | ast.Continue():
                way = "break" if isinstance(node, ast.Break) else "continue"
                labelled = [p.labelled("break") for p in frontier] if way == "break" else frontier
                self.leave(way, labelled)
                return []
            case ast.With() | ast.AsyncWith():
                for item in node.items:
                    frontier = self.expr(item.context_expr, frontier)
                return self.block(node.body, frontier)
            case ast.Try() | ast.TryStar():
                return self.trying(node, frontier)
            case ast.Match():
                return matching.match_statement(self, node, frontier)
            case ast.FunctionDef() | ast.AsyncFunctionDef() | ast.ClassDef():
                what = "class" if isinstance(node, ast.ClassDef) else "function"
                self.not_followed(node, f"nested {what} {node.name}")
                return frontier
            case _:
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.expr):
                        frontier = self.expr(child, frontier)
                return frontier

    def returning(self, node: ast.Return, frontier: Frontier) -> Frontier:
        frontier = self.expr(node.value, frontier)
        if frontier and self.scope.chain:  # a helper's return continues after its call
            self.leave("return", frontier)
        elif frontier:
            index = self.point("return", "return", None, node, "return", frontier)
            self.leave("return", [Pending(index)])
        return []

    def raising(self, node: ast.Raise, frontier: Frontier) -> Frontier:
        frontier = self.expr(node.cause, self.expr(node.exc, frontier))
        if frontier:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            name = ast.unparse(target) if target is not None else None
            label = f"raise {name}" if name else "raise"
            index = self.point("raise", "raise", name, node, label, frontier)
            raised = resolve.exception_class(node.exc, self.scope.namespace)
            self.leave("raise", [Pending(index)], raised=raised)
        return []

    def loop(self, frontier: Frontier, test: ast.expr | None,
             body: Callable[[Frontier], Frontier], orelse: list[ast.stmt]) -> Frontier:
        """A loop whose body runs zero or more times; the back edge is labelled ``loop``."""
        first = self.graph.junction()
        self.graph.connect(frontier, first)
        before = self.graph.points
        entry = [Pending(first)]
        yes, no = self.cond(test, entry) if test is not None else (entry, entry)
        records = self.graph.points != before
        if not records:
            # The test records nothing, so a new round starts at the body's first point:
            # a junction of its own keeps "loop" off the edges that leave the loop.
            head = self.graph.junction()
            self.graph.connect(yes, head)
            yes = [Pending(head)]
        frame = Loop()
        self.frames.append(frame)
        back = merge(body(yes), frame.again)
        self.frames.pop()
        if records:
            self.graph.connect(back, first, "loop")
            exits = no
        else:
            again = self.graph.junction()
            self.graph.connect(back, again)
            self.graph.connect([Pending(again)], head, "loop")
            exits = merge(no, back) if no else []
        return merge(self.block(orelse, exits), frame.breaks)

    def trying(self, node: ast.Try | ast.TryStar, frontier: Frontier) -> Frontier:
        final: Finally | None = None
        if node.finalbody:
            # The fall-through copy is built first so that it gets the plain ids.
            final_entry = self.graph.junction()
            final_out = self.block(node.finalbody, [Pending(final_entry)])
            final = Finally(node.finalbody, self.scope)
            self.frames.append(final)
        handlers = [(self.graph.junction(), handler) for handler in node.handlers]
        if handlers:
            self.frames.append(Try(handlers, self.scope.namespace))
            self.leave("exception", frontier)  # before the body's first point
        out = self.block(node.body, frontier)
        if handlers:
            self.frames.pop()
        out = self.block(node.orelse, out)
        for entry, handler in handlers:
            out = merge(out, self.block(handler.body, [Pending(entry)]))
        if final is not None:
            self.frames.pop()
            self.graph.connect(out, final_entry)
            out = final_out if out else []
        return out

    def unreachable(self, body: list[ast.stmt]) -> None:
        if any(self.records(statement) for statement in body):
            self.notes.append(f"line {self.line(body[0])}: unreachable code is not shown")

    def not_followed(self, node: ast.AST, what: str) -> None:
        if self.records(node):
            self.notes.append(f"line {self.line(node)}: {what} records points; not followed")

    def records(self, node: ast.AST) -> bool:
        return any(recorder(child, self.scope.ctx) for child in ast.walk(node))

    # -- expressions and conditions live in jobtrail.flows.expressions ------------------

    def expr(self, node: ast.expr | None, frontier: Frontier) -> Frontier:
        return expressions.expression(self, node, frontier)

    def cond(self, node: ast.expr, frontier: Frontier) -> tuple[Frontier, Frontier]:
        return expressions.condition(self, node, frontier)
