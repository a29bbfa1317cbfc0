"""Running one attempt of one job and turning how it ended into an `Outcome`.

The worker claims; this module decides. `prepare` decodes and re-checks the payload (a
payload that no longer fits the code ends ``orphaned``) and makes the `Attempt`, which
calls the function with its `Context` inside the app's middlewares
(`jobtrail.middleware`) and classifies a failure with the job's `Retry` policy. Every
outcome of an attempt is made in one place, `Attempt._outcome`: masked by the job's
redactor, and, for a run that ended for good, with its summary from the pipeline's
built-in stage (the path variant and the conformance check).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextvars import Token
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from jobtrail.breakers import BreakerOpen, Breakers, deferred, gate, report
from jobtrail.context import Context, _current
from jobtrail.errors import DecryptionError, EffectUncertain, JobExit, JobTimeout, UnknownJob
from jobtrail.middleware import AttemptInfo, Pipeline
from jobtrail.observe.tracing import AttemptSpan, Tracing
from jobtrail.payload import encode_result
from jobtrail.records import ErrorInfo, Status, error_info
from jobtrail.resources import peak_rss
from jobtrail.secrecy import opened_payload
from jobtrail.store.base import (
    ClaimedJob,
    CompletedSteps,
    Outcome,
    PathEvent,
    RunSummary,
    Store,
)
from jobtrail.text import storable

if TYPE_CHECKING:
    from jobtrail.encryption import Keyring
    from jobtrail.expect import Expectation
    from jobtrail.jobs import JobDef

log = logging.getLogger("jobtrail.execution")
#: Seconds between two looks of a thread waiting for an async job, so that the watchdog's
#: `JobTimeout` can land in it.
AWAIT_POLL = 0.1


class Runs(Protocol):
    """What running an app's jobs needs of it (an `App`)."""

    @property
    def store(self) -> Store: ...
    @property
    def registry(self) -> Mapping[str, JobDef[Any, Any]]: ...
    @property
    def pipeline(self) -> Pipeline: ...
    @property
    def code_version(self) -> str | None: ...
    @property
    def breaker_registry(self) -> Breakers: ...
    @property
    def tracing(self) -> Tracing: ...
    @property
    def keyring(self) -> Keyring | None: ...


Submit = Callable[["Attempt"], "concurrent.futures.Future[tuple[Any, BaseException | None]]"]


