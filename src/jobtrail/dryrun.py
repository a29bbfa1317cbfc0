"""Dry runs: a job executed with its effects captured instead of performed.

``job.dry_run(invoice_id=7)`` (or ``jobtrail run MODULE:APP JOB --dry-run``) runs the job's
function here, now, with a context whose ``ctx.effect`` records the effect's name, key and
arguments and returns a stand-in result instead of calling it, and whose ``ctx.enqueue``
records the child job instead of storing it. Nothing is written to the store. Steps and
decisions run as usual — they are the job's computation; what must not happen in a dry
run belongs in an effect. The result is the path the run took (its variant in the path
language), how it diverges from the job's ``expect=``, the captured effects and enqueues,
and the return value or error.

Shadow runs (`jobtrail.shadow`) run a candidate implementation the same way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from jobtrail.context import Context, _current
from jobtrail.errors import JobExit, JobNotFound
from jobtrail.expect import Expectation
from jobtrail.handle import JobHandle
from jobtrail.paths.runs import Summarizer
from jobtrail.records import Divergence, ErrorInfo, JobRecord, PointKind, error_info
from jobtrail.redaction import Redactor
from jobtrail.store.base import NewJob, PathEvent

T = TypeVar("T")


class DryJob(Protocol):
    """What a dry run needs of a job type (a `JobDef`)."""

    @property
    def name(self) -> str: ...
    @property
    def queue(self) -> str: ...
    @property
    def fn(self) -> Callable[..., Any]: ...
    @property
    def takes_context(self) -> bool: ...
    @property
    def redact(self) -> frozenset[str]: ...
    @property
    def expectation(self) -> Expectation | None: ...

    def build(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> NewJob:
        """Check arguments (and options) and return the row that would be stored."""
        ...

    def redactor(self, payload: Mapping[str, Any]) -> Redactor | None:
        """What masks the job's sensitive values in a run on *payload*."""
        ...

    def opened(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """A stored payload, decoded, with its encrypted values opened."""
        ...


class _NothingStored:
    """The lookup of the handles a dry run returns: it stored no job."""

    def get(self, job_id: int) -> JobRecord:
        raise JobNotFound("a dry run stores no job: its child jobs were only captured")

    def wait(self, job_id: int, *, timeout: float | None = None) -> JobRecord:
        return self.get(job_id)

    async def wait_async(self, job_id: int, *, timeout: float | None = None) -> JobRecord:
        return self.get(job_id)


_NOTHING_STORED = _NothingStored()


@dataclass(frozen=True, slots=True)
class CapturedEffect:
    """An effect a dry run did not perform: what it would have called, and with what."""

    name: str
    key: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    repeat_safe: bool


@dataclass(frozen=True, slots=True)
class CapturedEnqueue:
    """A child job a dry run did not store."""

    job_name: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DryRun:
    """What a dry run did. ``variant`` is its path in the path language."""

    job_name: str
    variant: str
    events: tuple[PathEvent, ...]
    effects: tuple[CapturedEffect, ...]
    enqueued: tuple[CapturedEnqueue, ...]
    divergences: tuple[Divergence, ...]
    result: Any = None
    error: ErrorInfo | None = None
    exit_reason: str | None = None

    @property
    def succeeded(self) -> bool:
        """True when the function returned (or exited on purpose)."""
        return self.error is None


class DryContext(Context):
    """A `Context` that captures effects and child jobs instead of performing them."""

    __slots__ = ("effect_results", "effects", "enqueued")

    def __init__(self, *, job_name: str, queue: str,
                 effect_results: Mapping[str, Any], redactor: Redactor | None) -> None:
        super().__init__(None, job_id=0, job_name=job_name, queue=queue, attempt=1,
                         max_attempts=1, redactor=redactor)
        self.effect_results = dict(effect_results)
        self.effects: list[CapturedEffect] = []
        self.enqueued: list[CapturedEnqueue] = []

    def _perform(self, name: str, fn: Callable[..., T], args: tuple[Any, ...],
                 kwargs: dict[str, Any], key: str, repeat_safe: bool) -> T:
        if key == f"0:{name}":  # the default key names the job id, which a dry run lacks
            key = f"<job id>:{name}"
        self.effects.append(CapturedEffect(name, key, args, dict(kwargs), repeat_safe))
        self.add_event(PathEvent(PointKind.EFFECT, name, time.time(), 0.0,
                                 {"key": key, "captured": True}))
        value: T = self.effect_results.get(name)  # type: ignore[assignment]  # a stand-in
        return value

    def enqueue(self, job: Any, /, *args: Any, **kwargs: Any) -> JobHandle:
        build = getattr(job, "build", None)
        if not callable(build):
            raise TypeError(f"ctx.enqueue needs a job type (made by @app.job), got {job!r}")
        new: NewJob = build(args, kwargs)
        values = json.loads(new.payload)
        opened = getattr(job, "opened", None)
        self.enqueued.append(CapturedEnqueue(new.job_name,
                                             values if opened is None else opened(values)))
        return JobHandle(0, new.job_name, _NOTHING_STORED)


def dry_run(definition: DryJob, fn: Callable[..., Any] | None, args: tuple[Any, ...],
            kwargs: Mapping[str, Any], *,
            effect_results: Mapping[str, Any] | None = None) -> DryRun:
    """Run *fn* (default: the job's function) as *definition* on these arguments, checked
    and passed through JSON as a worker would get them, with effects captured."""
    values = definition.opened(json.loads(definition.build(args, dict(kwargs)).payload))
    redactor = definition.redactor(values)
    ctx = DryContext(job_name=definition.name, queue=definition.queue,
                     effect_results=effect_results or {}, redactor=redactor)
    target = fn or definition.fn
    call_args = (ctx,) if definition.takes_context else ()
    result: Any = None
    error: ErrorInfo | None = None
    token = _current.set(ctx)
    try:
        outcome = target(*call_args, **values)
        result = asyncio.run(outcome) if asyncio.iscoroutine(outcome) else outcome
    except JobExit:
        result = None
    except Exception as exc:
        error = error_info(exc)
    finally:
        _current.reset(token)
    summary = Summarizer(None, None).summarize(
        ctx, completed=error is None, expectation=definition.expectation)
    done = DryRun(
        definition.name, summary.variant, tuple(ctx.recorded()), tuple(ctx.effects),
        tuple(ctx.enqueued), tuple(summary.findings), result, error, ctx.exit_reason,
    )
    return _masked(done, redactor) if redactor is not None else done


def _masked(done: DryRun, redactor: Redactor) -> DryRun:
    """*done* with what it records of the run masked as the store would keep it (its
    result and the captured calls stay as the function gave them: they are the caller's
    own values)."""
    return dataclasses.replace(
        done, variant=redactor.text(done.variant), events=tuple(redactor.entries(done.events)),
        divergences=tuple(redactor.divergence(f) for f in done.divergences),
        error=None if done.error is None else redactor.error(done.error),
        exit_reason=None if done.exit_reason is None else redactor.text(done.exit_reason),
    )
