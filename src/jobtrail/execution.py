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

from jobtrail.context import Context, _current
from jobtrail.errors import EffectUncertain, JobExit, JobTimeout, UnknownJob
from jobtrail.job import ErrorInfo, Status
from jobtrail.paths.redaction import Redactor
from jobtrail.payload import encode_result
from jobtrail.store.base import ClaimedJob, Outcome, PathEvent, RunSummary
from jobtrail.text import storable

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
    try:
        message = str(exc)
    except Exception as failure:  # a poison __str__ must not take the outcome down with it
        message = f"<str() of the error failed: {type(failure).__name__}>"
    # Free text goes to the store as it is, but for what no backend can hold.
    return ErrorInfo(storable(name), storable(message or (cls.__doc__ or "").strip()),
                     storable(text))


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
        return self._ended(value, error)

    async def run_async(self) -> Outcome | None:
        """Run on the worker's event loop, with the timeout as a cancellation. ``None``
        when the watchdog already gave up on it (it ignored the cancellation, or blocked
        the event loop past its deadline)."""
        token = _current.set(self.context)
        try:
            coro = self.definition.fn(*self._call_args(), **self.kwargs)
            timeout = self.definition.timeout
            try:
                value = await (asyncio.wait_for(coro, timeout) if timeout else coro)
                error: BaseException | None = None
            except TimeoutError as exc:
                value, error = None, exc if not self.past_deadline() else self._timeout()
            except BaseException as exc:  # the job's failure, whatever it is
                if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                    raise
                value, error = None, exc
        finally:
            _current.reset(token)
        with self.lock:
            if self.abandoned:
                return None
            self.done = True
        return self._ended(value, error)

    def _ended(self, value: Any, error: BaseException | None) -> Outcome:
        """The outcome of an attempt that returned *value* or raised *error*. An attempt
        that ends past its deadline failed with `JobTimeout`, whatever it returned: a
        result nobody waited for in time is not a success."""
        if error is None or isinstance(error, JobExit):
            if self.past_deadline():
                return self.failed(self._timeout(" (it returned, too late)"))
            return self.succeeded(value)
        return self.failed(error)

    def past_deadline(self, slack: float = 0.0) -> bool:
        """True when the attempt has a timeout and ran past it (by more than *slack*)."""
        return self.deadline is not None and time.monotonic() > self.deadline + slack

    def _timeout(self, detail: str = "") -> JobTimeout:
        timeout = self.definition.timeout or 0
        return JobTimeout(f"attempt ran past its timeout of {timeout:g}s{detail}")

    def abandon(self) -> None:
        """Stop caring how the attempt ends: its outcome, if it comes, is dropped."""
        with self.lock:
            self.abandoned = True

    def expire(self, detail: str = "") -> Outcome | None:
        """Give up on an attempt past its deadline and report the timeout now. A sync
        attempt gets `JobTimeout` raised in its thread (it stops at the next Python
        instruction); an async one was already cancelled by its timeout and is left to
        end on its own, its late outcome dropped. ``None`` when it had already ended."""
        with self.lock:
            if self.done or self.abandoned:
                return None
            self.abandoned = True
            if self.thread_id is not None:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self.thread_id), ctypes.py_object(JobTimeout)
                )
        return self.failed(self._timeout(detail))

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
            run=self._summary(completed=True), claim=self.claimed.claim,
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
                duration=time.monotonic() - self.started, claim=self.claimed.claim,
            )
        reason = "effect_uncertain" if isinstance(exc, EffectUncertain) else None
        return self._ending(Status.DEAD, info, reason)

    def _ending(self, status: Status, info: ErrorInfo, reason: str | None = None) -> Outcome:
        return Outcome(
            self.claimed.id, self.claimed.attempt, status, error=self._redacted(info),
            outcome=reason, events=self.context.take_unsaved(),
            duration=time.monotonic() - self.started, run=self._summary(completed=False),
            claim=self.claimed.claim,
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
        message = f"payload no longer fits job {claimed.job_name!r}: {problem}"
        if definition.redact:  # the problem may quote a sensitive value
            message = Redactor(definition.redact, kwargs).text(message)
        return _orphaned(app, claimed, "PayloadMismatch", message)
    context = Context(
        app,
        job_id=claimed.id,
        job_name=claimed.job_name,
        queue=claimed.queue,
        attempt=claimed.attempt,
        max_attempts=claimed.max_attempts,
        claim=claimed.claim,
        parent_job_id=claimed.parent_job_id,
        trace_id=claimed.trace_id,
        completed_steps=completed_steps,
        redactor=Redactor(definition.redact, kwargs) if definition.redact else None,
    )
    return Attempt(claimed, definition, context, kwargs)


def _orphaned(app: App, claimed: ClaimedJob, kind: str, message: str) -> Outcome:
    """A job that cannot run ends ``orphaned``: a run with nothing recorded."""
    return Outcome(claimed.id, claimed.attempt, Status.ORPHANED,
                   error=ErrorInfo(kind, storable(message)),
                   run=RunSummary(claimed.job_name, "", app.code_version), claim=claimed.claim)


