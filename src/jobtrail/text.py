"""Text every backend can store: names are checked where they are given, free text escaped.

Two kinds of character cannot be stored by every backend: NUL (PostgreSQL's ``text``
cannot hold it) and lone surrogates (``"\\ud800"``: not encodable as UTF-8, in which both
SQLite and PostgreSQL keep text). A *name* — of a job, a queue, an idempotency or effect
key, a step, an effect, a decision, an exit or a milestone — is an identifier the user
chose: `name_problem` says what is wrong with one, so the caller raises a clear error
where the name is given, before anything is stored. *Free text* — an error message, a
traceback — is made storable instead by `storable`, which escapes what cannot be kept
and leaves everything else as it was.
"""

from __future__ import annotations

#: The longest name jobtrail accepts, in characters.
MAX_NAME = 200


def name_problem(value: object, max_length: int = MAX_NAME) -> str | None:
    """Why *value* cannot be a stored name, or ``None`` when it can.

    A name is a str that is not empty or only whitespace, has at most *max_length*
    characters, and holds no NUL character and no lone surrogate. Cheap enough to run on
    every recorded step: an ASCII name costs two scans in C."""
    if not isinstance(value, str):
        return f"must be a str, got {type(value).__name__} {value!r}"
    if value.isascii():
        if "\x00" in value:
            return "contains a NUL character (\\x00), which cannot be stored"
    else:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = value[exc.start]
            return (f"contains the lone surrogate U+{ord(bad):04X} at index {exc.start}, "
                    "which is not valid Unicode text and cannot be stored")
        if "\x00" in value:
            return "contains a NUL character (\\x00), which cannot be stored"
    if not value.strip():
        return "must not be empty or only whitespace"
    if len(value) > max_length:
        return f"is {len(value):,} characters long, over the limit of {max_length:,}"
    return None


def storable(text: str) -> str:
    """*text* with NUL written ``\\x00`` and each lone surrogate ``\\udXXX``; any other
    text comes back unchanged (the same object)."""
    if text.isascii():
        return text.replace("\x00", "\\x00") if "\x00" in text else text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\x00", "\\x00") if "\x00" in text else text


#: The most characters of a value an error message quotes.
MAX_SHOWN = 200


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """``repr(value)`` for an error message: cut to *limit* characters, and never raising
    (an int too long for Python to write out is described by its size instead)."""
    try:
        text = repr(value)
    except ValueError:  # an int past sys.get_int_max_str_digits(), maybe inside a container
        if isinstance(value, int):
            return f"an int of about {int_digits(value):,} digits"
        return f"a {type(value).__name__} holding an int too long to write out"
    except Exception:  # a user object whose __repr__ fails
        return f"<{type(value).__name__} object>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def int_digits(value: int) -> int:
    """How many decimal digits *value* has (within one), without writing it out."""
    return max(1, int(abs(value).bit_length() * 0.30102999566398120) + 1)


def name_error(what: str, value: object, max_length: int = MAX_NAME) -> str | None:
    """What is wrong with *value* as the name *what* (``"queue"``, ...), starting with
    *what*; ``None`` when it can be stored. See `name_problem`."""
    problem = name_problem(value, max_length)
    if problem is None:
        return None
    if not isinstance(value, str):
        return f"{what} must be a non-empty str, got {shown(value)}"
    return f"{what} {shown(value)} {problem}"
