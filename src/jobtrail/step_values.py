"""How a step's arguments and result are written down: its result as compact JSON, and a
digest of its arguments, to tell on replay whether a call is the one that was recorded."""

from __future__ import annotations

import json
import zlib
from json.encoder import encode_basestring_ascii
from typing import Any

_ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
_ENCODE_SORTED = json.JSONEncoder(separators=(",", ":"), allow_nan=False, sort_keys=True).encode
_CRC32 = zlib.crc32
_DECIMAL = int.__repr__


def to_json(value: Any) -> str:
    """Compact JSON text of *value* (no NaN or infinity), with a short way for the
    plain scalars most steps return."""
    kind = type(value)
    if kind is int:
        return int.__repr__(value)
    if kind is str:
        return encode_basestring_ascii(value)
    if value is None:
        return "null"
    return _ENCODE(value)


#: Arguments whose digest may be made later: nothing can change them meanwhile.
SCALARS = frozenset({int, str, float, bool, type(None)})
#: The digest of arguments that cannot be compared (not JSON): any recorded call matches.
UNCOMPARABLE = "?"


def arguments_digest(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """A short digest of a step's arguments, to tell on replay whether an occurrence is
    called as it was recorded: the CRC-32 of their JSON (in decimal), or `UNCOMPARABLE`."""
    if not kwargs and len(args) == 1 and type(args[0]) is int:  # the most common call
        return _DECIMAL(_CRC32(_DECIMAL(args[0]).encode()))
    try:
        text = _ENCODE_SORTED([args, kwargs]) if kwargs else (
            to_json(args[0]) if len(args) == 1 else _ENCODE(args))
    except (TypeError, ValueError):
        return UNCOMPARABLE
    return _DECIMAL(_CRC32(text.encode("utf-8", "surrogatepass")))


def same_arguments(recorded: str | None, digest: str | None) -> bool:
    """Whether a call whose arguments have *digest* is the call *recorded*."""
    return recorded == digest or UNCOMPARABLE in (recorded, digest)
