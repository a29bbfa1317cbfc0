"""``unreachable``: a recording call that can never run.

A recording call (``ctx.step/effect/decide/exit/event/enqueue``) after a statement that
always ends its block (``return``, ``raise``, ``break``, ``continue``, ``ctx.exit(...)``,
an ``if``/``else`` whose every branch ends, a ``while True:`` without ``break``) in the
same block, or in the body of ``if <false constant>:``/``while <false constant>:``, the
``else`` of ``if <true constant>:`` or of ``while <true constant>:``. Nothing else is
called unreachable (``try`` and ``with`` are never taken to end a block, since handlers
and context managers can resume), so a finding is never a false alarm.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from jobtrail.flows.lint.config import UNREACHABLE
from jobtrail.flows.lint.subject import SCOPES, Subject, clip


def check(subject: Subject) -> None:
    """Report every recording call of the job that no run can reach."""
    _unreachable(subject, subject.node.body)


def _unreachable(subject: Subject, body: Sequence[ast.stmt]) -> None:
    for index, statement in enumerate(body):
        _unreachable_within(subject, statement)
        ending = _ends(subject, statement)
        if ending is not None:
            _never_runs(subject, body[index + 1:], f"it comes after {ending}")
            return


def _unreachable_within(subject: Subject, statement: ast.stmt) -> None:
    match statement:
        case ast.If(test=ast.Constant(value=value)):
            dead, live = (statement.orelse, statement.body) if value else \
                (statement.body, statement.orelse)
            where = "the else of" if value else "the body of"
            _never_runs(subject, dead, f"it is in {where} `if "
                                       f"{clip(ast.unparse(statement.test))}:` on line "
                                       f"{subject.line(statement)}")
            _unreachable(subject, live)
        case ast.While(test=ast.Constant(value=value)):
            dead, live = (statement.orelse, statement.body) if value else \
                (statement.body, statement.orelse)
            where = "the else of" if value else "the body of"
            _never_runs(subject, dead, f"it is in {where} `while "
                                       f"{clip(ast.unparse(statement.test))}:` on line "
                                       f"{subject.line(statement)}")
            _unreachable(subject, live)
        case ast.If() | ast.For() | ast.AsyncFor() | ast.While():
            _unreachable(subject, statement.body)
            _unreachable(subject, statement.orelse)
        case ast.With() | ast.AsyncWith() | ast.FunctionDef() | ast.AsyncFunctionDef() \
                | ast.ClassDef():
            _unreachable(subject, statement.body)
        case ast.Try() | ast.TryStar():
            _unreachable(subject, statement.body)
            for handler in statement.handlers:
                _unreachable(subject, handler.body)
            _unreachable(subject, statement.orelse)
            _unreachable(subject, statement.finalbody)
        case ast.Match():
            for case in statement.cases:
                _unreachable(subject, case.body)
        case _:
            pass


def _ends(subject: Subject, statement: ast.stmt) -> str | None:
    """How *statement* always ends the block it is in, or ``None`` when it may not."""
    line = subject.line(statement)
    match statement:
        case ast.Return() | ast.Raise() | ast.Break() | ast.Continue():
            return f"`{clip(ast.unparse(statement), 40)}` on line {line}"
        case ast.Expr(value=value) if subject.is_ctx_call(value, "exit"):
            return f"`{clip(ast.unparse(value), 40)}` on line {line}"
        case ast.If(test=ast.Constant(value=value)):
            return _block_ends(subject, statement.body if value else statement.orelse)
        case ast.If():
            if _block_ends(subject, statement.body) and _block_ends(subject, statement.orelse):
                return f"the if/else on line {line}, whose every branch ends"
            return None
        case ast.While(test=ast.Constant(value=value)) if value and not _breaks(
                statement.body):
            return f"`while {ast.unparse(statement.test)}:` on line {line}, which has no break"
        case _:
            return None


def _block_ends(subject: Subject, body: Sequence[ast.stmt]) -> str | None:
    for statement in body:
        ending = _ends(subject, statement)
        if ending is not None:
            return ending
    return None


def _never_runs(subject: Subject, statements: Sequence[ast.stmt], cause: str) -> None:
    for statement in statements:
        for node in ast.walk(statement):
            if subject.is_ctx_call(node):
                assert isinstance(node, ast.Call)
                subject.add(UNREACHABLE, node,
                            f"job {subject.job!r}: `{subject.label(node)}` can never run: "
                            f"{cause}; move it before that or remove it")


def _breaks(body: Sequence[ast.stmt]) -> bool:
    """True when a ``break`` in *body* leaves this loop (not a nested loop or function)."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Break):
            return True
        if isinstance(node, ast.For | ast.AsyncFor | ast.While):
            stack.extend(node.orelse)  # a break in a nested loop's else leaves this one
            continue
        if not isinstance(node, SCOPES):
            stack.extend(ast.iter_child_nodes(node))
    return False
