"""OpenTelemetry traces across the queue hop, with the stock SDK and its in-memory exporter,
on both backends: send and process spans, their parentage and links, steps and effects as
child spans, and nothing traced when OpenTelemetry is not configured."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Sampler, SamplingResult
from opentelemetry.trace import SpanKind, StatusCode

from jobtrail import App, Context, Retry
from jobtrail.scheduler import Scheduler
from jobtrail.testing import run_until_idle
from jobtrail.worker import Worker
from tests.support import rawsql

TWICE = Retry(max_attempts=2, base=0, jitter="none")


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def traced_app(make_app: Callable[..., App], provider: TracerProvider) -> App:
    return make_app(tracer_provider=provider)


def spans(exporter: InMemorySpanExporter, name: str | None = None) -> list[ReadableSpan]:
    found = list(exporter.get_finished_spans())
    return [s for s in found if name is None or s.name == name]


def attr(item: Any, key: str) -> Any:
    """An attribute of a span or span event (``None`` when it has none)."""
    return dict(item.attributes or {}).get(key)


def parent_of(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


def test_enqueue_and_attempts_form_one_trace_under_the_callers_span(
        traced_app: App, provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    """A job enqueued inside a request span gets a PRODUCER send span under it, and each
    attempt (a retry too) a CONSUMER process span under the send span, in the same trace,
    whose id is the job's trace id."""
    app = traced_app
    calls: list[int] = []

    @app.job(queue="billing", retry=TWICE)
    def charge(ctx: Context, invoice: int) -> int:
        calls.append(ctx.attempt)
        if ctx.attempt == 1:
            raise ConnectionError("gateway timed out")
        return invoice

    tracer = provider.get_tracer("web")
    with tracer.start_as_current_span("POST /invoices") as request:
        handle = charge.enqueue(invoice=7)
    run_until_idle(app)
    assert calls == [1, 2]

    (send,) = spans(exporter, "send billing")
    attempts = sorted(spans(exporter, "process billing"),
                      key=lambda s: attr(s, "jobtrail.attempt"))
    assert [attr(s, "jobtrail.attempt") for s in attempts] == [1, 2]
    request_context = request.get_span_context()
    assert send.kind is SpanKind.PRODUCER
    assert send.context.trace_id == request_context.trace_id
    assert parent_of(send) == request_context.span_id
    assert attr(send, "messaging.destination.name") == "billing"
    assert attr(send, "messaging.message.id") == str(handle.id)
    for attempt in attempts:
        assert attempt.kind is SpanKind.CONSUMER
        assert attempt.context.trace_id == request_context.trace_id
        assert parent_of(attempt) == send.context.span_id
        assert attr(attempt, "messaging.system") == "jobtrail"
    failed, succeeded = attempts
    assert failed.status.status_code is StatusCode.ERROR
    (exception,) = [e for e in failed.events if e.name == "exception"]
    assert attr(exception, "exception.type") == "ConnectionError"
    assert succeeded.status.status_code is StatusCode.UNSET
    assert app.get(handle.id).trace_id == trace.format_trace_id(request_context.trace_id)


def test_steps_and_effects_are_child_spans_with_their_status(
        traced_app: App, exporter: InMemorySpanExporter) -> None:
    """Each step and effect an attempt recorded is a child of its process span, named after
    it and timed inside it; a step that raised is an ERROR span; a retry's replayed step is
    marked replayed; a loop gives one span per call."""
    app = traced_app

    @app.job(retry=TWICE)
    def sync(ctx: Context, pages: int) -> None:
        for page in range(pages):
            ctx.step("fetch", lambda p: p, page)
        ctx.effect("notify", lambda: "sent", key="notify-1")
        if ctx.attempt == 1:
            ctx.step("store", _fail)

    sync.enqueue(pages=3)
    run_until_idle(app)
    first, second = sorted(spans(exporter, "process default"),
                           key=lambda s: attr(s, "jobtrail.attempt"))

    def children(of: ReadableSpan) -> list[ReadableSpan]:
        return [s for s in spans(exporter) if parent_of(s) == of.context.span_id]

    names = sorted(s.name for s in children(first))
    assert names == ["fetch", "fetch", "fetch", "notify", "store"]
    (store,) = [s for s in children(first) if s.name == "store"]
    assert store.status.status_code is StatusCode.ERROR
    assert store.status.description == "ValueError"
    for child in children(first):
        assert child.context.trace_id == first.context.trace_id
        assert first.start_time <= child.start_time <= child.end_time <= first.end_time  # type: ignore[operator]
    (notify,) = [s for s in children(first) if s.name == "notify"]
    assert attr(notify, "jobtrail.effect") is True
    assert all(attr(s, "jobtrail.effect") is None for s in children(first) if s.name == "fetch")
    assert attr(notify, "jobtrail.effect.key") == "notify-1"
    replayed = [s for s in children(second) if attr(s, "jobtrail.replayed")]
    assert sorted(s.name for s in replayed) == ["fetch", "fetch", "fetch", "notify"]


