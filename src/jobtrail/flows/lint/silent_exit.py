"""``silent-exit``: an early return that records no reason.

A ``return`` that is not in *tail position*, unless it is ``return ctx.exit(...)``.
Tail position: the last statement of the function body; the last statement of each
branch of an ``if``/``elif``/``else`` in tail position (an ``if`` without ``else`` too:
the other path just ends), of the body of a ``with`` and of each ``case`` of a ``match``
in tail position; of each ``except``, the ``else`` and the ``finally`` of a ``try`` in
tail position, and of its body when it has no ``else`` (which a return would skip); of
the ``else`` of a loop in tail position. A loop's body is never in tail position: a
return there skips the remaining iterations. So a return is early exactly when it skips
code of the function that another path runs. Returns in nested functions and lambdas
are not the job's.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from jobtrail.flows.lint.config import SILENT_EXIT
from jobtrail.flows.lint.subject import NO_CONTEXT, Subject, clip


def check(subject: Subject) -> None:
    """Report every early return of the job that is not ``return ctx.exit(...)``."""
    _returns(subject, subject.node.body, tail=True, loop=False)


def _returns(subject: Subject, body: Sequence[ast.stmt], *, tail: bool, loop: bool) -> None:
    for index, statement in enumerate(body):
        at_end = tail and index == len(body) - 1
        match statement:
            case ast.Return(value=value):
                if not at_end and not subject.is_ctx_call(value, "exit"):
                    _silent_exit(subject, statement, loop)
            case ast.If() | ast.With() | ast.AsyncWith():
                _returns(subject, statement.body, tail=at_end, loop=loop)
                if isinstance(statement, ast.If):
                    _returns(subject, statement.orelse, tail=at_end, loop=loop)
            case ast.For() | ast.AsyncFor() | ast.While():
                _returns(subject, statement.body, tail=False, loop=True)
                _returns(subject, statement.orelse, tail=at_end, loop=loop)
            case ast.Try() | ast.TryStar():
                _returns(subject, statement.body, tail=at_end and not statement.orelse,
                         loop=loop)
                for handler in statement.handlers:
                    _returns(subject, handler.body, tail=at_end, loop=loop)
                _returns(subject, statement.orelse, tail=at_end, loop=loop)
                _returns(subject, statement.finalbody, tail=at_end, loop=loop)
            case ast.Match():
                for case in statement.cases:
                    _returns(subject, case.body, tail=at_end, loop=loop)
            case _:
                pass  # nested functions and classes return for themselves


def _silent_exit(subject: Subject, statement: ast.Return, loop: bool) -> None:
    code = clip(ast.unparse(statement))
    where = " from inside a loop, skipping its remaining iterations" if loop else ""
    if subject.ctx is None:
        fix = (f"{NO_CONTEXT}: take `ctx: Context` first and write "
               "`return ctx.exit(\"<reason>\")`")
    else:
        fix = f"write `return {subject.ctx}.exit(\"<reason>\")` so the path shows why"
        if statement.value is not None:
            fix += (", or, if the value is the job's result, return it from the end "
                    "(an if/else whose branches all return)")
    subject.add(SILENT_EXIT, statement,
                f"job {subject.job!r}: `{code}` ends the job early{where} without recording "
                f"why; {fix}")
