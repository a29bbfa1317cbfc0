"""What the flows read of a job and of the app that declares it, as two small protocols.

The flows read code, never run it, so they take jobs as plain values: `DeclaredJob` is
the shape of a job type (the `JobDef` ``@app.job`` makes has it) and `JobRegistry` the
shape of an app (an `App` has it). Anything with these attributes will do, so the flows
depend on no module that runs jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from jobtrail.expect import Expectation


@runtime_checkable
class DeclaredJob(Protocol):
    """A job type as declared: its name, its function, whether that function takes the
    context first, and its compiled ``expect=`` (``None`` without one)."""

    @property
    def name(self) -> str:
        """The job's registered name."""

    @property
    def fn(self) -> Callable[..., Any]:
        """The job function, whose source the flows read."""

    @property
    def takes_context(self) -> bool:
        """True when the function's first parameter is the context."""

    @property
    def expectation(self) -> Expectation | None:
        """The paths the job should take, or ``None``."""


class JobRegistry(Protocol):
    """An app as the flows see it: its declared jobs by name."""

    @property
    def registry(self) -> Mapping[str, DeclaredJob]:
        """Every declared job, by its registered name."""
