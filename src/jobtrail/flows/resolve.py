"""What the builder can learn about names without running the job.

Decision values compared against (``== "gold"``, ``case Tier.GOLD``), exception classes
(``raise Declined``, ``except PaymentError``) and helper functions are looked up in the
globals of the module the code lives in. Only modules and classes are looked into
(``billing.Tier.GOLD``): reading an attribute of any other object could run code.
Whatever cannot be resolved is reported as unknown (``None``), never guessed.
"""

from __future__ import annotations

import ast
import builtins
import enum
import inspect
import textwrap
import types
from collections.abc import Callable, Mapping
from typing import Any

from jobtrail.errors import JobExit
from jobtrail.expect import decision_text

_MISSING: Any = object()


def lookup(expr: ast.expr, namespace: Mapping[str, Any]) -> Any:
    """The object a dotted name (``Tier.GOLD``, ``errors.Declined``) names, or `_MISSING`."""
    if isinstance(expr, ast.Name):
        found = namespace.get(expr.id, _MISSING)
        return getattr(builtins, expr.id, _MISSING) if found is _MISSING else found
    if isinstance(expr, ast.Attribute):
        owner = lookup(expr.value, namespace)
        if isinstance(owner, types.ModuleType | type):
            return getattr(owner, expr.attr, _MISSING)
    return _MISSING


