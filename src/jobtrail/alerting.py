"""Alerts and where they go: divergences of runs and health findings, with a severity,
to sinks that log, post to a webhook or call your code.

An alert is a `Divergence` (a run departed from its expected path; `jobtrail.paths`) or
a `HealthAlert` (a health check failed, kept failing, or recovered; `jobtrail.health`).
Both have a `severity_of` (``info``, ``warning``, ``critical``), a `key_of` that names
what it is about (so that the same trouble is recognised when it comes again) and an
`alert_json` shape. The app's sinks (``App(alert_sinks=[...])``) receive both:

- `log_sink` writes each at the level its severity says (divergences on
  ``jobtrail.divergences``, health alerts on ``jobtrail.alerts``);
- `WebhookSink` posts each as JSON to a URL from a thread of its own, with a timeout and
  retries (the worker that found a divergence never waits for the network);
- any callable taking the alert.

**Deduplication.** A thousand runs diverging the same way are one trouble. `Deduplicated`
wraps a sink so that an alert whose key was sent less than ``every`` seconds ago is
counted, not sent; the next one sent carries how many were held back. `WebhookSink`
deduplicates so by default (every 5 minutes). Health alerts are deduplicated where they
are made (`jobtrail.health_watch`): one when a check starts failing, a reminder while it
keeps failing, one when it recovers.
"""

from __future__ import annotations

import http.client
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from jobtrail.errors import ConfigurationError
from jobtrail.records import Divergence, DivergenceKind

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
log = logging.getLogger("jobtrail.alerts")
divergences_log = logging.getLogger("jobtrail.divergences")
_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.CRITICAL}

#: How serious each kind of divergence is: an effect perhaps done twice is what jobtrail
#: exists to prevent; a slow step is worth knowing.
DIVERGENCE_SEVERITY: Mapping[DivergenceKind, Severity] = {
    DivergenceKind.DUPLICATE_EFFECT: "critical",
    DivergenceKind.SLOW: "info",
}


@dataclass(frozen=True, slots=True)
class HealthAlert:
    """A health check's finding as an alert: it began (or still holds, ``repeat``), or,
    with ``resolved``, it cleared. ``subject`` is the queue, worker or job it is about."""

    check: str
    subject: str
    message: str
    severity: Severity
    at: datetime
    resolved: bool = False
    repeat: bool = False

    def __str__(self) -> str:
        state = "resolved" if self.resolved else self.severity
        return f"health {self.check} [{state}] {self.subject}: {self.message}"


Alert = Divergence | HealthAlert
#: Where alerts go: a callable given each one.
AlertSink = Callable[[Alert], None]


def severity_of(alert: Alert) -> Severity:
    """How serious *alert* is."""
    if isinstance(alert, HealthAlert):
        return "info" if alert.resolved else alert.severity
    return DIVERGENCE_SEVERITY.get(alert.kind, "warning")


def key_of(alert: Alert) -> str:
    """What *alert* is about: the same key when the same trouble comes again (the job
    type and how its runs diverge; the check and its subject)."""
    if isinstance(alert, HealthAlert):
        return f"health:{alert.check}:{alert.subject}"
    return f"divergence:{alert.job_name}:{alert.kind}:{alert.found}:{','.join(alert.expected)}"


def alert_json(alert: Alert, suppressed: int = 0) -> dict[str, Any]:
    """*alert* as JSON: ``source``, ``kind``, ``severity``, ``key``, ``subject``,
    ``message``, ``at``, and what its source adds; ``suppressed`` alerts of the same key
    were held back since the last one sent."""
    body: dict[str, Any] = {"severity": severity_of(alert), "key": key_of(alert),
                            "message": alert.message, "suppressed": suppressed}
    if isinstance(alert, HealthAlert):
        body.update(source="health", kind=alert.check, subject=alert.subject,
                    at=alert.at.isoformat(), resolved=alert.resolved, repeat=alert.repeat)
    else:
        body.update(source="divergence", kind=str(alert.kind), subject=alert.job_name,
                    at=(alert.at or datetime.now(UTC)).isoformat(), job_id=alert.job_id,
                    attempt=alert.attempt, position=alert.position, found=alert.found,
                    expected=list(alert.expected))
    return body


def log_sink(alert: Alert) -> None:
    """Write *alert* at its severity's level: a divergence on ``jobtrail.divergences``, a
    health alert on ``jobtrail.alerts``."""
    if isinstance(alert, HealthAlert):
        log.log(_LEVELS[severity_of(alert)], "%s", alert)
    else:
        divergences_log.log(_LEVELS[severity_of(alert)], "divergence %s", alert)


