"""A job function's signature: which arguments it takes and what types they must have.

Payloads travel as JSON, so a job's arguments are checked against the JSON-shaped
subset of Python's type hints: ``int``, ``float``, ``str``, ``bool``, ``None``,
``list[T]``, ``tuple[...]``, ``dict[str, T]``, unions and ``Optional``, ``Literal``,
``Any``, and `typing.TypedDict`. The same check runs at enqueue time (a mismatch is an
`ArgumentError` and nothing is stored) and at run time (a payload that no longer fits
the code ends ``orphaned``).
"""

from __future__ import annotations

import functools
import inspect
import sys
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jobtrail.errors import ArgumentError, JobDefinitionError
from jobtrail.limits import MAX_DEPTH
from jobtrail.payload import too_deep
from jobtrail.text import shown

_MISSING = inspect.Parameter.empty
_SCALARS: dict[type, str] = {int: "int", float: "float", str: "str", bool: "bool"}
_FLOAT_MAX = int(sys.float_info.max)


def describe(hint: Any) -> str:
    """A short human name for a type hint, as written in code."""
    if hint is Any:
        return "Any"
    if hint is type(None) or hint is None:
        return "None"
    if isinstance(hint, type) and not typing.get_args(hint):
        return hint.__name__
    return str(hint).replace("typing.", "")


def _check_supported(hint: Any, where: str, seen: frozenset[Any] = frozenset()) -> None:
    """Raise `JobDefinitionError` when *hint* cannot describe a JSON value (*seen*: the
    TypedDicts being checked, so one that refers to itself is checked once)."""
    if hint is Any or hint is None or hint is type(None) or hint in _SCALARS:
        return
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (list, tuple, dict, typing.Union, types.UnionType, typing.Literal):
        if origin is dict and args and args[0] is not str:
            raise JobDefinitionError(
                f"{where}: dict keys must be str to travel as JSON, not {describe(args[0])}"
            )
        if origin is not typing.Literal:
            for arg in args:
                if arg is not Ellipsis:
                    _check_supported(arg, where, seen)
        return
    if hint in (list, dict, tuple):
        return
    if typing.is_typeddict(hint):
        if hint in seen:
            return
        for sub in typing.get_type_hints(hint).values():
            _check_supported(sub, where, seen | {hint})
        return
    raise JobDefinitionError(
        f"{where}: type {describe(hint)} cannot be carried in a JSON payload; "
        "use int, float, str, bool, None, list, tuple, dict[str, ...], Literal, a union "
        "or a TypedDict"
    )


def mismatch(value: Any, hint: Any) -> str | None:
    """Return why *value* does not fit *hint*, or ``None`` when it fits."""
    if hint is Any:
        return None
    if hint is None or hint is type(None):
        return None if value is None else f"expected None, got {type(value).__name__}"
    if hint is bool:
        return None if isinstance(value, bool) else f"expected bool, got {type(value).__name__}"
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"expected int, got {type(value).__name__}"
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and isinstance(value, int) and not -_FLOAT_MAX <= value <= _FLOAT_MAX:
            return "expected float, got an int beyond the largest float (about 1.8e308)"
        return None if ok else f"expected float, got {type(value).__name__}"
    if hint is str:
        return None if isinstance(value, str) else f"expected str, got {type(value).__name__}"
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if any(mismatch(value, arg) is None for arg in args):
            return None
        return f"expected {describe(hint)}, got {type(value).__name__}"
    if origin is typing.Literal:
        # Compare types too: ``True == 1`` and ``1.0 == 1``, but JSON keeps them apart.
        if any(type(value) is type(arg) and value == arg for arg in args):
            return None
        return f"expected one of {list(args)!r}, got {shown(value)}"
    if hint is list or origin is list:
        if not isinstance(value, list | tuple):
            return f"expected list, got {type(value).__name__}"
        return _items_mismatch(value, args[0] if args else Any)
    if hint is tuple or origin is tuple:
        return _tuple_mismatch(value, args)
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            return f"expected dict, got {type(value).__name__}"
        for key, item in value.items():
            if not isinstance(key, str):
                return f"dict keys must be str, got {type(key).__name__}"
            why = mismatch(item, args[1]) if args else None
            if why:
                return f"at key {key!r}: {why}"
        return None
    if typing.is_typeddict(hint):
        return _typeddict_mismatch(value, hint)
    return f"type {describe(hint)} is not supported"


def _items_mismatch(items: Any, hint: Any) -> str | None:
    for index, item in enumerate(items):
        why = mismatch(item, hint)
        if why:
            return f"at index {index}: {why}"
    return None


def _tuple_mismatch(value: Any, args: tuple[Any, ...]) -> str | None:
    if not isinstance(value, list | tuple):
        return f"expected tuple, got {type(value).__name__}"
    if not args:
        return None
    if len(args) == 2 and args[1] is Ellipsis:
        return _items_mismatch(value, args[0])
    if len(value) != len(args):
        return f"expected {len(args)} items, got {len(value)}"
    for index, (item, hint) in enumerate(zip(value, args, strict=True)):
        why = mismatch(item, hint)
        if why:
            return f"at index {index}: {why}"
    return None