class Attempt:
    """One attempt in flight: what to call and, once it ends, how it ended."""

    __slots__ = (
        "abandoned",
        "claimed",
        "context",
        "cpu_started",
        "deadline",
        "definition",
        "done",
        "kwargs",
        "lock",
        "pipeline",
        "probe",
        "started",
        "thread_id",
        "traced",
    )

    def __init__(
        self, claimed: ClaimedJob, definition: JobDef[Any, Any], context: Context,
        kwargs: dict[str, Any], pipeline: Pipeline,
    ) -> None:
        self.claimed = claimed
        self.definition = definition
        self.context = context
        self.kwargs = kwargs
        self.pipeline = pipeline
        self.started = time.monotonic()
        timeout = definition.timeout
        self.deadline = self.started + timeout if timeout else None
        self.lock = threading.Lock()
        self.done = False
        self.abandoned = False
        self.thread_id: int | None = None
        self.probe = False  # whether it probes the half-open breaker its job needs
        self.traced: AttemptSpan | None = None  # its span, when tracing is on
        self.cpu_started: float | None = None  # the thread's CPU time as a sync job began

    @property
    def job_id(self) -> int:
        return self.claimed.id

    @property
    def expectation(self) -> Expectation | None:
        """The path this job is expected to take."""
        return self.definition.expectation

    @property
    def in_thread(self) -> bool:
        """True when the attempt runs in a worker thread: a sync job, or an async one
        inside middlewares (an async job alone runs on the event loop)."""
        return not self.definition.is_async or bool(self.pipeline.chain)

    def info(self) -> AttemptInfo:
        """The attempt as a middleware sees it."""
        claimed = self.claimed
        return AttemptInfo(claimed.id, claimed.job_name, claimed.queue, claimed.attempt,
                           claimed.max_attempts, self.kwargs, claimed.parent_job_id,
                           claimed.trace_id)

    def _call_args(self) -> tuple[Any, ...]:
        return (self.context,) if self.definition.takes_context else ()

    # -- running --------------------------------------------------------------------------
    def run_sync(self, submit: Submit | None = None) -> Outcome | None:
        """Run in the calling thread, inside the app's middlewares: a sync job, or an async
        one whose coroutine *submit* hands to the event loop. ``None`` when the watchdog
        already gave up on it."""
        self.thread_id = threading.get_ident()
        if not self.definition.is_async:
            self.cpu_started = time.thread_time()
        token = self._enter()
        try:
            try:
                chain = self.pipeline.chain
                core: Callable[[], Outcome] = self._call_sync
                if self.definition.is_async:
                    core = partial(self._call_async, submit)
                outcome = (chain.run(self.info(), core, self.failed, self.context.redactor)
                           if chain else core())
            except JobTimeout:  # the watchdog's exception landed outside the job's own call
                outcome = None
        finally:
            self._leave(token)
        return None if self.abandoned else outcome

    def _call_sync(self) -> Outcome:
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
        return self._ended(value, error)

    def _call_async(self, submit: Submit | None) -> Outcome:
        """An async job's coroutine, on the event loop, waited for here."""
        if submit is None:
            raise RuntimeError("an async job run in a thread needs the worker's event loop")
        future = submit(self)
        try:
            while True:  # short waits, so that the watchdog's JobTimeout can land here
                try:
                    value, error = future.result(timeout=AWAIT_POLL)
                    break
                except concurrent.futures.TimeoutError:
                    continue
        except BaseException:
            future.cancel()
            raise
        with self.lock:
            self.done = True
        return self._ended(value, error)

    async def run_async(self) -> Outcome | None:
        """Run on the worker's event loop, with the timeout as a cancellation. ``None``
        when the watchdog already gave up on it (it ignored the cancellation, or blocked
        the event loop past its deadline)."""
        value, error = await self.awaited()
        with self.lock:
            if self.abandoned:
                return None
            self.done = True
        return self._ended(value, error)

    async def awaited(self) -> tuple[Any, BaseException | None]:
        """Await the job's coroutine with its timeout: what it returned, or what it raised."""
        token = self._enter()
        try:
            coro = self.definition.fn(*self._call_args(), **self.kwargs)
            timeout = self.definition.timeout
            try:
                return await (asyncio.wait_for(coro, timeout) if timeout else coro), None
            except TimeoutError as exc:
                return None, exc if not self.past_deadline() else self._timeout()
            except BaseException as exc:  # the job's failure, whatever it is
                if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                    raise
                return None, exc
        finally:
            self._leave(token)

    def _enter(self) -> tuple[Token[Context | None], object]:
        """Make this attempt's context (and span) current in this thread or task."""
        traced = self.traced
        return _current.set(self.context), None if traced is None else traced.enter()

    def _leave(self, tokens: tuple[Token[Context | None], object]) -> None:
        context_token, span_token = tokens
        if span_token is not None and self.traced is not None:
            self.traced.leave(span_token)
        _current.reset(context_token)

    def _ended(self, value: Any, error: BaseException | None) -> Outcome:
        """The outcome of an attempt that returned *value* or raised *error*. An attempt
        that ends past its deadline failed with `JobTimeout`, whatever it returned: a
        result nobody waited for in time is not a success."""
        if error is None or isinstance(error, JobExit):
            if self.past_deadline():
                return self.failed(self._timeout(" (it returned, too late)"))
            return self.succeeded(value)
        return self.failed(error)

    # -- the watchdog ---------------------------------------------------------------------
    def past_deadline(self, slack: float = 0.0) -> bool:
        """True when the attempt has a timeout and ran past it (by more than *slack*)."""
        return self.deadline is not None and time.monotonic() > self.deadline + slack

    def _timeout(self, detail: str = "") -> JobTimeout:
        timeout = self.definition.timeout or 0
        return JobTimeout(f"attempt ran past its timeout of {timeout:g}s{detail}")

    def abandon(self, why: str) -> None:
        """Stop caring how the attempt ends: its outcome, if it comes, is dropped; its span
        ends now, saying *why*."""
        with self.lock:
            self.abandoned = True
        if self.traced is not None:
            try:
                self.traced.cut_short(why)
            except Exception:  # a span is worth less than stopping the worker
                log.exception("could not end the span of job %s", self.claimed.id)

    def expire(self, detail: str = "") -> Outcome | None:
        """Give up on an attempt past its deadline and report the timeout now. An attempt
        in a thread gets `JobTimeout` raised there (it stops at the next Python
        instruction); one on the event loop was already cancelled by its timeout and is
        left to end on its own, its late outcome dropped. ``None`` when it had ended."""
        with self.lock:
            if self.done or self.abandoned:
                return None
            self.abandoned = True
            if self.thread_id is not None:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self.thread_id), ctypes.py_object(JobTimeout)
                )
        return self.failed(self._timeout(detail), compensate=False)

    # -- outcomes ---------------------------------------------------------------------------
    def succeeded(self, value: Any) -> Outcome:
        self._breaker(failed=False)
        try:
            result = encode_result(value)
        except TypeError as exc:
            return self._outcome(Status.DEAD, error=error_info(exc))
        reason = self.context.exit_reason
        return self._outcome(Status.SUCCEEDED, result=result,
                             outcome=None if reason is None else f"exit:{reason}")

    def failed(self, exc: BaseException, *, compensate: bool = True) -> Outcome:
        """The outcome of an attempt that raised *exc*: retrying, or dead — then, unless
        *compensate* is false (the watchdog's thread, while the job's own still runs), with
        its effects undone (`jobtrail.compensation`)."""
        info = error_info(exc)
        if isinstance(exc, BreakerOpen):  # an effect's breaker: deferred, not failed
            return self._outcome(Status.RETRYING, error=info, retry_delay=exc.retry_after,
                                 uncounted=True)
        self._breaker(failed=True)
        retry = self.definition.retry
        attempt = self.claimed.attempt
        context = self.context
        context.add_event(
            PathEvent("lifecycle", "failed", time.time(), None, {"error": info.type}))
        if attempt < self.claimed.max_attempts and retry.should_retry(exc, attempt):
            return self._outcome(Status.RETRYING, error=info,
                                 retry_delay=retry.delay(attempt, self.claimed.backoff))
        reason = "effect_uncertain" if isinstance(exc, EffectUncertain) else None
        report = context.compensate(retry) if compensate else None
        if report is not None:
            context.add_event(PathEvent("lifecycle", "compensated", time.time(), None, {
                "undone": report.undone, "not_undone": [n for n, _ in report.not_undone]}))
            info = dataclasses.replace(info, message=f"{info.message} — {report.summary()}")
        return self._outcome(Status.DEAD, error=info, outcome=reason)

    def _breaker(self, *, failed: bool) -> None:
        """Tell the breaker the job needs how its call went."""
        name = self.definition.breaker
        if name is not None:
            report(self.context, name, failed=failed, probe=self.probe)

    def _outcome(self, status: Status, *, result: str | None = None,
                 error: ErrorInfo | None = None, outcome: str | None = None,
                 retry_delay: float | None = None, uncounted: bool = False) -> Outcome:
        """Every outcome of this attempt is made here: masked by the job's redactor (its
        path entries are, as they leave the context; its result, which only the job's
        own code sees unmasked), and for a run that ended for good
        with the summary the pipeline's built-in stage makes of it."""
        redactor = self.context.redactor
        if redactor is not None:
            error = None if error is None else redactor.error(error)
            outcome = None if outcome is None else redactor.text(outcome)
            result = None if result is None else redactor.result(result)
        run = self._summary(status) if status.is_final else None
        made = Outcome(
            self.claimed.id, self.claimed.attempt, status, result=result, error=error,
            retry_delay=retry_delay, outcome=outcome,
            events=self.context.take_unsaved(final=status is Status.SUCCEEDED),
            duration=time.monotonic() - self.started, run=run, claim=self.claimed.claim,
            uncounted=uncounted, cpu=self._cpu(), max_rss=peak_rss(),
            withdrawn=self._withdrawn(),
        )
        if self.traced is not None:
            self._traced_end(made)
        return made

    def _withdrawn(self) -> tuple[str, ...]:
        """The effect keys the outcome withdraws: only once the job's code has ended (the
        watchdog's outcome of a job still running withdraws none)."""
        keys = self.context.uncalled_keys
        return tuple(keys) if keys and self.done and not self.abandoned else ()

    def _cpu(self) -> float | None:
        """The CPU seconds of the thread that ran this sync job, when it is the one asking
        (not the watchdog's)."""
        started = self.cpu_started
        if started is None or threading.get_ident() != self.thread_id:
            return None
        return time.thread_time() - started

    def _traced_end(self, outcome: Outcome) -> None:
        traced = self.traced
        assert traced is not None
        try:
            traced.finish(self.context, outcome)
        except Exception:  # a span is worth less than the outcome it describes
            log.exception("could not end the span of job %s attempt %d", self.claimed.id,
                          self.claimed.attempt)

    def _summary(self, status: Status) -> RunSummary | None:
        try:
            return self.pipeline.summarize(self, status)
        except Exception:  # a summary is worth less than the outcome it rides on
            redactor = self.context.redactor
            if redactor is None:
                log.exception("could not summarise the run of job %s", self.claimed.id)
            else:
                redactor.log_exception(log, "could not summarise the run of job %s",
                                       self.claimed.id)
            return RunSummary(self.claimed.job_name, "")


