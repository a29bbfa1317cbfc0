"""`Walk`: what the statement walker offers the modules that extend it.

`jobtrail.flows.builder.Walker` walks a job function's statements; `expressions` (calls,
conditions) and `matching` (``match``) handle their part of the walk through this
protocol, so they need not import the builder that imports them.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Protocol

from jobtrail.flows.frames import Frame, Scope
from jobtrail.flows.raw import Frontier, RawGraph


class Walk(Protocol):
    """The walk over one job function (a `jobtrail.flows.builder.Walker`)."""

    graph: RawGraph
    scope: Scope
    depth: int
    frames: list[Frame]
    notes: list[str]

    def line(self, node: ast.AST) -> int:
        """The source line of *node*."""
        ...

    def point(self, kind: str, key: str, name: str | None, node: ast.AST, label: str,
              frontier: Frontier) -> int:
        """Add a recorded point after *frontier*; its index in the graph."""
        ...

    def leave(self, way: str, frontier: Frontier, depth: int | None = None,
              raised: type | None = None) -> None:
        """Route control leaving by *way* outward through the enclosing frames."""
        ...

    def block(self, body: list[ast.stmt], frontier: Frontier) -> Frontier:
        """Walk *body* after *frontier*."""
        ...

    def loop(self, frontier: Frontier, test: ast.expr | None,
             body: Callable[[Frontier], Frontier], orelse: list[ast.stmt]) -> Frontier:
        """A loop whose body runs zero or more times."""
        ...

    def expr(self, node: ast.expr | None, frontier: Frontier) -> Frontier:
        """Walk an expression."""
        ...

    def cond(self, node: ast.expr, frontier: Frontier) -> tuple[Frontier, Frontier]:
        """Walk a condition: where it goes when true, and when false."""
        ...

    def not_followed(self, node: ast.AST, what: str) -> None:
        """Note that *node* records points the walk cannot follow."""
        ...
