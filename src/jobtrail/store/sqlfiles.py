"""Load a backend's named queries and numbered migrations from the package's ``.sql`` files.

A query is one statement, or several run in order in one transaction: its steps, each
introduced by a ``-- step: NAME`` line (see `steps`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
_STEP = re.compile(r"^-- step: (\w+)\s*$", re.MULTILINE)
_MIGRATION = re.compile(r"^(\d{4})_(\w+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered schema change."""

    version: int
    description: str
    sql: str


@cache
def queries(backend: str) -> dict[str, str]:
    """The named queries in ``sql/<backend>.sql``, keyed by name."""
    text = resources.files("jobtrail.store").joinpath("sql", f"{backend}.sql").read_text("utf-8")
    parts = _NAME.split(text)
    found: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        found[name] = body.strip()
    return found


@cache
def steps(backend: str, name: str) -> dict[str, str]:
    """The statements of query *name* of *backend*, by step name, in the order they run. A
    query without steps is one statement, its step named like the query."""
    text = queries(backend)[name]
    parts = _STEP.split(text)
    if len(parts) == 1:
        return {name: text}
    if any(line.strip() and not line.lstrip().startswith("--")
           for line in parts[0].splitlines()):
        raise RuntimeError(f"{backend} query {name!r} has SQL before its first step")
    return {step: body.strip() for step, body in zip(parts[1::2], parts[2::2], strict=True)}


@cache
def migrations(backend: str) -> tuple[Migration, ...]:
    """Every migration of *backend*, oldest first."""
    folder = resources.files("jobtrail.store").joinpath("migrations", backend)
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION.match(entry.name)
        if match:
            found.append(
                Migration(int(match[1]), match[2].replace("_", " "), entry.read_text("utf-8"))
            )
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise RuntimeError(f"{backend} migrations skip version {expected}")
    return tuple(found)


def latest_version(backend: str) -> int:
    """The version the newest migration of *backend* brings the schema to."""
    return migrations(backend)[-1].version
