"""OpenTelemetry traces across the queue hop: enqueue → attempts → steps and effects.

Tracing is on when OpenTelemetry is configured in the process — a tracer provider set
with ``opentelemetry.trace.set_tracer_provider`` (or given as ``App(tracer_provider=...)``)
— and ``App(tracing=False)`` turns it off. Otherwise jobtrail never imports
OpenTelemetry: it only looks whether the application did, so an app without it pays a
dictionary lookup per enqueue and per attempt.

What is traced, after OpenTelemetry's messaging conventions:

- **enqueue**: a ``send <queue>`` span (kind PRODUCER) around the store's write, inside
  the caller's current span. Its context is stored with each job (the W3C
  ``traceparent``, as the process's propagator writes it), and the job's trace id is the
  trace's. A batch (`enqueue_many`, a workflow's members), a delayed job and a periodic
  job start a trace of their own whose ``send`` span *links* to the caller's span: a
  fan-out of thousands does not swell the request's trace, and a job that runs tomorrow
  is not a child of a request long finished.
- **each attempt**: a ``process <queue>`` span (kind CONSUMER) whose parent is the
  ``send`` span, so the retries of one job stay in one trace. It is the current span
  while the job runs: what the job enqueues (``ctx.enqueue``), and the spans of the
  libraries it calls, are its children. It ends with the attempt's outcome: status ERROR
  for a failed attempt, with an ``exception`` event (type and message, masked by the
  job's ``redact=``); its divergences, its exit and a deferral are span events.
- **each step and effect** the attempt recorded: a child span named after it, timed as
  recorded, with status ERROR when it raised (``jobtrail.replayed`` when a retry took
  its recorded result rather than running it). These spans are made from the recorded
  path as the attempt ends, so recording a step costs nothing more with tracing on.

No argument of a job is ever put on a span; an effect's key is, masked by the job's
redactor like everything an operator sees.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from jobtrail.records import PointKind, Status

if TYPE_CHECKING:
    from jobtrail.context import Context
    from jobtrail.store.base import ClaimedJob, Enqueued, NewJob, Outcome

log = logging.getLogger("jobtrail.tracing")
#: The name of jobtrail's tracer (its instrumentation scope).
TRACER_NAME = "jobtrail"
SYSTEM = "jobtrail"
#: Steps that raised in one attempt that are remembered for their spans, at most.
MAX_FAILED_STEPS = 100
_NS = 1_000_000_000


class Tracing:
    """Whether, and with which tracer, an app traces its jobs (see the module docstring).

    *provider* is a tracer provider to use rather than the process's global one;
    *enabled* false turns tracing off whatever is configured."""

    __slots__ = ("_otel", "_provider", "_seen", "_tracer", "enabled")

    def __init__(self, provider: Any = None, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._provider = provider
        self._seen: object = None
        self._tracer: Any = None
        self._otel: OTel | None = None
        if provider is not None:
            self._tracer = provider.get_tracer(TRACER_NAME)
            self._otel = OTel.load()

    def tracer(self) -> Any:
        """The tracer to use now, or ``None`` when tracing is off or not configured."""
        if not self.enabled:
            return None
        if self._provider is not None:
            return self._tracer
        trace = sys.modules.get("opentelemetry.trace")
        if trace is None:  # the application never imported OpenTelemetry
            return None
        provider = trace.get_tracer_provider()
        if provider is not self._seen:
            self._seen = provider
            tracer = None
            if not isinstance(provider, trace.ProxyTracerProvider):  # set by someone
                tracer = provider.get_tracer(TRACER_NAME)
                if isinstance(tracer, trace.NoOpTracer):
                    tracer = None
            if tracer is not None and self._otel is None:
                self._otel = OTel.load()
            self._tracer = tracer
        return self._tracer

    # -- enqueue ----------------------------------------------------------------------------
    def send(self, queue: str, jobs: list[NewJob], store: Callable[[list[NewJob]], list[Enqueued]],
             *, linked: bool | None = None) -> list[Enqueued]:
        """Store *jobs* through *store* inside a ``send`` span, each carrying its context.
        *linked* (by default: a batch, or a delayed job) starts a trace of its own linked
        to the caller's span."""
        tracer = self.tracer()
        if tracer is None:
            return store(jobs)
        assert self._otel is not None
        return _send(self._otel, tracer, queue, jobs, store, linked)

    # -- attempts ---------------------------------------------------------------------------
    def start(self, claimed: ClaimedJob) -> AttemptSpan | None:
        """The ``process`` span of an attempt of *claimed*, started; ``None`` when off, or
        when the tracer failed (logged: the job runs untraced, never fails for it)."""
        tracer = self.tracer()
        if tracer is None:
            return None
        otel = self._otel
        assert otel is not None
        try:
            return AttemptSpan(otel, tracer, _start(otel, tracer, claimed))
        except Exception:
            log.exception("could not start the span of job %s; it runs untraced", claimed.id)
            return None


