"""Alert sinks: where the divergences of finished runs are sent once they are stored.

A sink is any callable taking an alert (`jobtrail.alerting`): here a `Divergence` with its
job id, job name and attempt filled in; the same sinks receive health alerts.
``App(alert_sinks=[...])`` or ``app.paths.on_divergence(sink)`` adds one; `log_sink`
(`jobtrail.alerting`'s, for every kind of alert) writes each on the
``jobtrail.divergences`` logger at its severity (`jobtrail.alerting` also has a webhook and
deduplication). Sinks run on the worker's writer thread after the outcome is committed
(`AlertObserver`), so an alert never announces a divergence the store does not hold: keep
them quick (hand slow work to a queue). A sink that raises is logged and the others still
run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence

from jobtrail.alerting import deliver, log_sink
from jobtrail.observers import Observer
from jobtrail.records import Divergence
from jobtrail.store.base import Outcome

__all__ = ["AlertObserver", "DivergenceSink", "alerts_of", "log_sink", "send"]

#: Where divergences go: a callable given each one, with its job, once it is stored (an
#: `jobtrail.alerting.AlertSink`, which takes every kind of alert, is one).
DivergenceSink = Callable[[Divergence], None]




def alerts_of(outcomes: Iterable[Outcome]) -> list[Divergence]:
    """The alerts of the runs among *outcomes* that diverged."""
    found = []
    for out in outcomes:
        run = out.run
        if run is None:
            continue
        for f in run.findings:
            found.append(_alert(out, run.job_name, f))
    return found


def _alert(out: Outcome, job_name: str, found: Divergence) -> Divergence:
    return dataclasses.replace(found, job_id=out.job_id, job_name=job_name, attempt=out.attempt)


def send(sinks: Sequence[DivergenceSink], alerts: Iterable[Divergence]) -> None:
    """Give each alert to each sink; a sink that fails is logged, never fatal."""
    deliver(sinks, alerts)


class AlertObserver(Observer):
    """Sends the divergences of written outcomes to the app's alert sinks: an observer,
    so an alert never announces a divergence the store does not hold."""

    def __init__(self, sinks: list[DivergenceSink]) -> None:
        self.sinks = sinks  # the app's own list: sinks added later are used too

    def finished(self, outcomes: Sequence[Outcome]) -> None:
        if self.sinks:
            send(self.sinks, alerts_of(outcomes))
