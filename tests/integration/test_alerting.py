"""Alerts: severities and keys, deduplication, the webhook sink against a real HTTP server
(retries, timeouts, refusals, a full backlog), health alerts as checks change, and
divergences reaching a webhook from a real worker run on both backends."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from jobtrail import App, Context
from jobtrail.alerting import (
    Alert,
    Dedup,
    Deduplicated,
    HealthAlert,
    WebhookSink,
    alert_json,
    key_of,
    log_sink,
    severity_of,
)
from jobtrail.errors import ConfigurationError
from jobtrail.health import Finding, HealthReport
from jobtrail.health_watch import HealthWatch
from jobtrail.records import Divergence, DivergenceKind
from jobtrail.testing import run_until_idle
from tests.support.receiver import Receiver

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def divergence(kind: DivergenceKind = DivergenceKind.MISSING, job_id: int = 7) -> Divergence:
    return Divergence(kind, "missing step save at the end", 3, None, ("save",), job_id=job_id,
                      job_name="bill", attempt=1)


def late(subject: str = "mail") -> Finding:
    return Finding("latency", subject, f"queue {subject!r}: its oldest job waited 9.0s")


def test_severities_and_keys_name_the_trouble_not_the_run() -> None:
    """A duplicate effect is critical, a slow step info, other divergences warnings; two
    runs diverging alike share a key; a resolved health alert is info."""
    assert severity_of(divergence(DivergenceKind.DUPLICATE_EFFECT)) == "critical"
    assert severity_of(divergence(DivergenceKind.SLOW)) == "info"
    assert severity_of(divergence()) == "warning"
    assert key_of(divergence(job_id=1)) == key_of(divergence(job_id=2))
    assert key_of(divergence()) != key_of(divergence(DivergenceKind.UNEXPECTED))
    resolved = HealthAlert("latency", "mail", "passes again", "info", NOW, resolved=True)
    assert severity_of(resolved) == "info"
    body = alert_json(divergence(), suppressed=4)
    assert (body["source"], body["kind"], body["job_id"], body["suppressed"]) == (
        "divergence", "missing", 7, 4)


def test_dedup_holds_back_repeats_and_counts_them() -> None:
    """Within the window the same key is held back and counted; the next one admitted
    carries the count; a resolution always passes and forgets the key."""
    now = [0.0]
    dedup = Dedup(60.0, clock=lambda: now[0])
    first = HealthAlert("latency", "mail", "late", "critical", NOW)
    assert dedup.admit(first) == 0
    assert dedup.admit(first) is None and dedup.admit(first) is None
    assert dedup.admit(divergence()) == 0  # another key
    now[0] = 61.0
    assert dedup.admit(first) == 2
    resolved = HealthAlert("latency", "mail", "ok", "info", NOW, resolved=True)
    assert dedup.admit(resolved) == 0
    assert dedup.admit(first) == 0  # forgotten: a new trouble


def test_deduplicated_passes_one_per_key(caplog: pytest.LogCaptureFixture) -> None:
    """A wrapped sink receives the first of many alike, and the log says how many were held."""
    seen: list[Alert] = []
    sink = Deduplicated(seen.append, every=0.0)
    sink(divergence())
    assert len(seen) == 1
    held = Deduplicated(seen.append, every=300.0)
    for job_id in range(5):
        held(divergence(job_id=job_id))
    assert len(seen) == 2
    with caplog.at_level(logging.WARNING, logger="jobtrail.alerts"):
        log_sink(HealthAlert("depth", "mail", "full", "critical", NOW))
    assert [r.levelno for r in caplog.records] == [logging.CRITICAL]


def test_webhook_posts_json_and_retries_server_errors() -> None:
    """The webhook posts each alert as JSON; 500 and 429 answers are retried until one
    succeeds; repeats of one key are deduplicated."""
    with Receiver(statuses=[500, 429]) as hooks:
        sink = WebhookSink(hooks.url, backoff=0.01)
        sink(divergence(job_id=1))
        sink(divergence(job_id=2))  # same key: held back
        assert sink.flush()
        (body,) = hooks.wait_for(1)
    assert (body["source"], body["job_id"], body["severity"]) == ("divergence", 1, "warning")
    assert hooks.requests == 3 and (sink.sent, sink.failed) == (1, 0)


def test_webhook_gives_up_on_client_errors_and_dead_endpoints(
        caplog: pytest.LogCaptureFixture) -> None:
    """A 400 answer is not retried; an endpoint that refuses connections is tried
    retries + 1 times; a stalled one times out and is tried again; none blocks the caller."""
    with Receiver(statuses=[400]) as hooks:
        sink = WebhookSink(hooks.url, backoff=0.01, dedupe=0)
        sink(divergence())
        assert sink.flush()
        assert hooks.requests == 1 and sink.failed == 1
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    dead = WebhookSink(f"http://127.0.0.1:{port}/hook", retries=2, backoff=0.01)
    with caplog.at_level(logging.ERROR, logger="jobtrail.alerts"):
        dead(divergence())
        assert dead.flush()
    assert dead.failed == 1 and "after 3 tries" in caplog.text
    with Receiver(stall=1.0) as hooks:
        slow = WebhookSink(hooks.url, timeout=0.3, backoff=0.01)
        slow(divergence())
        assert slow.flush()
        hooks.wait_for(1)
        assert hooks.requests == 2 and slow.sent == 1


def test_webhook_drops_alerts_past_its_backlog() -> None:
    """With its thread stuck on a stalled endpoint, alerts past max_pending are dropped and
    counted instead of piling up."""
    with Receiver(stall=1.5) as hooks:
        sink = WebhookSink(hooks.url, timeout=5, dedupe=0, max_pending=2)
        for job_id in range(6):
            sink(divergence(job_id=job_id))
        assert sink.dropped >= 3
        assert sink.flush()


def test_a_webhook_url_must_be_http() -> None:
    """A URL that is not http(s), or a negative timeout, is refused at once."""
    with pytest.raises(ConfigurationError, match="http:// or https://"):
        WebhookSink("ftp://example.com/hook")
    with pytest.raises(ConfigurationError, match="timeout must be > 0"):
        WebhookSink("http://127.0.0.1/hook", timeout=0)


def test_health_watch_alerts_on_change_reminds_and_resolves() -> None:
    """A finding alerts once when it appears, again only after `repeat`, and a resolution
    comes when it clears; a failing sink does not stop the others."""
    seen: list[Alert] = []

    def broken(alert: Alert) -> None:
        raise RuntimeError("pager down")

    watch = HealthWatch([broken, seen.append], repeat=600)

    def at(seconds: float, *findings: Finding) -> list[HealthAlert]:
        return watch.update(HealthReport(NOW + timedelta(seconds=seconds), 300.0, findings))

    assert [a.severity for a in at(0, late())] == ["critical"]
    assert at(30, late()) == []
    (reminder,) = at(600, late())
    assert reminder.repeat
    (worker,) = at(630, late(), Finding("stalled_worker", "w1", "silent"))
    assert (worker.check, worker.severity) == ("stalled_worker", "warning")
    resolved = at(660)
    assert sorted((a.check, a.resolved, a.severity) for a in resolved) == [
        ("latency", True, "info"), ("stalled_worker", True, "info")]
    assert len(seen) == 5


def test_divergences_reach_a_webhook_from_a_worker(make_app: Callable[..., App]) -> None:
    """A run that departs from expect= is posted to an App(alert_sinks=[WebhookSink])
    once it is stored; many alike are posted once."""
    with Receiver() as hooks:
        app = make_app(alert_sinks=[WebhookSink(hooks.url)])

        @app.job(expect="a b")
        def skips(ctx: Context, n: int) -> None:
            ctx.step("a", lambda: n)

        handles = skips.enqueue_many([{"n": n} for n in range(5)])
        run_until_idle(app)
        (body,) = hooks.wait_for(1)
        assert body["source"] == "divergence" and body["subject"] == "skips"
        assert body["job_id"] in {h.id for h in handles}
        assert body["kind"] == "missing"


def test_a_garbled_answer_is_retried_and_the_sender_lives_on() -> None:
    """An endpoint that answers with garbage instead of HTTP counts as a failed post after
    its retries; the sender thread lives on and posts the next alert."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    answered = threading.Event()

    def garble() -> None:
        while not answered.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"garbage\r\n\r\n")

    threading.Thread(target=garble, daemon=True).start()
    try:
        sink = WebhookSink(f"http://127.0.0.1:{port}/hook", retries=1, backoff=0.01, dedupe=0)
        sink(divergence(job_id=1))
        assert sink.flush()
        assert (sink.failed, sink.sent) == (1, 0)
    finally:
        answered.set()
        listener.close()
    with Receiver() as hooks:
        sink.url = hooks.url
        sink(divergence(job_id=2))
        assert sink.flush()
        assert hooks.wait_for(1)[0]["job_id"] == 2


def test_a_failing_check_does_not_end_the_health_watch() -> None:
    """A round whose checks raise (a bug, not a store error) is logged, and the watch goes
    on to the next round."""
    rounds: list[HealthReport | None] = []
    answers: Iterator[HealthReport | Exception] = iter(
        [RuntimeError("bug"), HealthReport(NOW, 300.0, (late(),))])
    stop = threading.Event()

    def check() -> HealthReport:
        answer = next(answers, None)
        if answer is None:
            stop.set()
            return HealthReport(NOW, 300.0, ())
        if isinstance(answer, Exception):
            raise answer
        return answer

    def told(report: HealthReport | None, alerts: list[HealthAlert]) -> None:
        rounds.append(report)
        raise BrokenPipeError("the reader went away")  # reporting fails too

    HealthWatch([], repeat=600).run(check, 0.01, stop, told)
    assert rounds[0] is None and rounds[1] is not None and len(rounds) == 3
