"""Health checks run again and again, their findings sent to the alert sinks as they change.

``jobtrail health --watch 30`` (or `HealthWatch` from Python) runs the checks of
`jobtrail.health` every 30 seconds and turns what changed into `HealthAlert`\\ s: one when
a check starts failing for a subject (a queue, a worker, a job type), a reminder every
``repeat`` seconds while it keeps failing, and a resolution (severity ``info``) once it
passes again. Alerts go to the app's sinks (``App(alert_sinks=...)``), so a webhook hears
of a queue falling behind once, not every 30 seconds. One watcher per deployment is
enough: the checks read the store, which every worker shares.

A round whose store cannot be read sends nothing and changes nothing: the watch carries on
with the next round (and says so on the ``jobtrail.alerts`` logger).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from jobtrail.alerting import AlertSink, HealthAlert, Severity, deliver
from jobtrail.errors import JobtrailError
from jobtrail.health import Finding, HealthReport

log = logging.getLogger("jobtrail.alerts")

#: How serious each check's finding is: work that is not getting done is critical; a
#: worker gone quiet (its jobs come back when their leases run out) and a job type that
#: needs many attempts are warnings.
CHECK_SEVERITY: dict[str, Severity] = {
    "latency": "critical", "depth": "critical", "stalled_worker": "warning",
    "overdue": "critical", "dead_letters": "critical", "retries": "warning",
    "failure_cluster": "critical",
}


class HealthWatch:
    """Turns successive health reports into alerts (see the module docstring)."""

    def __init__(self, sinks: Sequence[AlertSink], *, repeat: float = 3600.0) -> None:
        self.sinks = list(sinks)
        self.repeat = repeat
        # What fails now, by (check, subject): the finding, and when it was last sent.
        self._failing: dict[tuple[str, str], tuple[Finding, datetime]] = {}

    def update(self, report: HealthReport) -> list[HealthAlert]:
        """The alerts *report* makes against the reports before it; sent to the sinks."""
        alerts: list[HealthAlert] = []
        now = report.at
        current: dict[tuple[str, str], Finding] = {(f.check, f.subject): f
                                                   for f in report.findings}
        for key, finding in current.items():
            before = self._failing.get(key)
            if before is None:
                alerts.append(_alert(finding, now))
                self._failing[key] = (finding, now)
            elif (now - before[1]).total_seconds() >= self.repeat:
                alerts.append(_alert(finding, now, repeat=True))
                self._failing[key] = (finding, now)
        for key in [key for key in self._failing if key not in current]:
            finding, _ = self._failing.pop(key)
            alerts.append(HealthAlert(finding.check, finding.subject,
                                      f"passes again (was: {finding.message})", "info", now,
                                      resolved=True))
        deliver(self.sinks, alerts)
        return alerts

    def run(self, check: Callable[[], HealthReport], every: float, stop: threading.Event,
            on_round: Callable[[HealthReport | None, list[HealthAlert]], None] | None = None
            ) -> None:
        """Run *check* every *every* seconds until *stop* is set; *on_round* is told of
        each round's report (``None`` when the store could not be read) and alerts."""
        while not stop.is_set():
            try:
                report: HealthReport | None = check()
            except JobtrailError as exc:
                log.error("health checks could not run: %s", exc)
                report = None
            except Exception:  # a bug must not end the watch silently
                log.exception("health checks failed")
                report = None
            alerts = [] if report is None else self.update(report)
            if on_round is not None:
                try:
                    on_round(report, alerts)
                except Exception:
                    log.exception("could not report a round of health checks")
            stop.wait(every)


def _alert(finding: Finding, at: datetime, *, repeat: bool = False) -> HealthAlert:
    return HealthAlert(finding.check, finding.subject, finding.message,
                       CHECK_SEVERITY.get(finding.check, "warning"), at, repeat=repeat)
