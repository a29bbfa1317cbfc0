"""Observed runs written compactly in the path language, for tests of expectations and flows."""

from __future__ import annotations

from jobtrail.expect import Symbol


def run(text: str) -> list[Symbol]:
    """Observed symbols written as a space-separated list in the language: "load effect:charge"."""
    symbols: list[Symbol] = []
    for word in text.split():
        kind, _, rest = word.partition(":") if ":" in word else ("step", "", word)
        name, _, value = rest.partition("=")
        symbols.append(Symbol(kind, name, value if kind == "decide" else None))
    return symbols