def _fail() -> None:
    raise ValueError("bad page")


def test_divergences_and_exits_are_span_events_and_redaction_applies(
        traced_app: App, exporter: InMemorySpanExporter) -> None:
    """A run that departs from expect= carries a divergence event, an exit an exit event,
    and a redact= value never reaches a span: not in an effect key, not in an error."""
    app = traced_app

    @app.job(expect="a b", retry=Retry(max_attempts=1), redact=["card"])
    def pay(ctx: Context, card: str) -> None:
        ctx.step("a", lambda: None)
        ctx.effect("charge", lambda: None, key=f"charge-{card}")
        raise RuntimeError(f"card {card} declined")

    @app.job
    def skip(ctx: Context) -> None:
        ctx.exit("nothing_to_do")

    pay.enqueue(card="4111111111111111")
    skip.enqueue()
    run_until_idle(app)
    (paid,) = [s for s in spans(exporter, "process default")
               if attr(s, "jobtrail.job.name") == pay.name]
    kinds = [attr(e, "jobtrail.divergence.kind")
             for e in paid.events if e.name == "divergence"]
    assert kinds, "the run stopped after a, where expect= wanted b"
    dumped = json.dumps([s.to_json() for s in spans(exporter)])
    assert "4111111111111111" not in dumped
    assert "[redacted]" in dumped
    (skipped,) = [s for s in spans(exporter, "process default")
                  if attr(s, "jobtrail.job.name") == skip.name]
    (exit_event,) = [e for e in skipped.events if e.name == "exit"]
    assert attr(exit_event, "jobtrail.exit.reason") == "nothing_to_do"


def test_children_carry_the_trace_and_async_jobs_make_their_span_current(
        traced_app: App, exporter: InMemorySpanExporter) -> None:
    """A job enqueued by a running (async) job is sent from inside its parent's process
    span: one trace from the first enqueue to the grandchild's attempt."""
    app = traced_app

    @app.job
    def leaf() -> None:
        pass

    @app.job
    async def middle(ctx: Context) -> None:
        await asyncio.sleep(0)
        ctx.enqueue(leaf)

    handle = middle.enqueue()
    run_until_idle(app)
    processes = {attr(s, "jobtrail.job.name"): s
                 for s in spans(exporter) if s.kind is SpanKind.CONSUMER}
    sends = spans(exporter, "send default")
    assert len(sends) == 2
    child_send = next(s for s in sends if parent_of(s) is not None)
    assert parent_of(child_send) == processes[middle.name].context.span_id
    assert parent_of(processes[leaf.name]) == child_send.context.span_id
    (trace_id,) = {s.context.trace_id for s in spans(exporter)}
    assert {job.trace_id for job in app.jobs()} == {trace.format_trace_id(trace_id)}
    assert app.get(handle.id).trace_id == trace.format_trace_id(trace_id)


