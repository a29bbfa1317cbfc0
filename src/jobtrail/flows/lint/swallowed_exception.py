"""``swallowed-exception``: an exception caught and left off the job's path.

An ``except`` handler of the job (not of a nested function) with no ``raise`` and no
``ctx.event(...)`` or ``ctx.exit(...)`` call anywhere in its body (a logger call records
nothing on the path), and a ``with suppress(...)`` block (`contextlib.suppress`), which
swallows by design.
"""

from __future__ import annotations

import ast

from jobtrail.flows.lint.config import SWALLOWED_EXCEPTION
from jobtrail.flows.lint.subject import NO_CONTEXT, Subject, call_name, clip, walk_scope


def check(subject: Subject) -> None:
    """Report every silent handler and every ``with suppress(...)`` of the job."""
    for node in walk_scope(subject.node.body):
        if isinstance(node, ast.ExceptHandler):
            _handler(subject, node)
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                call = item.context_expr
                if isinstance(call, ast.Call) and call_name(call) == "suppress":
                    subject.add(SWALLOWED_EXCEPTION, call,
                                f"job {subject.job!r}: `with {clip(ast.unparse(call))}:` "
                                "swallows the exception without a trace on the job's "
                                "path; use try/except and re-raise it or record it with "
                                f"`{subject.ctx or 'ctx'}.event(...)`")


def _handler(subject: Subject, handler: ast.ExceptHandler) -> None:
    ctx = subject.ctx
    others: list[str] = []
    for node in walk_scope(handler.body):
        if isinstance(node, ast.Raise):
            return
        if subject.is_ctx_call(node, "event") or subject.is_ctx_call(node, "exit"):
            return
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            others.append(clip(ast.unparse(node.value.func), 30))
    kind = f" {ast.unparse(handler.type)}" if handler.type is not None else ""
    bound = f" as {handler.name}" if handler.name else ""
    header = clip(f"except{kind}{bound}:")
    calls = [f"{name}(...)" for name in dict.fromkeys(others)]
    verb = "leaves" if len(calls) == 1 else "leave"
    silent = f" ({', '.join(calls)} {verb} it silent)" if calls else ""
    also = (f"; it also swallows the JobExit that {ctx}.exit() raises"
            if kind in ("", " BaseException") and ctx else "")
    if ctx is None:
        fix = f"re-raise it ({NO_CONTEXT})"
    else:
        error = handler.name or "exc"
        fix = (f"re-raise it, or record it with `{ctx}.event(\"<what failed>\", "
               f"error=repr({error}))` or `return {ctx}.exit(\"<reason>\")`")
        if not handler.name:
            fix += f" (catch it `as {error}`)"
    subject.add(SWALLOWED_EXCEPTION, handler,
                f"job {subject.job!r}: `{header}` neither re-raises nor records the exception "
                f"on the job's path{silent}{also}; {fix}")