class OTel:
    """OpenTelemetry's API modules, imported once tracing is found on (a name lookup per
    use rather than an import statement)."""

    __slots__ = ("context", "propagate", "trace")

    def __init__(self, context: Any, propagate: Any, trace: Any) -> None:
        self.context = context
        self.propagate = propagate
        self.trace = trace

    @classmethod
    def load(cls) -> OTel:
        from opentelemetry import context, propagate, trace

        return cls(context, propagate, trace)


def _send(otel: OTel, tracer: Any, queue: str, jobs: list[NewJob],
          store: Callable[[list[NewJob]], list[Enqueued]], linked: bool | None) -> list[Enqueued]:
    context, trace = otel.context, otel.trace
    try:
        span, stored = _sending(otel, tracer, queue, jobs, linked)
    except Exception:  # a tracer gone wrong never keeps a job from being stored
        log.exception("could not start the span of an enqueue; the jobs are stored untraced")
        return store(jobs)
    token = context.attach(trace.set_span_in_context(span))
    try:
        trace_id = trace.format_trace_id(span.get_span_context().trace_id)
        # A child keeps its parent's trace id, whichever trace its spans are in.
        ids = store([replace(job, trace_context=stored, trace_id=job.trace_id
                             if job.parent_job_id is not None else trace_id) for job in jobs])
        if len(ids) == 1:
            span.set_attribute("messaging.message.id", str(ids[0]))
        return ids
    except Exception as exc:
        span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        context.detach(token)
        span.end()


def _sending(otel: OTel, tracer: Any, queue: str, jobs: list[NewJob], linked: bool | None
             ) -> tuple[Any, str]:
    """The ``send`` span of *jobs*, started, and the context to store with them."""
    context, propagate, trace = otel.context, otel.propagate, otel.trace
    if linked is None:
        linked = len(jobs) > 1 or jobs[0].delay is not None or jobs[0].run_at is not None
    attributes: dict[str, Any] = {
        "messaging.system": SYSTEM, "messaging.operation.type": "send",
        "messaging.destination.name": queue, "jobtrail.job.name": jobs[0].job_name,
    }
    if len(jobs) > 1:
        attributes["messaging.batch.message_count"] = len(jobs)
    links: list[Any] = []
    parent = None
    if linked:
        caller = trace.get_current_span().get_span_context()
        if caller.is_valid:
            links.append(trace.Link(caller))
        parent = context.Context()  # a root: a trace of its own
    span = tracer.start_span(f"send {queue}", context=parent, kind=trace.SpanKind.PRODUCER,
                             links=links, attributes=attributes)
    try:
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        return span, json.dumps(carrier, separators=(",", ":"))
    except Exception:
        span.end()
        raise


def _start(otel: OTel, tracer: Any, claimed: ClaimedJob) -> Any:
    propagate, trace = otel.propagate, otel.trace

    parent = None
    if claimed.trace_context:
        try:
            carrier = json.loads(claimed.trace_context)
            if isinstance(carrier, dict):
                parent = propagate.extract(carrier)
        except Exception:  # a row written by hand, values of the wrong type: no parent
            parent = None
    return tracer.start_span(f"process {claimed.queue}", context=parent,
                             kind=trace.SpanKind.CONSUMER, attributes={
        "messaging.system": SYSTEM, "messaging.operation.type": "process",
        "messaging.destination.name": claimed.queue, "messaging.message.id": str(claimed.id),
        "jobtrail.job.name": claimed.job_name, "jobtrail.attempt": claimed.attempt,
    })