def test_batches_delayed_and_periodic_jobs_start_a_linked_trace(
        traced_app: App, provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    """enqueue_many and a delayed job are sent in a trace of their own that links to the
    caller's span (a fan-out does not swell the request's trace); their attempts are
    still children of that send span."""
    app = traced_app

    @app.job
    def fan(n: int) -> None:
        pass

    tracer = provider.get_tracer("web")
    with tracer.start_as_current_span("import") as caller:
        fan.enqueue_many([{"n": n} for n in range(3)])
        fan.options(delay=0.01).enqueue(n=9)
    run_until_idle(app)
    caller_context = caller.get_span_context()
    sends = spans(exporter, "send default")
    assert len(sends) == 2
    for send in sends:
        assert send.parent is None
        assert send.context.trace_id != caller_context.trace_id
        assert [link.context.span_id for link in send.links] == [caller_context.span_id]
    batch = next(s for s in sends if attr(s, "messaging.batch.message_count") == 3)
    processes = spans(exporter, "process default")
    assert sum(parent_of(p) == batch.context.span_id for p in processes) == 3


def test_nothing_is_traced_without_opentelemetry_configured(tmp_path: Any) -> None:
    """In a process where OpenTelemetry is not configured (nor imported), jobs run and
    jobtrail does not import it."""
    code = f"""
import sys
from jobtrail import App
from jobtrail.testing import run_until_idle
from tests.support import rawsql
app = App("sqlite:///{tmp_path}/t.db")
@app.job
def noop(ctx, n: int) -> None:
    ctx.step("s", lambda: n)
h = noop.enqueue(n=1)
run_until_idle(app)
assert app.get(h.id).status == "succeeded"
print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_tracing_false_turns_it_off(make_app: Callable[..., App], provider: TracerProvider,
                                    exporter: InMemorySpanExporter) -> None:
    """App(tracing=False) makes no span even with a provider configured."""
    app = make_app(tracer_provider=provider, tracing=False)

    @app.job
    def noop() -> None:
        pass

    noop.enqueue()
    run_until_idle(app)
    assert spans(exporter) == []


def test_a_group_is_one_linked_send_and_its_callback_joins_the_trace(
        traced_app: App, provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    """app.group sends its members and callback in one send span linked to the caller;
    every member's attempt and the callback's are children of it."""
    app = traced_app

    @app.job
    def part(n: int) -> int:
        return n

    @app.job
    def total(results: list[int]) -> int:
        return sum(results)

    with provider.get_tracer("web").start_as_current_span("import") as caller:
        app.group([part.prepare(n=n) for n in range(3)], then=total.prepare(results=[]))
    run_until_idle(app)
    (send,) = spans(exporter, "send default")
    assert [link.context.span_id for link in send.links] == [caller.get_span_context().span_id]
    processes = spans(exporter, "process default")
    assert len(processes) == 4
    assert {parent_of(p) for p in processes} == {send.context.span_id}


def test_an_attempt_the_watchdog_gives_up_on_ends_its_span_once(
        traced_app: App, exporter: InMemorySpanExporter) -> None:
    """A job past its timeout ends its process span once, in ERROR with JobTimeout, although
    both the watchdog and the job's own thread end the attempt."""
    app = traced_app

    @app.job(timeout=0.2, retry=Retry(max_attempts=1))
    def stuck(ctx: Context) -> None:
        ctx.step("wait", _sleep, 0.6)

    stuck.enqueue()
    run_until_idle(app)
    (process,) = spans(exporter, "process default")
    assert process.status.status_code is StatusCode.ERROR
    assert process.status.description is not None
    assert "JobTimeout: attempt ran past its timeout" in process.status.description


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def test_the_global_tracer_provider_is_used_once_set(tmp_path: Any) -> None:
    """An app made before the process sets its global tracer provider traces from then on."""
    code = f"""
from jobtrail import App
from jobtrail.testing import run_until_idle
from tests.support import rawsql
app = App("sqlite:///{tmp_path}/t.db")
@app.job
def noop() -> None:
    pass
noop.enqueue()
run_until_idle(app)
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Sampler, SamplingResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
noop.enqueue()
run_until_idle(app)
print(sorted(s.name for s in exporter.get_finished_spans()))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "['process default', 'send default']"


@pytest.mark.parametrize("stored", ["not json", "[1, 2]", '{"traceparent": "00-zz-yy-01"}',
                                    '{"traceparent": "' + "0" * 5000 + '"}',
                                    '{"traceparent": 5}', '{"baggage": 5}'])
def test_a_damaged_trace_context_runs_the_job_in_a_trace_of_its_own(
        traced_app: App, db_url: str, exporter: InMemorySpanExporter, stored: str) -> None:
    """A job whose stored trace context is not JSON, not an object or not a valid
    traceparent still runs; its process span starts a trace of its own."""
    app = traced_app

    @app.job
    def noop() -> None:
        pass

    handle = noop.enqueue()
    rawsql.execute(db_url, "UPDATE jobtrail_jobs SET trace_context = ? WHERE id = ?",
                   (stored, handle.id))
    run_until_idle(app)
    assert app.get(handle.id).status == "succeeded"
    (process,) = spans(exporter, "process default")
    assert process.parent is None


def test_each_tick_of_a_periodic_job_is_a_trace_of_its_own(
        traced_app: App, exporter: InMemorySpanExporter) -> None:
    """The scheduler sends each tick in a root send span; the tick's attempt is its child."""
    app = traced_app

    @app.job(every=0.2)
    def beat() -> None: ...

    scheduler = Scheduler(app)
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while len(app.jobs(job_name=beat.name)) < 2:
            assert time.monotonic() < deadline, "no tick was fired"
            time.sleep(0.02)
    finally:
        scheduler.stop()
    run_until_idle(app)
    sends = spans(exporter, "send default")
    assert len(sends) >= 2 and all(s.parent is None for s in sends)
    assert len({s.context.trace_id for s in sends}) == len(sends)
    by_send = {s.context.span_id for s in sends}
    processes = spans(exporter, "process default")
    assert processes and all(parent_of(p) in by_send for p in processes)


def test_a_trace_sampled_out_makes_no_span_and_the_job_runs(
        make_app: Callable[..., App], exporter: InMemorySpanExporter) -> None:
    """With a sampler that keeps no trace, jobs run and no span (not even a step's) is
    exported."""
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = make_app(tracer_provider=provider)

    @app.job
    def stepped(ctx: Context) -> int:
        return int(ctx.step("one", lambda: 1))

    handle = stepped.enqueue()
    run_until_idle(app)
    assert app.get(handle.id).status == "succeeded"
    assert spans(exporter) == []
    provider.shutdown()


def test_a_job_released_at_a_graceful_stop_ends_its_span_as_released(
        make_app: Callable[..., App], provider: TracerProvider,
        exporter: InMemorySpanExporter) -> None:
    """A running attempt the stopping worker releases past its grace period ends its span
    at once, with a released event; the job's late end adds no second span."""
    app = make_app(grace=0.2, tracer_provider=provider)
    started = threading.Event()

    @app.job
    def stuck(ctx: Context) -> None:
        started.set()
        ctx.step("wait", _sleep, 1.5)

    stuck.enqueue()
    worker = Worker(app, concurrency=1, install_signals=False)
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert started.wait(5)
    worker.stop()
    thread.join(10)
    (process,) = spans(exporter, "process default")
    assert [e.name for e in process.events] == ["released"]
    assert attr(process, "jobtrail.status") == "released"
    time.sleep(1.6)  # the job's own end comes, and is dropped
    assert len(spans(exporter, "process default")) == 1


class Failing(Sampler):
    """A sampler that raises: a tracing setup gone wrong."""

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        raise RuntimeError("sampler broken")

    def get_description(self) -> str:
        return "Failing"


def test_a_tracer_that_fails_leaves_the_job_to_run_untraced(
        make_app: Callable[..., App], caplog: pytest.LogCaptureFixture) -> None:
    """A tracer whose spans cannot be started (its sampler raises) fails neither the
    enqueue, nor the job, nor the worker: the job is stored and runs untraced, and the
    failures are logged."""
    provider = TracerProvider(sampler=Failing())
    app = make_app(tracer_provider=provider)

    @app.job
    def noop() -> int:
        return 1

    handle = noop.enqueue()
    run_until_idle(app)
    assert app.get(handle.id).status == "succeeded"
    assert "stored untraced" in caplog.text and "runs untraced" in caplog.text


def test_a_delayed_child_keeps_its_parents_trace_id(
        traced_app: App, exporter: InMemorySpanExporter) -> None:
    """With tracing on, a child enqueued with a delay starts a linked trace of its own, yet
    keeps its parent's trace id (the one its log lines and views share)."""
    app = traced_app

    @app.job
    def child() -> None: ...

    @app.job
    def parent(ctx: Context) -> None:
        ctx.enqueue(child, delay=0.01)

    handle = parent.enqueue()
    run_until_idle(app)
    time.sleep(0.02)
    run_until_idle(app)
    record = app.get(handle.id)
    (kid,) = app.jobs(job_name=child.name)
    assert kid.trace_id == record.trace_id
    (sent,) = [s for s in spans(exporter, "send default") if s.links]
    assert sent.parent is None


def test_a_replayed_job_runs_again_in_its_original_trace(
        traced_app: App, exporter: InMemorySpanExporter) -> None:
    """A dead-lettered job replayed by an operator runs under the send span it was first
    enqueued with: the replay's attempt joins the same trace, its number starting again."""
    app = traced_app
    runs: list[int] = []

    @app.job(retry=Retry(max_attempts=1))
    def flaky(ctx: Context) -> None:
        runs.append(ctx.attempt)
        if len(runs) == 1:
            raise RuntimeError("first run fails")

    handle = flaky.enqueue()
    run_until_idle(app)
    app.replay(handle.id)
    run_until_idle(app)
    assert app.get(handle.id).status == "succeeded" and runs == [1, 1]
    (send,) = spans(exporter, "send default")
    first, second = spans(exporter, "process default")
    assert {parent_of(first), parent_of(second)} == {send.context.span_id}
    assert first.context.trace_id == second.context.trace_id == send.context.trace_id
    assert [attr(s, "jobtrail.attempt") for s in (first, second)] == [1, 1]
    assert first.status.status_code is StatusCode.ERROR
    assert second.status.status_code is StatusCode.UNSET
