"""JSON encoding of payloads and results, with the size limit and errors that name the job."""

from __future__ import annotations

import json
from typing import Any

from jobtrail.errors import ArgumentError, PayloadTooLarge

DEFAULT_MAX_PAYLOAD_BYTES = 1_000_000
_CONTAINERS = (dict, list, tuple)


def encode_payload(job_name: str, args: dict[str, Any], limit: int) -> str:
    """Encode a job's arguments as compact JSON, enforcing *limit* bytes."""
    try:
        text = json.dumps(args, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(
            f"job {job_name!r}: arguments cannot be stored as JSON ({exc}); pass ints, "
            "floats, strs, bools, None, lists and dicts"
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


def encode_result(value: Any) -> str:
    """Encode a job's return value; raise `TypeError` naming what cannot be stored."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"the job's return value cannot be stored as JSON ({exc}); return plain data"
        ) from exc