def literal_values(expr: ast.expr, namespace: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The decision texts `expr` stands for (several for a tuple, list or set), or ``None``."""
    if isinstance(expr, ast.Tuple | ast.List | ast.Set):
        found: list[str] = []
        for element in expr.elts:
            values = literal_values(element, namespace)
            if values is None:
                return None
            found.extend(values)
        return tuple(dict.fromkeys(found))
    if isinstance(expr, ast.Constant):
        return _text(expr.value)
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
        if isinstance(expr.operand, ast.Constant) and isinstance(expr.operand.value, int | float):
            return _text(-expr.operand.value)
        return None
    value = lookup(expr, namespace)
    return None if value is _MISSING else _text(value)


def _text(value: object) -> tuple[str, ...] | None:
    if not isinstance(value, str | int | float | bool | enum.Enum | types.NoneType):
        return None
    try:
        return (decision_text(value),)
    except TypeError:  # an enum member whose value is not recordable
        return None


def pattern_values(pattern: ast.pattern, namespace: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The decision texts a ``case`` pattern matches, or ``None`` when it is not a literal."""
    if isinstance(pattern, ast.MatchValue):
        return literal_values(pattern.value, namespace)
    if isinstance(pattern, ast.MatchSingleton):
        return _text(pattern.value)
    if isinstance(pattern, ast.MatchAs) and pattern.pattern is not None:
        return pattern_values(pattern.pattern, namespace)
    if isinstance(pattern, ast.MatchOr):
        found: list[str] = []
        for option in pattern.patterns:
            values = pattern_values(option, namespace)
            if values is None:
                return None
            found.extend(values)
        return tuple(dict.fromkeys(found))
    return None


def irrefutable(pattern: ast.pattern) -> bool:
    """True for a pattern that matches anything: ``_``, a bare capture, or an or of one."""
    if isinstance(pattern, ast.MatchAs):
        return pattern.pattern is None or irrefutable(pattern.pattern)
    if isinstance(pattern, ast.MatchOr):
        return any(irrefutable(option) for option in pattern.patterns)
    return False


def enum_classes(patterns: list[ast.pattern], namespace: Mapping[str, Any]) -> set[type]:
    """The enum classes whose members the patterns name (``case Tier.GOLD``)."""
    found: set[type] = set()
    for pattern in patterns:
        for node in ast.walk(pattern):
            if isinstance(node, ast.MatchValue):
                value = lookup(node.value, namespace)
                if isinstance(value, enum.Enum):
                    found.add(type(value))
    return found


def exhaustive(values: list[str], classes: set[type]) -> bool:
    """True when the values cover every value the decision can have: both booleans, or
    every member of an enum the cases name."""
    covered = set(values)
    if {"true", "false"} <= covered:
        return True
    for cls in classes:
        members: list[Any] = list(cls) if issubclass(cls, enum.Enum) else []
        texts = {_text(member) for member in members}
        if members and all(text is not None and text[0] in covered for text in texts):
            return True
    return False


def exception_class(expr: ast.expr | None, namespace: Mapping[str, Any]) -> type | None:
    """The class ``raise <expr>`` raises (``Declined`` or ``Declined(...)``), if known."""
    if isinstance(expr, ast.Call):
        expr = expr.func
    if expr is None:
        return None
    found = lookup(expr, namespace)
    return found if isinstance(found, type) and issubclass(found, BaseException) else None


def catches(
    handler: ast.ExceptHandler, raised: type | None, namespace: Mapping[str, Any]
) -> bool | None:
    """Whether `handler` catches `raised`: ``True``, ``False``, or ``None`` for maybe.

    `raised` ``None`` stands for an exception of unknown class (any ``Exception``): only
    a bare ``except``, ``except Exception`` or ``except BaseException`` surely catches it.
    """
    if handler.type is None:
        return True
    named = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    classes = [lookup(expr, namespace) for expr in named]
    known = [cls for cls in classes if isinstance(cls, type)]
    if raised is None:
        if any(cls in (Exception, BaseException) for cls in known):
            return True
        return None
    if any(issubclass(raised, cls) for cls in known):
        return True
    return False if len(known) == len(classes) else None


def catches_exit(handler: ast.ExceptHandler, namespace: Mapping[str, Any]) -> bool:
    """True when `handler` surely catches the `JobExit` that ``ctx.exit`` raises."""
    return catches(handler, JobExit, namespace) is True


def parse_function(
    fn: Callable[..., Any],
) -> tuple[ast.FunctionDef | ast.AsyncFunctionDef, int, str]:
    """The syntax tree of `fn`, the offset that turns its line numbers into file lines,
    and its file."""
    lines, first = inspect.getsourcelines(fn)
    tree = ast.parse(textwrap.dedent("".join(lines)))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node, first - 1, inspect.getsourcefile(fn) or "<unknown>"
    raise TypeError(f"{fn!r} is not a function defined with def")


def helper(
    func: ast.expr, namespace: Mapping[str, Any], module: str
) -> Callable[..., Any] | None:
    """The module-level function of `module` that a call's `func` names, if it is one."""
    if not isinstance(func, ast.Name):
        return None
    found = namespace.get(func.id, _MISSING)
    if not inspect.isfunction(found) or found.__module__ != module:
        return None
    return found if found.__qualname__ == found.__name__ else None


def bound_parameter(
    definition: ast.FunctionDef | ast.AsyncFunctionDef, call: ast.Call, ctx: str
) -> str | None:
    """The parameter of `definition` that receives the context in `call`, if one clearly does."""
    positional = [*definition.args.posonlyargs, *definition.args.args]
    for index, arg in enumerate(call.args):
        if isinstance(arg, ast.Starred):
            return None
        if isinstance(arg, ast.Name) and arg.id == ctx:
            return positional[index].arg if index < len(positional) else None
    named = {a.arg for a in (*definition.args.args, *definition.args.kwonlyargs)}
    for keyword in call.keywords:
        if isinstance(keyword.value, ast.Name) and keyword.value.id == ctx:
            return keyword.arg if keyword.arg in named else None
    return None


def passes(node: ast.Call, ctx: str) -> bool:
    """True when the call hands the context itself to its callee."""
    values = [*node.args, *(keyword.value for keyword in node.keywords)]
    for value in values:
        inner = value.value if isinstance(value, ast.Starred) else value
        if isinstance(inner, ast.Name) and inner.id == ctx:
            return True
    return False
