"""The benchmark's app: its job types, and how its workers are started.

The benchmark starts its workers the way an application does, in a separate process:

    JOBTRAIL_URL=... python -m jobtrail worker bench_app:app --processes 2 --concurrency C

(``App.work(processes=...)`` forks that many worker processes under a `Supervisor`).
When the ``jobtrail`` command is not available, ``python benchmarks/bench_app.py`` does
the same through ``App.work``.

With ``JOBTRAIL_BENCH_LIFELINE=1`` the importing process watches its standard input, a
pipe from the benchmark: when the benchmark goes away without stopping the workers
(killed, crashed), the pipe reaches end-of-file and the whole process group is stopped,
so no worker is left behind.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time

from jobtrail import App, Context

STEP_NAMES = ("load", "check", "compute", "store", "notify")

LIFELINE_ENV = "JOBTRAIL_BENCH_LIFELINE"
#: Set to 1, the app also declares the job types under flow limits (benchmarks/limits.py).
LIMITS_ENV = "JOBTRAIL_BENCH_LIMITS"
#: Seconds the workers get after the benchmark is lost, before they are killed.
LIFELINE_GRACE = 5.0
#: ``tracing``, ``sampled``, ``metrics`` or ``both``: the app traces (an OpenTelemetry SDK
#: whose spans are processed in batches, then dropped; ``sampled`` keeps one trace in ten)
#: and/or counts attempts in Prometheus metrics (benchmarks/observability.py).
OBSERVE_ENV = "JOBTRAIL_BENCH_OBSERVE"
#: Where the round-trip job's Redis listens.
REDIS_ADDRESS = ("127.0.0.1", 6379)
_redis = threading.local()


def make_app(url: str | None, observe: str = "") -> App:
    """An `App` on *url* (default ``$JOBTRAIL_URL``) with the benchmark's job types;
    *observe* as `OBSERVE_ENV` says (the workers' app only: the jobs are enqueued
    untraced, so each attempt starts its own trace and the sampler decides per job)."""
    if observe in ("tracing", "sampled", "both"):
        _trace_and_drop(0.1 if observe == "sampled" else 1.0)
    app = App(url, metrics=observe in ("metrics", "both"))

    @app.job(name="bench_noop")
    def bench_noop(i: int) -> float:
        """A no-op that reports when it started (its result), for the drain figure."""
        return time.time()

    @app.job(name="bench_steps")
    def bench_steps(ctx: Context, i: int) -> float:
        """A no-op that records five step checkpoints."""
        started = time.time()
        for name in STEP_NAMES:
            ctx.step(name, int, i)
        return started

    @app.job(name="bench_effect")
    def bench_effect(ctx: Context, i: int) -> float:
        """A no-op around one keyed effect (two durable writes)."""
        started = time.time()
        ctx.effect("touch", int, i, key=f"touch-{i}")
        return started

    @app.job(name="bench_expected", expect=" ".join(STEP_NAMES) + " decide:even exit:done?")
    def bench_expected(ctx: Context, i: int) -> float:
        """Five steps and a decision, checked against the job's expected path."""
        started = time.time()
        for name in STEP_NAMES:
            ctx.step(name, int, i)
        ctx.decide("even", i % 2 == 0)
        return started

    @app.job(name="bench_roundtrip")
    def bench_roundtrip(i: int) -> float:
        """One network round trip (a Redis PING over a socket the thread keeps)."""
        started = time.time()
        _ping()
        return started

    if os.environ.get(LIMITS_ENV) == "1":
        _limited_jobs(app)

    @app.job(name="bench_latency")
    def bench_latency(sent: float) -> float:
        """Reports when it started; *sent* is when the producer called ``enqueue``."""
        return time.time()

    return app


def _ping() -> None:
    conn = getattr(_redis, "conn", None)
    if conn is None:
        conn = _redis.conn = socket.create_connection(REDIS_ADDRESS, timeout=10)
    conn.sendall(b"PING\r\n")
    if conn.recv(64) != b"+PONG\r\n":
        raise ConnectionError("Redis did not answer PING with PONG")


def _trace_and_drop(ratio: float) -> None:
    """Trace as an application would (the SDK, a batch processor, keeping *ratio* of the
    traces), with an exporter that drops the spans: what is measured is making them, not
    sending them."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Dropping(SpanExporter):
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return  # set already (the benchmark's own process makes several apps)
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(ratio)))
    provider.add_span_processor(BatchSpanProcessor(Dropping()))
    trace.set_tracer_provider(provider)


def _limited_jobs(app: App) -> None:
    """No-ops under flow limits that never bind (what enforcing them costs): a global
    concurrency limit, one per key (100 keys), a rate limit, and a queue's limit."""
    app.queue("bench_limited_queue", concurrency_limit=1000)

    @app.job(name="bench_limited", concurrency_limit=1000)
    def bench_limited(i: int) -> float:
        return time.time()

    @app.job(name="bench_keyed", concurrency_limit=1000, concurrency_key=lambda i: str(i % 100))
    def bench_keyed(i: int) -> float:
        return time.time()

    @app.job(name="bench_rated", rate_limit="1000000/s")
    def bench_rated(i: int) -> float:
        return time.time()

    @app.job(name="bench_queue_limited", queue="bench_limited_queue")
    def bench_queue_limited(i: int) -> float:
        return time.time()


def _watch_lifeline() -> None:
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    # The benchmark is gone: stop every process of this group, then make sure.
    try:
        os.killpg(os.getpgrp(), signal.SIGTERM)
        time.sleep(LIFELINE_GRACE)
        os.killpg(os.getpgrp(), signal.SIGKILL)
    except ProcessLookupError:
        pass


def start_lifeline() -> None:
    threading.Thread(target=_watch_lifeline, name="jobtrail-bench-lifeline", daemon=True).start()


#: What ``jobtrail worker bench_app:app`` loads.
app = make_app(os.environ.get("JOBTRAIL_URL"), os.environ.get(OBSERVE_ENV, ""))

if os.environ.get(LIFELINE_ENV) == "1" and __name__ != "__main__":
    start_lifeline()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmark's workers.")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--burst", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(process)d %(message)s")
    if os.environ.get(LIFELINE_ENV) == "1":
        start_lifeline()
    result = app.work(processes=args.processes, concurrency=args.concurrency, burst=args.burst)
    if isinstance(result, dict):  # processes > 1: supervised, exit codes come back
        codes = dict(result)
        return 0 if codes and all(code == 0 for code in codes.values()) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
