"""Capacity planning: how many worker slots each queue needs, from its measured history.

Each queue is read as an **M/M/c queue** (Erlang C): jobs arrive at a rate λ (per second),
a slot serves one for a mean time S (so at a rate μ = 1/S), and c slots serve the queue.
The offered load is a = λ·S slots' worth of work; the utilisation is rho = a/c. While
rho < 1, the probability that a job has to wait is Erlang C, ``C(c, a)``, its mean wait is
``Wq = C·S/(c - a)`` and its wait exceeds t with probability ``P(W > t) = C·e^{-(cμ-λ)t}``,
so the wait at percentile q is ``S·ln(C/(1-q))/(c - a)`` (0 when C ≤ 1 - q). At rho ≥ 1 the
queue grows without bound: the wait has no value, and the functions here return ``None``.

The assumptions, which the command prints too:

- arrivals are Poisson (independent, at a steady rate over the window);
- service times are exponential (coefficient of variation 1): the measured CV is shown
  so that the reader can judge; below 1 the model overstates waits, above 1 it
  understates them;
- c identical servers are worker concurrency *slots* (processes x concurrency), not
  processes; a slot that serves several queues is counted for each;
- FIFO service; retries (extra arrivals), priorities, rate limits and paused time are not
  modelled, nor the worker's polling delay.

C is computed from the Erlang B recursion ``B(k) = a·B(k-1) / (k + a·B(k-1))``, whose
terms stay in [0, 1]: no factorial or power overflows, for thousands of slots and a
utilisation next to 1. `slots_needed` walks the same recursion once, so finding c costs
O(c). `QueueLoad` turns the rows of `Store.capacity_stats` into λ, S and its CV;
`Forecast` answers for one queue, today and with its traffic doubled.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: The most slots `slots_needed` considers before it gives up (returns ``None``).
MAX_SLOTS = 1_000_000
#: How much the traffic grows in the "what if" projection.
GROWTH = 2.0


# -- the M/M/c model ---------------------------------------------------------------------------
def erlang_b(servers: int, load: float) -> float:
    """The Erlang B blocking probability of *servers* serving an offered *load* (erlangs)."""
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def _erlang_c_of(servers: int, load: float, blocking: float) -> float:
    return servers * blocking / (servers - load * (1.0 - blocking))


def erlang_c(servers: int, load: float) -> float:
    """The probability that a job waits (Erlang C): 1 when the queue is unstable
    (*load* ≥ *servers*, or no server)."""
    if servers <= 0 or load >= servers:
        return 1.0
    if load <= 0:
        return 0.0
    return _erlang_c_of(servers, load, erlang_b(servers, load))


def utilisation(servers: int, arrival_rate: float, service_time: float) -> float:
    """rho = λ·S/c: the share of the slots' time that the work takes (∞ with no slot)."""
    load = arrival_rate * service_time
    if servers <= 0:
        return math.inf if load > 0 else 0.0
    return load / servers


def mean_wait(servers: int, arrival_rate: float, service_time: float) -> float | None:
    """The mean wait before service, Wq = C·S/(c - a); ``None`` when unstable (rho ≥ 1)."""
    load = arrival_rate * service_time
    if load <= 0:
        return 0.0
    if servers <= 0 or load >= servers:
        return None
    return erlang_c(servers, load) * service_time / (servers - load)


def wait_beyond(servers: int, arrival_rate: float, service_time: float,
                seconds: float) -> float:
    """P(W > *seconds*) = C·e^{-(cμ-λ)t}: the share of jobs that wait longer (1 when
    unstable)."""
    load = arrival_rate * service_time
    if load <= 0:
        return 0.0
    if servers <= 0 or load >= servers:
        return 1.0
    return erlang_c(servers, load) * math.exp(-(servers - load) * seconds / service_time)


def _percentile_wait(servers: int, load: float, service_time: float, waits: float,
                     quantile: float) -> float:
    """The wait at *quantile* (0-1) when *waits* (Erlang C) of jobs wait at all."""
    spare = 1.0 - quantile
    if waits <= spare:
        return 0.0
    return service_time * math.log(waits / spare) / (servers - load)


def percentile_wait(servers: int, arrival_rate: float, service_time: float,
                    percentile: float) -> float | None:
    """The wait that *percentile* % of jobs do not exceed; ``None`` when unstable."""
    load = arrival_rate * service_time
    if load <= 0:
        return 0.0
    if servers <= 0 or load >= servers:
        return None
    return _percentile_wait(servers, load, service_time, erlang_c(servers, load),
                            percentile / 100)