class AttemptSpan:
    """The ``process`` span of one attempt, with the tracer that made it."""

    __slots__ = ("_ended", "_failed_steps", "_lock", "otel", "span", "tracer")

    def __init__(self, otel: OTel, tracer: Any, span: Any) -> None:
        self.otel = otel
        self.tracer = tracer
        self.span = span
        self._failed_steps: list[tuple[str, float, float, str]] = []
        self._ended = False
        self._lock = threading.Lock()  # the worker and the job's thread may both end it

    def _ending(self) -> bool:
        """True for the one caller that ends the span."""
        with self._lock:
            ended, self._ended = self._ended, True
        return not ended

    def enter(self) -> object:
        """Make the span current in this thread or task; the token for `leave`."""
        otel = self.otel
        return otel.context.attach(otel.trace.set_span_in_context(self.span))

    def leave(self, token: object) -> None:
        """Undo `enter`."""
        self.otel.context.detach(token)

    def step_failed(self, name: str, at: float, duration: float, error: BaseException) -> None:
        """A step raised: it has no entry on the path, but it has a span."""
        if len(self._failed_steps) < MAX_FAILED_STEPS:
            self._failed_steps.append((name, at, duration, type(error).__name__))

    def cut_short(self, why: str) -> None:
        """End the span of an attempt the worker stopped waiting for (``released`` at a
        graceful stop, or ``abandoned`` to its lease): an event says so; its steps and
        effects are not known yet."""
        if not self._ending():
            return
        self.span.add_event(why)
        self.span.set_attribute("jobtrail.status", why)
        self.span.end()

    def finish(self, ctx: Context, outcome: Outcome) -> None:
        """End the span with *outcome*, after the spans of the steps and effects *ctx*
        recorded and of the steps that raised. Only the first call does anything (the
        watchdog and the job's own thread may both end an attempt)."""
        if not self._ending():
            return
        trace = self.otel.trace
        span = self.span
        if not span.is_recording():  # sampled out: nothing of it will be kept
            span.end()
            return
        parent = trace.set_span_in_context(span)
        redactor = ctx.redactor
        for entry in list(ctx.path):
            kind = entry.kind
            if kind != PointKind.STEP and kind != PointKind.EFFECT:
                continue
            attrs = entry.attrs
            attributes: dict[str, Any] | None = None  # a plain step's span has none: cheaper
            error = None
            if attrs:
                attributes = {}
                if kind == PointKind.EFFECT:
                    attributes["jobtrail.effect"] = True
                    key = attrs.get("key")
                    if isinstance(key, str):
                        attributes["jobtrail.effect.key"] = (redactor.text(key) if redactor
                                                             else key)
                if attrs.get("replayed"):
                    attributes["jobtrail.replayed"] = True
                error = attrs.get("error")
            _child(trace, self.tracer, parent, entry.name, entry.at, entry.duration or 0.0,
                   attributes, None if error is None else str(error))
        for name, at, duration, error_type in self._failed_steps:
            _child(trace, self.tracer, parent, name, at, duration, None, error_type)
        status = outcome.status
        reason = ctx.exit_reason
        if reason is not None:
            span.add_event("exit", {
                "jobtrail.exit.reason": redactor.text(reason) if redactor else reason})
        run = outcome.run
        if run is not None:
            for found in run.findings:
                span.add_event("divergence", {"jobtrail.divergence.kind": str(found.kind),
                                              "jobtrail.divergence.message": found.message})
        if outcome.uncounted:
            span.add_event("deferred", {"jobtrail.retry_delay": outcome.retry_delay or 0.0})
        elif status is not Status.SUCCEEDED and outcome.error is not None:
            span.set_attribute("jobtrail.status", str(status))  # retrying or dead
            error_info = outcome.error  # masked by the job's redactor already
            span.add_event("exception", {"exception.type": error_info.type,
                                         "exception.message": error_info.message})
            span.set_status(trace.Status(trace.StatusCode.ERROR,
                                         f"{error_info.type}: {error_info.message}"))
        span.end()


def _child(trace: Any, tracer: Any, parent: Any, name: str, at: float, duration: float,
           attributes: dict[str, Any] | None, error: str | None) -> None:

    start = int(at * _NS)
    child = tracer.start_span(name, context=parent, start_time=start, attributes=attributes)
    if error is not None:
        child.set_status(trace.Status(trace.StatusCode.ERROR, error))
    child.end(end_time=start + int(duration * _NS))
