"""The walker's bookkeeping: the scope code runs in, and the constructs that catch ways out.

While `jobtrail.flows.builder` walks a function it keeps a stack of *frames*, one per
enclosing construct that intercepts control leaving early: a loop (``break``,
``continue``), a ``try`` with handlers (exceptions, and exits a handler surely catches),
a ``finally`` block (every way out), an inlined helper (its ``return``).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from jobtrail.flows.raw import Frontier


@dataclass(frozen=True, slots=True)
class Scope:
    """What changes while a helper is inlined: the name its context has, the globals
    names resolve in, the offset to file lines, the job line it was called from, and
    the helpers being inlined (to stop recursion and bound the depth)."""

    ctx: str | None
    namespace: Mapping[str, Any]
    module: str
    offset: int
    site: int | None = None
    chain: tuple[str, ...] = ()


@dataclass
class Loop:
    """A loop: the pending edges of its ``break`` and ``continue`` statements."""

    breaks: Frontier = field(default_factory=list)
    again: Frontier = field(default_factory=list)


@dataclass
class Try:
    """A ``try`` body with handlers: each handler's entry junction and its clause."""

    handlers: list[tuple[int, ast.ExceptHandler]]
    namespace: Mapping[str, Any]


@dataclass
class Finally:
    """A ``try`` with ``finally``: the entry of the copy built for each way out."""

    body: list[ast.stmt]
    scope: Scope
    copies: dict[tuple[str, type | None], int] = field(default_factory=dict)


@dataclass
class Function:
    """An inlined helper: its returns continue after the call."""

    returns: Frontier = field(default_factory=list)


Frame: TypeAlias = Loop | Try | Finally | Function