def slots_needed(arrival_rate: float, service_time: float, target: float,
                 percentile: float) -> int | None:
    """The fewest slots that keep the wait at *percentile* % within *target* seconds: at
    least 1, and ``None`` past `MAX_SLOTS`."""
    load = arrival_rate * service_time
    if load <= 0:
        return 1
    blocking = 1.0
    for servers in range(1, MAX_SLOTS + 1):
        blocking = load * blocking / (servers + load * blocking)
        if servers <= load:
            continue
        waits = _erlang_c_of(servers, load, blocking)
        if _percentile_wait(servers, load, service_time, waits, percentile / 100) <= target:
            return servers
    return None


# -- measured history --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class QueueLoad:
    """What one queue did over a window of ``window`` seconds (a row of
    `Store.capacity_stats`): jobs created, jobs ended for good, claims and the seconds
    they waited, and the attempts that ended with their summed and squared durations."""

    queue: str
    window: float
    arrivals: int
    finished: int
    claims: int
    waited: float
    attempts: int
    busy: float
    busy_squared: float

    @classmethod
    def from_row(cls, row: Sequence[Any], window: float) -> QueueLoad:
        queue, arrivals, finished, claims, waited, attempts, busy, busy_squared = row
        return cls(str(queue), window, int(arrivals or 0), int(finished or 0),
                   int(claims or 0), float(waited or 0), int(attempts or 0),
                   float(busy or 0), float(busy_squared or 0))

    @property
    def arrival_rate(self) -> float:
        """λ: jobs created per second."""
        return self.arrivals / self.window

    @property
    def service_time(self) -> float | None:
        """S: the mean duration of an attempt, ``None`` when none ended."""
        return self.busy / self.attempts if self.attempts else None

    @property
    def service_cv(self) -> float | None:
        """The coefficient of variation of the attempts' durations (1 for exponential
        service), ``None`` from fewer than two."""
        mean = self.service_time
        if mean is None or self.attempts < 2 or mean <= 0:
            return None
        variance = (self.busy_squared - self.attempts * mean * mean) / (self.attempts - 1)
        return math.sqrt(max(variance, 0.0)) / mean

    @property
    def observed_wait(self) -> float | None:
        """The mean wait of the window's claims, from the later of run_at and creation."""
        return self.waited / self.claims if self.claims else None


def slots_serving(queue: str, workers: Iterable[tuple[Sequence[str] | None, int]],
                  limit: int | None = None) -> int:
    """The slots of *workers* ((queues served, ``None`` for all; concurrency)) that may
    serve *queue*, at most its concurrency *limit*."""
    slots = sum(concurrency for served, concurrency in workers
                if served is None or queue in served)
    return slots if limit is None else min(slots, limit)


@dataclass(frozen=True, slots=True)
class Forecast:
    """One queue under the model: with today's ``slots``, the slots the ``target`` wait
    at ``percentile`` needs, and the same with the arrival rate multiplied by `GROWTH`."""

    load: QueueLoad
    slots: int
    target: float
    percentile: float

    def _at(self, growth: float) -> float:
        return self.load.arrival_rate * growth

    @property
    def estimable(self) -> bool:
        """Whether an attempt ended in the window, so that the service time is known."""
        return self.load.service_time is not None

    def utilisation(self, growth: float = 1.0) -> float | None:
        service = self.load.service_time
        return None if service is None else utilisation(self.slots, self._at(growth), service)

    def wait(self, growth: float = 1.0) -> float | None:
        """The wait at the percentile with today's slots; ``None`` when unstable."""
        service = self.load.service_time
        if service is None:
            return None
        return percentile_wait(self.slots, self._at(growth), service, self.percentile)

    def mean_wait(self, growth: float = 1.0) -> float | None:
        service = self.load.service_time
        return None if service is None else mean_wait(self.slots, self._at(growth), service)

    def needed(self, growth: float = 1.0) -> int | None:
        service = self.load.service_time
        if service is None:
            return None
        return slots_needed(self._at(growth), service, self.target, self.percentile)

    def to_json(self) -> dict[str, Any]:
        load = self.load

        def case(growth: float) -> dict[str, Any]:
            utilised = self.utilisation(growth)
            return {
                "arrival_rate": self._at(growth), "utilisation": _finite(utilised),
                "stable": None if utilised is None else utilised < 1,
                "wait": self.wait(growth), "mean_wait": self.mean_wait(growth),
                "slots_needed": self.needed(growth),
            }

        return {
            "queue": load.queue, "window": load.window, "arrivals": load.arrivals,
            "finished": load.finished, "attempts": load.attempts,
            "service_time": load.service_time, "service_cv": load.service_cv,
            "observed_wait": load.observed_wait, "slots": self.slots,
            "target": self.target, "percentile": self.percentile,
            "estimable": self.estimable, "now": case(1.0), "doubled": case(GROWTH),
        }


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isinf(value) else value

