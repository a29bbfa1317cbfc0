"""Reading a job function for the lint: its ``def`` node, its source, and its context.

The function is read with `inspect` and parsed with `ast`; it never runs. A job takes a
context when its first parameter is annotated ``Context`` (by name or as ``x.Context``)
or is unannotated and named one of `LintConfig.context_names`.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from typing import Any, NamedTuple

from jobtrail.errors import LintError
from jobtrail.flows.lint.config import LintConfig
from jobtrail.flows.lint.subject import FunctionNode


class Source(NamedTuple):
    """A job function as read: its ``def`` node, the source text it was parsed from, the
    number to add to its line numbers to get file lines, and the file."""

    node: FunctionNode
    text: str
    shift: int
    file: str


def read(fn: Callable[..., Any], job_name: str) -> Source:
    """The `Source` of *fn*; `LintError`, naming the job, when it cannot be read or is
    not defined with ``def``."""
    target = inspect.unwrap(fn)
    try:
        lines, start = inspect.getsourcelines(target)
        file = inspect.getsourcefile(target) or inspect.getfile(target)
    except (OSError, TypeError) as exc:
        raise LintError(
            f"job {job_name!r}: cannot read the source of {fn!r} ({exc}); the flow lint "
            "reads job functions from their source files"
        ) from exc
    raw = "".join(lines)
    source, shift = textwrap.dedent(raw), start - 1
    try:
        tree = ast.parse(source)
    except SyntaxError:
        # dedent gives up when a line (inside a string) is less indented than the def:
        # parse the indented source as the body of an ``if``, one line down.
        source, shift = "if 1:\n" + raw, start - 2
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            raise LintError(f"job {job_name!r}: cannot parse the source of {fn!r}: {exc}") \
                from exc
    node: ast.stmt | None = tree.body[0] if tree.body else None
    if isinstance(node, ast.If) and shift == start - 2:  # the fallback's ``if 1:``
        node = node.body[0]
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        raise LintError(
            f"job {job_name!r}: {fn!r} is not defined with `def`, so the flow lint cannot "
            "read it; define the job as a function"
        )
    return Source(node, source, shift, file)


def context_parameter(node: FunctionNode, config: LintConfig) -> str | None:
    """The name of the context parameter, inferred from the first parameter of *node*."""
    params = [*node.args.posonlyargs, *node.args.args]
    if not params:
        return None
    first = params[0]
    annotation = first.annotation
    if annotation is None:
        return first.arg if first.arg in config.context_names else None
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        text = annotation.value
    else:
        text = ast.unparse(annotation)
    return first.arg if text.strip().rsplit(".", 1)[-1] == "Context" else None


def first_parameter(fn: Callable[..., Any]) -> str | None:
    """The name of *fn*'s first parameter, ``None`` when it has none."""
    return next(iter(inspect.signature(fn).parameters), None)