def deliver(sinks: Sequence[Callable[[Any], None]], alerts: Iterable[Alert]) -> None:
    """Give each alert to each sink, in order; a sink that fails is logged (on
    ``jobtrail.alerts``), never fatal, and the others still run."""
    for alert in alerts:
        for sink in sinks:
            try:
                sink(alert)
            except Exception:
                log.exception("alert sink %r failed on %s", sink, alert)


class Dedup:
    """Which keys may be sent now: one per key every *every* seconds, counting the rest."""

    def __init__(self, every: float, clock: Callable[[], float] = time.monotonic) -> None:
        if every < 0:
            raise ConfigurationError(f"deduplication window must be >= 0 seconds, got {every!r}")
        self.every = every
        self._clock = clock
        self._sent: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def admit(self, alert: Alert) -> int | None:
        """``None`` when *alert* is held back; else how many of its key were held back
        since the last one admitted. A resolution is always admitted, and forgets."""
        key = key_of(alert)
        now = self._clock()
        with self._lock:
            if isinstance(alert, HealthAlert) and alert.resolved:
                self._sent.pop(key, None)
                return self._held.pop(key, 0)
            last = self._sent.get(key)
            if last is not None and now - last < self.every:
                self._held[key] = self._held.get(key, 0) + 1
                return None
            if len(self._sent) > 10_000:  # keys made per job id would grow without end
                self._sent.clear()
            self._sent[key] = now
            return self._held.pop(key, 0)


class Deduplicated:
    """*sink* given one alert per key every *every* seconds (`Dedup`); the log line of
    each one passed says how many like it were held back."""

    def __init__(self, sink: AlertSink, every: float = 300.0) -> None:
        self.sink = sink
        self.dedup = Dedup(every)

    def __call__(self, alert: Alert) -> None:
        held = self.dedup.admit(alert)
        if held is None:
            return
        if held:
            log.info("%d alerts like the next were held back (key %s)", held, key_of(alert))
        self.sink(alert)


class WebhookSink:
    """POST each alert as JSON (`alert_json`) to *url*, from a thread of its own.

    A post that fails — no connection, a timeout after *timeout* seconds, a 5xx or 429
    answer — is tried again up to *retries* times, waiting *backoff* seconds then twice
    as long each time; a 4xx answer is not (the request itself is wrong). Alerts of one
    key are deduplicated every *dedupe* seconds (0: every alert is posted). At most
    *max_pending* alerts wait to be posted; past that the newest are dropped and counted
    (`dropped`), so a dead endpoint never grows memory or slows a worker."""

    def __init__(self, url: str, *, timeout: float = 5.0, retries: int = 3,
                 backoff: float = 0.5, headers: Mapping[str, str] | None = None,
                 dedupe: float = 300.0, max_pending: int = 1000) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"WebhookSink({url!r}): the URL must be http:// or https://")
        if timeout <= 0 or retries < 0 or backoff < 0 or max_pending < 1:
            raise ConfigurationError(
                f"WebhookSink({url!r}): timeout must be > 0, retries and backoff >= 0 and "
                f"max_pending >= 1 (got {timeout!r}, {retries!r}, {backoff!r}, {max_pending!r})")
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.dedup = Dedup(dedupe)
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._pending: queue.Queue[bytes | None] = queue.Queue(max_pending)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, alert: Alert) -> None:
        held = self.dedup.admit(alert)
        if held is None:
            return
        body = json.dumps(alert_json(alert, held)).encode()
        try:
            self._pending.put_nowait(body)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error("webhook %s: %d alerts dropped, %d wait to be posted", self.url,
                          self.dropped, self._pending.qsize())
            return
        self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="jobtrail-webhook",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            body = self._pending.get()
            if body is None:
                return
            try:
                self._post(body)
            except Exception:  # a bug must not end the thread with alerts waiting
                self.failed += 1
                log.exception("webhook %s: an alert could not be posted", self.url)
            finally:
                self._pending.task_done()

    def _post(self, body: bytes) -> None:
        delay = self.backoff
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.url, data=body, headers=self.headers,
                                             method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                    answer.read()
                self.sent += 1
                return
            except urllib.error.HTTPError as exc:
                if (exc.code < 500 and exc.code != 429) or attempt == self.retries:
                    problem = f"HTTP {exc.code}"
                    break
            except (OSError, ValueError, http.client.HTTPException) as exc:  # refused,
                if attempt == self.retries:  # unreachable, timed out, a garbled answer
                    problem = f"{type(exc).__name__}: {exc}"
                    break
            time.sleep(delay)
            delay *= 2
        self.failed += 1
        log.error("webhook %s: an alert could not be posted after %d tries (%s)", self.url,
                  attempt + 1, problem)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait up to *timeout* seconds for the alerts waiting to be posted; true when
        none is left."""
        deadline = time.monotonic() + timeout
        while self._pending.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._pending.unfinished_tasks

    def __repr__(self) -> str:
        return f"WebhookSink({self.url!r})"
