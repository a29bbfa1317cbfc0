"""The seam around every attempt: middleware, and the view of an attempt it is given.

```python
@app.middleware
def timing(attempt, call_next):
    started = time.perf_counter()
    outcome = call_next()          # runs the attempt, and the middlewares inside this one
    print(attempt.job_name, attempt.number, outcome.status, time.perf_counter() - started)
    return outcome
```

A middleware is a plain function ``(attempt: AttemptInfo, call_next) -> Outcome``.
Middlewares compose as an onion in registration order: the first registered is the
outermost, and the job itself is at the core. They wrap sync and async jobs alike: for an
async job the middlewares run in one of the worker's threads, and ``call_next()`` waits
while the job's coroutine runs on the worker's event loop.

- An exception raised **before** ``call_next()`` fails the attempt as the job's own error
  would: the job's retry policy decides between a retry and the dead-letter queue.
- An exception raised **after** it is logged (on ``jobtrail.middleware``) and changes
  nothing: the outcome that is stored is the one ``call_next()`` returned.
- A middleware returns that outcome. Returning without calling ``call_next()`` fails the
  attempt (a `MiddlewareError` naming the middleware); calling it twice raises
  `MiddlewareError` from the second call; returning anything else is logged and ignored.
- An attempt past its timeout is given up on by the worker's watchdog, which reports its
  `JobTimeout` itself (the job may be stuck where nothing else runs): ``call_next()``
  raises `JobTimeout` in the middlewares, and what they do then changes nothing.

The outcome a middleware sees is the one that will be stored: its error and path with
the job's ``redact=`` values masked, and, for a run that ended for good, its path variant
and divergences (the pipeline's built-in stage, `Pipeline.summarize`). Writing it, and
telling the app's observers once it is written (`jobtrail.observers`), comes after every
middleware.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from jobtrail.errors import MiddlewareError
from jobtrail.records import Status
from jobtrail.store.base import Outcome, RunSummary

if TYPE_CHECKING:
    from jobtrail.context import Context
    from jobtrail.expect import Expectation
    from jobtrail.redaction import Redactor

log = logging.getLogger("jobtrail.middleware")


@dataclass(frozen=True, slots=True)
class AttemptInfo:
    """One attempt, as a middleware sees it. ``number`` counts from 1; ``payload`` holds
    the job's arguments as the worker decoded them (the real values: middleware runs in
    the worker, as the job does)."""

    job_id: int
    job_name: str
    queue: str
    number: int
    max_attempts: int
    payload: Mapping[str, Any]
    parent_job_id: int | None
    trace_id: str | None


CallNext = Callable[[], Outcome]
Middleware = Callable[[AttemptInfo, CallNext], Outcome]


class Concluding(Protocol):
    """An attempt whose outcome is being made (`jobtrail.execution.Attempt`)."""

    @property
    def context(self) -> Context: ...
    @property
    def expectation(self) -> Expectation | None: ...


#: The built-in stage each outcome of a run that ended for good passes as it is made:
#: the run's summary (its path variant and how it departs from ``expect=``).
Summarize = Callable[[Concluding, Status], "RunSummary | None"]


def no_summary(attempt: Concluding, status: Status) -> RunSummary | None:
    """A pipeline without the built-in summary: runs are stored without a variant."""
    return None


class Chain:
    """Middlewares composed once, run around each attempt."""

    __slots__ = ("middlewares",)

    def __init__(self, middlewares: Sequence[Middleware]) -> None:
        self.middlewares = tuple(middlewares)

    def __bool__(self) -> bool:
        return bool(self.middlewares)

    def run(self, info: AttemptInfo, core: CallNext,
            failed: Callable[[BaseException], Outcome], redactor: Redactor | None = None
            ) -> Outcome:
        """Run the middlewares around *core* (the job); *failed* makes the outcome of an
        attempt a middleware failed before calling ``call_next``; *redactor* masks the
        job's sensitive values in what is logged."""
        return self._layer(0, info, core, failed, redactor)

    def _layer(self, index: int, info: AttemptInfo, core: CallNext,
               failed: Callable[[BaseException], Outcome], redactor: Redactor | None
               ) -> Outcome:
        if index == len(self.middlewares):
            return core()
        middleware = self.middlewares[index]
        inner: list[Outcome] = []

        def call_next() -> Outcome:
            if inner:
                raise MiddlewareError(f"middleware {_name(middleware)} called call_next twice")
            inner.append(self._layer(index + 1, info, core, failed, redactor))
            return inner[0]

        try:
            returned = middleware(info, call_next)
        except Exception as exc:
            if not inner:
                return failed(exc)
            message = ("middleware %s failed after call_next (job %s, attempt %d); the "
                       "outcome stands")
            args = (_name(middleware), info.job_id, info.number)
            if redactor is None:
                log.exception(message, *args)
            else:
                redactor.log_exception(log, message, *args)
            return inner[0]
        if not inner:
            return failed(MiddlewareError(
                f"middleware {_name(middleware)} returned without calling call_next"))
        if returned is not inner[0]:
            log.warning("middleware %s returned %r instead of call_next's outcome: ignored",
                        _name(middleware), type(returned).__name__)
        return inner[0]


@dataclass(frozen=True, slots=True)
class Pipeline:
    """What every attempt of an app goes through: the app's middlewares around the whole
    attempt (`chain`), and the built-in stage that summarises a run as its final outcome
    is made (`summarize`: its variant and conformance check)."""

    chain: Chain = field(default_factory=lambda: Chain(()))
    summarize: Summarize = no_summary


def _name(middleware: object) -> str:
    return getattr(middleware, "__qualname__", None) or repr(middleware)