def _typeddict_mismatch(value: Any, hint: Any) -> str | None:
    if not isinstance(value, dict):
        return f"expected {hint.__name__} (a dict), got {type(value).__name__}"
    fields = typing.get_type_hints(hint)
    missing = sorted(_required_keys(hint) - value.keys())
    if missing:
        return f"{hint.__name__} is missing {', '.join(missing)}"
    extra = sorted(str(key) for key in value.keys() - fields.keys())
    if extra:
        return f"{hint.__name__} has unknown keys {', '.join(extra)}"
    for key, item in value.items():
        why = mismatch(item, fields[key])
        if why:
            return f"at key {key!r}: {why}"
    return None


def _required_keys(hint: Any) -> set[str]:
    """The keys a TypedDict requires.

    ``__required_keys__`` misses ``NotRequired[...]`` / ``Required[...]`` written as strings
    (``from __future__ import annotations``) on Python 3.11, so the markers are read back
    from the hints themselves.
    """
    required = set(hint.__required_keys__)
    for key, field_hint in typing.get_type_hints(hint, include_extras=True).items():
        origin = typing.get_origin(field_hint)
        if origin is typing.NotRequired:
            required.discard(key)
        elif origin is typing.Required:
            required.add(key)
    return required


@dataclass(frozen=True, slots=True)
class Parameter:
    """One argument of a job: its name, type hint and whether it has a default."""

    name: str
    hint: Any
    required: bool


class JobSignature:
    """The arguments a job function takes, minus its `Context`."""

    def __init__(self, fn: Callable[..., Any], job_name: str, reserved: frozenset[str]) -> None:
        self.job_name = job_name
        sig = inspect.signature(fn)
        try:
            hints = typing.get_type_hints(_annotated(fn))
        except (NameError, TypeError) as exc:
            raise JobDefinitionError(
                f"job {job_name!r}: cannot resolve its type hints ({exc})"
            ) from exc
        params = list(sig.parameters.values())
        self.takes_context = bool(params) and _is_context_param(params[0], hints)
        if self.takes_context:
            params = params[1:]
        self.parameters: dict[str, Parameter] = {}
        #: The default values of the arguments that have one, by name.
        self.defaults: dict[str, Any] = {}
        for param in params:
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise JobDefinitionError(
                    f"job {job_name!r}: *{param.name} / **{param.name} are not supported; "
                    "name every argument so it can be checked and stored"
                )
            if param.kind is param.POSITIONAL_ONLY:
                raise JobDefinitionError(
                    f"job {job_name!r}: positional-only argument {param.name!r} is not "
                    "supported; arguments are stored by name"
                )
            if param.name in reserved:
                raise JobDefinitionError(
                    f"job {job_name!r}: argument name {param.name!r} is reserved for enqueue "
                    f"options ({', '.join(sorted(reserved))}); rename it"
                )
            hint = hints.get(param.name, Any)
            _check_supported(hint, f"job {job_name!r}, argument {param.name!r}")
            self.parameters[param.name] = Parameter(param.name, hint, param.default is _MISSING)
            if param.default is not _MISSING:
                self.defaults[param.name] = param.default
        self._order = list(self.parameters)

    def bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Map positional and keyword arguments to names, checking types; raise `ArgumentError`."""
        if len(args) > len(self._order):
            raise ArgumentError(
                f"job {self.job_name!r} takes {len(self._order)} arguments "
                f"({', '.join(self._order) or 'none'}), got {len(args)} positional"
            )
        values = dict(zip(self._order, args, strict=False))
        for name, value in kwargs.items():
            if name in values:
                raise ArgumentError(f"job {self.job_name!r}: argument {name!r} given twice")
            values[name] = value
        for name, value in values.items():
            if too_deep(value, MAX_DEPTH):
                raise ArgumentError(
                    f"job {self.job_name!r}: argument {name!r} nests lists and dicts more "
                    f"than {MAX_DEPTH} levels deep (or contains itself); a payload that "
                    "deep could not be read back"
                )
        problem = self.problem(values)
        if problem:
            raise ArgumentError(f"job {self.job_name!r}: {problem}")
        return values

    def problem(self, values: Mapping[str, Any]) -> str | None:
        """Why *values* cannot be passed to the job, or ``None`` when they fit."""
        unknown = [name for name in values if name not in self.parameters]
        if unknown:
            expected = ", ".join(self._order) or "no arguments"
            return f"unexpected argument {unknown[0]!r} (the job takes {expected})"
        for param in self.parameters.values():
            if param.name not in values:
                if param.required:
                    return f"missing required argument {param.name!r} ({describe(param.hint)})"
                continue
            value = values[param.name]
            why = mismatch(value, param.hint)
            if why:
                expected = describe(param.hint)
                # The reason adds to the message only when it says more than the types.
                more = "" if why == f"expected {expected}, got {type(value).__name__}" \
                    else f" ({why})"
                return f"argument {param.name!r} expected {expected}, got {shown(value)}{more}"
        return None


def _annotated(fn: Callable[..., Any]) -> Any:
    """The object carrying *fn*'s annotations: the function behind a partial, or the
    ``__call__`` of a callable instance (``get_type_hints`` refuses both as they are)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if inspect.isroutine(fn) or isinstance(fn, type):
        return fn
    return type(fn).__call__


def _is_context_param(param: inspect.Parameter, hints: Mapping[str, Any]) -> bool:
    from jobtrail.context import Context

    hint = hints.get(param.name)
    if hint is Context or (isinstance(hint, type) and issubclass(hint, Context)):
        return True
    return hint is None and param.name in ("ctx", "context")
