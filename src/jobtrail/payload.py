"""JSON encoding of payloads and results, with the size limit and errors that name the job."""

from __future__ import annotations

import json
import sys
from typing import Any

from jobtrail.errors import ArgumentError, PayloadTooLarge

DEFAULT_MAX_PAYLOAD_BYTES = 1_000_000
_CONTAINERS = (dict, list, tuple)


def encode_payload(job_name: str, args: dict[str, Any], limit: int) -> str:
    """Encode a job's arguments as compact JSON, enforcing *limit* bytes."""
    try:
        text = json.dumps(args, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ArgumentError(
            f"job {job_name!r}: arguments cannot be stored as JSON ({_why_not_json(args, exc)}); "
            "pass ints, floats, strs, bools, None, lists and dicts"
        ) from exc
    found, bad_key = _non_str_key(args)
    if found:
        # json.dumps would silently turn {1: x} into {"1": x}: the job would get other data.
        raise ArgumentError(
            f"job {job_name!r}: arguments cannot be stored as JSON (dict key {bad_key!r} is "
            f"a {type(bad_key).__name__}; JSON object keys are str)"
        )
    size = len(text) if text.isascii() else len(text.encode("utf-8"))
    if size > limit:
        raise PayloadTooLarge(
            f"job {job_name!r}: payload is {size:,} bytes, over the limit of {limit:,} "
            "(App(max_payload_bytes=...)); store large data elsewhere and pass a reference"
        )
    return text


def _non_str_key(value: Any) -> tuple[bool, Any]:
    """``(True, key)`` for the first dict key anywhere in *value* that is not a str.

    Only called on values ``json.dumps`` accepted, so there are no cycles to guard
    against. Types are collected with ``set(map(type, ...))`` so a long list of scalars
    costs a C-speed pass, not a Python loop.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if not all(issubclass(kind, str) for kind in set(map(type, item))):
                return True, next(key for key in item if not isinstance(key, str))
            item = item.values()
        elif not isinstance(item, list | tuple):
            continue
        if any(issubclass(kind, _CONTAINERS) for kind in set(map(type, item))):
            pending.extend(inner for inner in item if isinstance(inner, _CONTAINERS))
    return False, None


def _why_not_json(args: dict[str, Any], exc: BaseException) -> str:
    """The encoder's complaint, naming the argument it is about when one is alone at fault."""
    for name, value in args.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as inner:
            if "integer string conversion" in str(inner):
                # Python's own limit: the text of its advice would not reach the worker.
                return (f"argument {name!r} holds an int of more than "
                        f"{sys.get_int_max_str_digits():,} digits, the most Python writes "
                        "out; pass it as a str")
            return f"argument {name!r}: {inner}"
    return str(exc)


def too_deep(value: Any, limit: int) -> bool:
    """True when lists and dicts nest more than *limit* levels deep in *value*, or a list
    or dict contains itself (infinitely deep). Iterative, so no depth exhausts the stack:
    it stops at the first path longer than *limit*."""
    if not isinstance(value, _CONTAINERS):
        return False
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return True
        inner = item.values() if isinstance(item, dict) else item
        if any(issubclass(kind, _CONTAINERS) for kind in set(map(type, inner))):
            pending.extend((child, depth + 1) for child in inner if isinstance(child, _CONTAINERS))
    return False


def encode_result(value: Any) -> str:
    """Encode a job's return value; raise `TypeError` naming what cannot be stored."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"the job's return value cannot be stored as JSON ({exc}); return plain data"
        ) from exc
