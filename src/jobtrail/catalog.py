"""What a job type says of itself for the people who run it: its owner, its runbook, a
description — ``@app.job(owner="payments", runbook="https://…", description="…")``.

`jobtrail describe` (and its JSON) shows them beside what jobtrail derives (queue policy,
schedule, guarantee, expected path); the description defaults to the first paragraph of
the function's docstring.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobtrail.errors import JobDefinitionError
from jobtrail.text import shown

#: The longest owner, runbook link and description kept.
MAX_OWNER = 200
MAX_RUNBOOK = 2000
MAX_DESCRIPTION = 4000


@dataclass(frozen=True, slots=True)
class Catalog:
    """A job type's metadata; ``None`` where it says nothing."""

    owner: str | None = None
    runbook: str | None = None
    description: str | None = None


def make_catalog(job_name: str, fn: Callable[..., Any], *, owner: Any = None,
                 runbook: Any = None, description: Any = None) -> Catalog:
    """The `Catalog` of ``@app.job(owner=, runbook=, description=)``; `JobDefinitionError`
    naming the job for a value that is not text of a sensible length."""
    owner = _text(job_name, "owner", owner, MAX_OWNER, one_line=True)
    runbook = _text(job_name, "runbook", runbook, MAX_RUNBOOK, one_line=True)
    described = _text(job_name, "description", description, MAX_DESCRIPTION, one_line=False)
    if described is None:
        described = _first_paragraph(inspect.getdoc(fn))
    return Catalog(owner, runbook, described)


def _text(job_name: str, option: str, value: Any, limit: int, *, one_line: bool) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise JobDefinitionError(
            f"job {job_name!r}: {option} must be a non-empty str, got {shown(value)}")
    if len(value) > limit:
        raise JobDefinitionError(
            f"job {job_name!r}: {option} is {len(value):,} characters long; at most {limit:,}")
    if one_line and any(c in value for c in "\r\n"):
        raise JobDefinitionError(f"job {job_name!r}: {option} must be one line, got {shown(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise JobDefinitionError(
            f"job {job_name!r}: {option} {shown(value)} cannot be written as UTF-8") from None
    return value.strip()


def _first_paragraph(doc: str | None) -> str | None:
    if not doc:
        return None
    paragraph = doc.strip().split("\n\n", 1)[0]
    return " ".join(paragraph.split())[:MAX_DESCRIPTION] or None
