"""Running one attempt of one job and turning how it ended into an `Outcome`.

The worker claims; this module decides. It decodes and re-checks the payload
(a payload that no longer fits the code ends ``orphaned``), calls the function with
its `Context`, and classifies a failure with the job's `Retry` policy.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any

from jobtrail.context import Context, JobExit, _current
from jobtrail.errors import EffectUncertain, JobTimeout, UnknownJob
from jobtrail.job import ErrorInfo, Status
from jobtrail.paths.redaction import Redactor
from jobtrail.payload import encode_result
from jobtrail.store.base import ClaimedJob, Outcome, PathEvent, RunSummary

if TYPE_CHECKING:
    from jobtrail.app import App
    from jobtrail.jobs import JobDef

MAX_TRACEBACK_CHARS = 20_000
log = logging.getLogger("jobtrail.execution")


def error_info(exc: BaseException) -> ErrorInfo:
    """Describe an exception for the store: qualified class name, message, traceback."""
    cls = type(exc)
    name = cls.__qualname__
    if cls.__module__ != "builtins":
        name = f"{cls.__module__}.{name}"
    text = "".join(traceback.format_exception(exc))
    if len(text) > MAX_TRACEBACK_CHARS:
        text = "…" + text[-MAX_TRACEBACK_CHARS:]
    return ErrorInfo(name, str(exc) or (cls.__doc__ or "").strip(), text)


class Attempt:
    """One attempt in flight: what to call and, once it ends, how it ended."""

    __slots__ = (
        "abandoned",
        "claimed",
        "context",
        "deadline",
        "definition",
        "done",
        "kwargs",
        "lock",
        "started",
        "thread_id",
    )

    def __init__(
        self, claimed: ClaimedJob, definition: JobDef[Any, Any], context: Context,
        kwargs: dict[str, Any],
    ) -> None:
        self.claimed = claimed
        self.definition = definition
        self.context = context
        self.kwargs = kwargs
        self.started = time.monotonic()
        timeout = definition.timeout
        self.deadline = self.started + timeout if timeout else None
        self.lock = threading.Lock()
        self.done = False
        self.abandoned = False
        self.thread_id: int | None = None

    @property
    def job_id(self) -> int:
        return self.claimed.id

    def _call_args(self) -> tuple[Any, ...]:
        return (self.context,) if self.definition.takes_context else ()

    def run_sync(self) -> Outcome | None:
        """Run in the calling thread. ``None`` when the watchdog already gave up on it."""
        self.thread_id = threading.get_ident()
        token = _current.set(self.context)
        try:
            try:
                try:
                    value: Any = self.definition.fn(*self._call_args(), **self.kwargs)
                    error: BaseException | None = None
                except BaseException as exc:  # the job's failure, whatever it is
                    value, error = None, exc
                with self.lock:
                    self.done = True
            except JobTimeout as exc:  # the watchdog's exception landed after the call
                value, error = None, exc
        finally:
            _current.reset(token)
        if self.abandoned:
            return None
        if error is None or isinstance(error, JobExit):
            return self.succeeded(value)
        return self.failed(error)

    async def run_async(self) -> Outcome:
        """Run on the worker's event loop, with the timeout as a cancellation."""
        token = _current.set(self.context)
        try:
            coro = self.definition.fn(*self._call_args(), **self.kwargs)
            timeout = self.definition.timeout
            try:
                value = await (asyncio.wait_for(coro, timeout) if timeout else coro)
            except TimeoutError:
                return self.failed(JobTimeout(f"attempt ran past its timeout of {timeout:g}s"))
            except JobExit:
                return self.succeeded(None)
            except BaseException as exc:  # the job's failure, whatever it is
                if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                    raise
                return self.failed(exc)
            return self.succeeded(value)
        finally:
            _current.reset(token)

    def expire(self) -> Outcome | None:
        """Give up on a sync attempt past its deadline: raise `JobTimeout` in its thread
        (it stops at the next Python instruction) and report the timeout now."""
        with self.lock:
            if self.done or self.abandoned:
                return None
            self.abandoned = True
            if self.thread_id is not None:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self.thread_id), ctypes.py_object(JobTimeout)
                )
        timeout = self.definition.timeout or 0
        return self.failed(JobTimeout(f"attempt ran past its timeout of {timeout:g}s"))

    def succeeded(self, value: Any) -> Outcome:
        try:
            result = encode_result(value)
        except TypeError as exc:
            return self._ending(Status.DEAD, error_info(exc))
        reason = self.context.exit_reason
        redactor = self.context.redactor
        if reason is not None and redactor is not None:
            reason = redactor.text(reason)
        return Outcome(
            self.claimed.id, self.claimed.attempt, Status.SUCCEEDED, result=result,
            outcome=None if reason is None else f"exit:{reason}",
            events=self.context.take_unsaved(), duration=time.monotonic() - self.started,
            run=self._summary(completed=True),
        )

    def failed(self, exc: BaseException) -> Outcome:
        retry = self.definition.retry
        attempt = self.claimed.attempt
        info = error_info(exc)
        self.context.add_event(
            PathEvent("lifecycle", "failed", time.time(), None, {"error": info.type}))
        if attempt < self.claimed.max_attempts and retry.should_retry(exc, attempt):
            delay = retry.delay(attempt, self.claimed.backoff)
            return Outcome(
                self.claimed.id, attempt, Status.RETRYING, error=self._redacted(info),
                retry_delay=delay, events=self.context.take_unsaved(),
                duration=time.monotonic() - self.started,
            )
        reason = "effect_uncertain" if isinstance(exc, EffectUncertain) else None
        return self._ending(Status.DEAD, info, reason)

    def _ending(self, status: Status, info: ErrorInfo, reason: str | None = None) -> Outcome:
        return Outcome(
            self.claimed.id, self.claimed.attempt, status, error=self._redacted(info),
            outcome=reason, events=self.context.take_unsaved(),
            duration=time.monotonic() - self.started, run=self._summary(completed=False),
        )

    def _redacted(self, info: ErrorInfo) -> ErrorInfo:
        redactor = self.context.redactor
        return redactor.error(info) if redactor else info

    def _summary(self, *, completed: bool) -> RunSummary:
        try:
            return self.context.app.summarizer.summarize(
                self.context, completed=completed, expectation=self.definition.expectation)
        except Exception:  # a summary is worth less than the outcome it rides on
            log.exception("could not summarise the run of job %s", self.claimed.id)
            return RunSummary(self.claimed.job_name, "", self.context.app.code_version)