def prepare(
    host: Runs, claimed: ClaimedJob, completed_steps: CompletedSteps | None = None
) -> Attempt | Outcome:
    """Make an `Attempt` for *claimed*, or the ``orphaned`` outcome when it cannot run:
    an unknown job name, a payload that is not JSON, or arguments that no longer fit."""
    definition = host.registry.get(claimed.job_name)
    if definition is None:
        known = ", ".join(sorted(host.registry)) or "none"
        return _orphaned(host, claimed, UnknownJob.__name__,
                         f"no job named {claimed.job_name!r} is registered (known: {known})")
    try:
        kwargs = json.loads(claimed.payload)
    except ValueError as exc:
        return _orphaned(host, claimed, "CorruptPayload", f"payload is not valid JSON ({exc})")
    if not isinstance(kwargs, dict):
        return _orphaned(host, claimed, "CorruptPayload",
                         f"payload must be a JSON object, found {type(kwargs).__name__}")
    try:
        kwargs = opened_payload(host.keyring, claimed.id, claimed.job_name, claimed.payload,
                                kwargs)
    except DecryptionError as exc:
        return _undecryptable(host, claimed, definition, exc)
    problem = definition.signature.problem(kwargs)
    if problem:
        message = f"payload no longer fits job {claimed.job_name!r}: {problem}"
        redactor = definition.redactor(kwargs)
        if redactor is not None:  # the problem may quote a sensitive value
            message = redactor.message(message)
        return _orphaned(host, claimed, "PayloadMismatch", message)
    context = Context(
        host.store,
        job_id=claimed.id,
        job_name=claimed.job_name,
        queue=claimed.queue,
        attempt=claimed.attempt,
        max_attempts=claimed.max_attempts,
        claim=claimed.claim,
        parent_job_id=claimed.parent_job_id,
        trace_id=claimed.trace_id,
        completed_steps=completed_steps,
        redactor=definition.redactor(kwargs),
        jobs=host.registry,
        breakers=host.breaker_registry,
    )
    attempt = Attempt(claimed, definition, context, kwargs, host.pipeline)
    traced = attempt.traced = context.traced = host.tracing.start(claimed)
    if definition.breaker is not None:
        try:
            attempt.probe = gate(context, definition.breaker, definition.timeout)
        except BreakerOpen as exc:  # not attempted: back to the queue, the attempt uncounted
            outcome = deferred(claimed, exc)
            if traced is not None:
                attempt._traced_end(outcome)
            return outcome
    return attempt


