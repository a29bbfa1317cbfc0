"""What enqueueing a job type offers besides ``enqueue``: `Enqueuing`, the job type with
its options set (``bill.options(delay=60).enqueue(...)``), and `JobDecorator`, the type of
``@app.job(...)`` with options."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

from jobtrail.context import Context
from jobtrail.errors import ArgumentError
from jobtrail.handle import JobHandle

if TYPE_CHECKING:
    from jobtrail.jobs import JobDef

P = ParamSpec("P")
R = TypeVar("R")


class Enqueuing(Generic[P, R]):
    """A job type with its enqueue options set (`JobDef.options`): its `enqueue` takes
    only the job's own arguments, so a type checker checks them against the function."""

    __slots__ = ("_connection", "_definition", "_options", "_wait")

    def __init__(self, definition: JobDef[P, R], options: dict[str, Any],
                 connection: Any, wait: float | None = None) -> None:
        self._definition = definition
        self._options = options
        self._connection = connection
        self._wait = wait

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> JobHandle:
        """Store one job with these options; see `JobDef.enqueue`."""
        definition = self._definition
        job = definition.build(args, kwargs, **self._options)
        return definition._store([job], self._connection, self._wait)[0]

    def enqueue_many(self, items: Iterable[Mapping[str, Any]]) -> list[JobHandle]:
        """Store many jobs with these options in one transaction; see `JobDef.enqueue_many`
        (a fixed ``idempotency_key`` cannot be shared by several jobs)."""
        if self._options["idempotency_key"] is not None:
            raise ArgumentError(
                f"job {self._definition.name!r}: one idempotency_key cannot be given to "
                "enqueue_many; give the job an idempotency_key function instead"
            )
        options = {k: v for k, v in self._options.items() if k != "idempotency_key"}
        return self._definition.enqueue_many(items, connection=self._connection,
                                             wait=self._wait, **options)

    def __repr__(self) -> str:
        given = ", ".join(f"{k}={v!r}" for k, v in self._options.items() if v is not None)
        return f"<{self._definition.name}.options({given})>"


class JobDecorator(Protocol):
    """What ``@app.job(...)`` with options returns: applied to a function, it makes a
    `JobDef` typed as a bare ``@app.job`` types it, so ``enqueue`` is checked alike."""

    @overload
    def __call__(self, fn: Callable[Concatenate[Context, P], R], /) -> JobDef[P, R]: ...
    @overload
    def __call__(self, fn: Callable[P, R], /) -> JobDef[P, R]: ...
