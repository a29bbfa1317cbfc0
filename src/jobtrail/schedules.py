"""When a periodic job fires: a cron expression or a fixed interval, and its ticks.

``@app.job(cron="*/5 * * * *", tz="Europe/Paris")`` or ``@app.job(every=300)`` gives the
job a `Schedule`. A tick is a moment the schedule names, in epoch seconds (rounded to the
microsecond, so every scheduler names it alike):

- ``every=N``: the multiples of N seconds since the Unix epoch — schedulers on different
  machines agree on them without talking to each other;
- ``cron=``: the standard five fields (minute, hour, day of month, month, day of week) or
  an alias such as ``@hourly``, read in the time zone ``tz`` (UTC by default), so
  ``0 9 * * *`` is nine in the morning there, summer and winter.

Which ticks a scheduler fires is `due`: the latest tick that has come (none missed by
default), or the missed ones too, up to ``catch_up``. That each tick fires once however
many schedulers run is the store's doing (`jobtrail.scheduler`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from jobtrail.errors import JobDefinitionError
from jobtrail.limits import HORIZON

#: The shortest interval of ``every=``: a tenth of a second.
MIN_EVERY = 0.1
#: ``catch_up=True`` fires at most this many missed ticks (the latest ones).
MAX_CATCH_UP = 1000
#: Aliases the cron field accepts instead of five fields.
ALIASES = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
                     "@hourly"})


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a job fires: ``cron`` (in ``tz``) or ``every`` seconds; ``catch_up`` is how
    many ticks missed while no scheduler ran are fired late (0: none)."""

    job_name: str
    cron: str | None
    every: float | None
    tz: tzinfo
    catch_up: int

    @property
    def text(self) -> str:
        """How it reads in listings: ``cron 0 9 * * * (Europe/Paris)``, ``every 300 s``."""
        if self.cron is None:
            return f"every {self.every:g} s"
        return f"cron {self.cron} ({self.tz})"

    def next_after(self, moment: float) -> float:
        """The first tick strictly after *moment* (epoch seconds)."""
        if self.every is not None:
            tick = _tick((math.floor(moment / self.every) + 1) * self.every)
            return tick if tick > moment else _tick(tick + self.every)
        return _tick(self._cron(moment).get_next(float))

    def latest_at(self, moment: float) -> float:
        """The last tick at or before *moment*."""
        if self.every is not None:
            tick = _tick(math.floor(moment / self.every) * self.every)
            return tick if tick <= moment else _tick(tick - self.every)
        # A tick exactly at *moment* counts: look back from just after it.
        return _tick(self._cron(moment + 1e-6).get_prev(float))

    def due(self, after: float, now: float) -> list[float]:
        """The ticks to fire now, oldest first, when every tick up to *after* was dealt
        with: the latest tick in (after, now] and, with ``catch_up``, up to that many
        before it."""
        wanted = max(1, self.catch_up)
        ticks: list[float] = []
        tick = self.latest_at(now)
        while tick > after and len(ticks) < wanted:
            ticks.append(tick)
            tick = self._before(tick)
        ticks.reverse()
        return ticks

    def _before(self, tick: float) -> float:
        if self.every is not None:
            return _tick(tick - self.every)
        return _tick(self._cron(tick).get_prev(float))

    def _cron(self, moment: float) -> croniter:
        assert self.cron is not None
        return croniter(self.cron, datetime.fromtimestamp(moment, self.tz))


def _tick(moment: float) -> float:
    return round(moment, 6)


def make_schedule(job_name: str, *, cron: Any = None, every: Any = None, tz: Any = None,
                  catch_up: Any = False) -> Schedule | None:
    """The `Schedule` of ``@app.job(cron=|every=, tz=, catch_up=)``, or ``None`` for a job
    that is not periodic; `JobDefinitionError` naming the job for anything that cannot be."""
    if cron is None and every is None:
        for option, value, unset in (("tz", tz, None), ("catch_up", catch_up, False)):
            if value is not unset:
                raise JobDefinitionError(
                    f"job {job_name!r}: {option}= applies to periodic jobs: give cron= or every=")
        return None
    if cron is not None and every is not None:
        raise JobDefinitionError(f"job {job_name!r}: give cron= or every=, not both")
    zone = _zone(job_name, tz)
    if cron is not None:
        cron = _check_cron(job_name, cron, zone)
    else:
        every = _check_every(job_name, every)
        if tz is not None:
            raise JobDefinitionError(
                f"job {job_name!r}: tz= applies to cron= schedules; every= counts seconds "
                "wherever it runs")
    return Schedule(job_name, cron, every, zone, _check_catch_up(job_name, catch_up))


def _zone(job_name: str, tz: Any) -> tzinfo:
    if tz is None:
        return UTC
    if isinstance(tz, tzinfo):
        return tz
    if not isinstance(tz, str) or not tz:
        raise JobDefinitionError(
            f"job {job_name!r}: tz must be a time zone name such as 'Europe/Paris' or a "
            f"tzinfo, got {tz!r}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise JobDefinitionError(
            f"job {job_name!r}: unknown time zone {tz!r} (an IANA name such as "
            "'Europe/Paris' or 'UTC')") from None


def _check_cron(job_name: str, cron: Any, zone: tzinfo) -> str:
    if not isinstance(cron, str):
        raise JobDefinitionError(
            f"job {job_name!r}: cron must be a str such as '*/5 * * * *', got {cron!r}")
    text = " ".join(cron.split())
    fields = text.split(" ")
    if text.lower() not in ALIASES and len(fields) != 5:
        raise JobDefinitionError(
            f"job {job_name!r}: cron {cron!r} has {len(fields) if text else 0} fields; it "
            "needs five (minute hour day-of-month month day-of-week, e.g. '*/5 * * * *') or "
            f"one of {', '.join(sorted(ALIASES))}")
    try:
        croniter(text, datetime.now(zone)).get_next(float)
    except (CroniterBadCronError, CroniterBadDateError, ValueError, KeyError) as exc:
        raise JobDefinitionError(f"job {job_name!r}: cron {cron!r} does not parse: {exc}") from None
    return text


def _check_every(job_name: str, every: Any) -> float:
    seconds = every.total_seconds() if isinstance(every, timedelta) else every
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise JobDefinitionError(
            f"job {job_name!r}: every must be seconds (a number) or a timedelta, got {every!r}")
    if not math.isfinite(seconds) or not MIN_EVERY <= seconds <= HORIZON:
        raise JobDefinitionError(
            f"job {job_name!r}: every={every!r} is out of range: between {MIN_EVERY} s and "
            "10 years")
    return float(seconds)


def _check_catch_up(job_name: str, catch_up: Any) -> int:
    if catch_up is True:
        return MAX_CATCH_UP
    if catch_up is False:
        return 0
    if isinstance(catch_up, int) and not isinstance(catch_up, bool) and (
            0 <= catch_up <= MAX_CATCH_UP):
        return catch_up
    raise JobDefinitionError(
        f"job {job_name!r}: catch_up must be True, False or how many missed ticks to fire "
        f"(0 to {MAX_CATCH_UP}), got {catch_up!r}")