def _undecryptable(host: Runs, claimed: ClaimedJob, definition: JobDef[Any, Any],
                   exc: DecryptionError) -> Outcome:
    """A job whose payload this worker cannot decrypt is not run: the attempt fails with
    the reason (naming the key id it needs) and follows the job's retry policy, so it runs
    once a worker has the key, or waits in the dead letters to be replayed then."""
    attempt = claimed.attempt
    info = ErrorInfo(DecryptionError.__name__, storable(str(exc)))
    if attempt < claimed.max_attempts and definition.retry.should_retry(exc, attempt):
        return Outcome(claimed.id, attempt, Status.RETRYING, error=info,
                       retry_delay=definition.retry.delay(attempt, claimed.backoff),
                       claim=claimed.claim)
    return Outcome(claimed.id, attempt, Status.DEAD, error=info,
                   run=RunSummary(claimed.job_name, "", host.code_version), claim=claimed.claim)


def _orphaned(host: Runs, claimed: ClaimedJob, kind: str, message: str) -> Outcome:
    """A job that cannot run ends ``orphaned``: a run with nothing recorded."""
    return Outcome(claimed.id, claimed.attempt, Status.ORPHANED,
                   error=ErrorInfo(kind, storable(message)),
                   run=RunSummary(claimed.job_name, "", host.code_version), claim=claimed.claim)
