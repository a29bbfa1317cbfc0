"""`Subject`: the job function a rule reads, and how a rule reports what it finds there.

Each rule module has a ``check(subject)`` that walks ``subject.node`` (the job's ``def``)
and calls `Subject.add`; the helpers here are what several rules share.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from typing import Final

from jobtrail.flows.lint.config import LintConfig
from jobtrail.flows.lint.finding import LintFinding
from jobtrail.records import PointKind

#: The methods of `Context` that record a point of the path.
RECORDING_METHODS: Final = frozenset({*PointKind, "enqueue"})
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
#: Nodes that open a scope of their own: what is inside them is not the job's code.
SCOPES: Final = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
NO_CONTEXT: Final = "the job takes no Context, so it can record nothing"
_SHOWN: Final = 70  # characters of code quoted in a message


class Subject:
    """One job's ``def`` node under lint, and the findings the rules add to it.

    *shift* turns the node's line numbers into lines of *file*; *ctx* is the name of the
    context parameter (``None`` when the job takes none).
    """

    def __init__(
        self, node: FunctionNode, *, job_name: str, file: str, shift: int, ctx: str | None,
        config: LintConfig,
    ) -> None:
        self.node = node
        self.job = job_name
        self.file = file
        self.shift = shift
        self.ctx = ctx
        self.config = config
        self.findings: list[LintFinding] = []

    def add(self, rule: str, node: ast.AST, message: str) -> None:
        """Report *rule* on the line of *node*."""
        line = getattr(node, "lineno", 1) + self.shift
        self.findings.append(LintFinding(rule, self.job, self.file, line, message))

    def is_ctx_call(self, node: ast.AST | None, method: str | None = None) -> bool:
        """True for ``ctx.<method>(...)``, or any recording call when *method* is None."""
        if self.ctx is None or not isinstance(node, ast.Call):
            return False
        func = node.func
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id == self.ctx):
            return False
        return func.attr in RECORDING_METHODS if method is None else func.attr == method

    def label(self, call: ast.Call) -> str:
        """``ctx.effect('charge', ...)``: a recording call, quoted short."""
        assert isinstance(call.func, ast.Attribute)
        first = clip(ast.unparse(call.args[0]), 30) + ", ..." if call.args else "..."
        return f"{self.ctx}.{call.func.attr}({first})"

    def line(self, node: ast.AST) -> int:
        """The file line of *node*."""
        return int(getattr(node, "lineno", 1)) + self.shift


def walk_scope(nodes: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """Every node under *nodes* (and themselves), not entering nested functions, lambdas
    or classes."""
    stack = list(reversed(list(nodes)))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, SCOPES):
            stack.extend(reversed(list(ast.iter_child_nodes(node))))


def call_name(call: ast.Call) -> str | None:
    """The name a call is made by: the bare name, or the last attribute."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def clip(text: str, limit: int = _SHOWN) -> str:
    """*text* on one line, cut with ``…`` to at most *limit* characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