def prepare(
    app: App, claimed: ClaimedJob, completed_steps: dict[str, str] | None = None
) -> Attempt | Outcome:
    """Make an `Attempt` for *claimed*, or the ``orphaned`` outcome when it cannot run:
    an unknown job name, a payload that is not JSON, or arguments that no longer fit."""
    try:
        definition = app.job_named(claimed.job_name)
    except UnknownJob:
        known = ", ".join(sorted(app.registry)) or "none"
        return _orphaned(app, claimed, "UnknownJob",
                         f"no job named {claimed.job_name!r} is registered (known: {known})")
    try:
        kwargs = json.loads(claimed.payload)
    except ValueError as exc:
        return _orphaned(app, claimed, "CorruptPayload", f"payload is not valid JSON ({exc})")
    if not isinstance(kwargs, dict):
        return _orphaned(app, claimed, "CorruptPayload",
                         f"payload must be a JSON object, found {type(kwargs).__name__}")
    problem = definition.signature.problem(kwargs)
    if problem:
        return _orphaned(app, claimed, "PayloadMismatch",
                         f"payload no longer fits job {claimed.job_name!r}: {problem}")
    context = Context(
        app,
        job_id=claimed.id,
        job_name=claimed.job_name,
        queue=claimed.queue,
        attempt=claimed.attempt,
        max_attempts=claimed.max_attempts,
        parent_job_id=claimed.parent_job_id,
        trace_id=claimed.trace_id,
        completed_steps=completed_steps,
        redactor=Redactor(definition.redact, kwargs) if definition.redact else None,
    )
    return Attempt(claimed, definition, context, kwargs)


def _orphaned(app: App, claimed: ClaimedJob, kind: str, message: str) -> Outcome:
    """A job that cannot run ends ``orphaned``: a run with nothing recorded."""
    return Outcome(claimed.id, claimed.attempt, Status.ORPHANED, error=ErrorInfo(kind, message),
                   run=RunSummary(claimed.job_name, "", app.code_version))


