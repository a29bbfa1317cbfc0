"""The scheduler: enqueues the ticks of periodic jobs, each once however many schedulers run.

Every worker runs one on a thread of its own (``jobtrail worker --no-scheduler`` opts
out; a ``--burst`` worker runs none). It sleeps until the next tick of any periodic job
(`jobtrail.schedules`), then asks the store to fire it: the store moves the job's last
fired tick forward and enqueues the job in one transaction, and only when that tick is
later than the one already fired (`Store.fire`). A second scheduler asking for the same
tick finds it fired and enqueues nothing, so a tick fires exactly once with one scheduler
or ten, on one machine or several, and a crash between the two writes is impossible.

Missed ticks: a scheduler fires the latest tick that has come. Ticks that passed while no
scheduler ran (every worker stopped for a deploy) or while the store was down are
skipped, so a restart brings no burst of old ticks — unless the job says ``catch_up=``:
then a scheduler starting up fires, oldest first, up to that many ticks after the last
one the store recorded as fired.

The fired job is recorded as such: a ``scheduled`` event before its ``enqueued`` one,
with the tick (``attrs["tick"]``, ISO 8601 UTC) and the schedule.

A store that fails is logged and tried again a second later; the scheduler never stops
the worker, and it stops when the worker does, whatever the store is doing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from jobtrail.errors import JobtrailError, StoreError
from jobtrail.schedules import Schedule

if TYPE_CHECKING:
    from jobtrail.jobs import JobDef
    from jobtrail.observe.tracing import Tracing
    from jobtrail.store.base import Enqueued, NewJob, Store

log = logging.getLogger("jobtrail.scheduler")

#: The longest sleep between two looks at the clock (a clock set forward is seen).
MAX_SLEEP = 60.0
#: The pause after the store failed.
RETRY_AFTER = 1.0


class SchedulerHost(Protocol):
    """What the scheduler needs of the `App`."""

    @property
    def store(self) -> Store: ...
    @property
    def tracing(self) -> Tracing: ...
    @property
    def registry(self) -> Mapping[str, JobDef[Any, Any]]: ...


class Periodic(NamedTuple):
    """A periodic job and its schedule."""

    job: JobDef[Any, Any]
    schedule: Schedule


def periodic_jobs(app: SchedulerHost) -> list[Periodic]:
    """The app's periodic jobs, by name."""
    return [Periodic(job, job.schedule) for name, job in sorted(app.registry.items())
            if job.schedule is not None]


def tick_attrs(schedule: Schedule, tick: float) -> dict[str, Any]:
    """What the ``scheduled`` event of a fired tick records."""
    return {"tick": datetime.fromtimestamp(tick, UTC).isoformat(), "schedule": schedule.text}


class Scheduler:
    """Fires the ticks of *app*'s periodic jobs on a thread of its own until `stop`."""

    def __init__(self, app: SchedulerHost, *, worker_id: str = "") -> None:
        self.app = app
        self.jobs = periodic_jobs(app)
        self.fired = 0  # ticks this scheduler enqueued
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._log = logging.LoggerAdapter(log, {"worker_id": worker_id})

    def start(self) -> None:
        """Start the thread (none when the app has no periodic job)."""
        if not self.jobs or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="jobtrail-scheduler",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop firing; wait up to *timeout* for a fire under way (the thread is a daemon:
        a store that hangs keeps no process alive)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the thread ---------------------------------------------------------------------
    def _run(self) -> None:
        after: dict[str, float] | None = None
        while not self._stop.is_set():
            try:
                if after is None:
                    after = self._starting_points(time.time())
                pause = self._fire_due(after, time.time())
            except StoreError as exc:
                self._log.warning("periodic jobs: the store failed (%s); trying again in %g s",
                                  exc, RETRY_AFTER)
                pause = RETRY_AFTER
            except Exception:  # a bug must not end the scheduler silently
                self._log.exception("periodic jobs: unexpected error; trying again in %g s",
                                    RETRY_AFTER)
                pause = RETRY_AFTER
            self._stop.wait(pause)

    def _starting_points(self, now: float) -> dict[str, float]:
        """Per job, the tick up to which everything is dealt with: now, or for a job that
        catches up, the last tick the store fired (now when it never fired)."""
        catching_up = any(schedule.catch_up for _, schedule in self.jobs)
        fired = self.app.store.schedules() if catching_up else {}
        return {
            job.name: (fired[job.name].last_tick
                       if schedule.catch_up and job.name in fired else now)
            for job, schedule in self.jobs
        }

    def _fire_due(self, after: dict[str, float], now: float) -> float:
        """Fire what is due; the seconds until the next tick."""
        for job, schedule in self.jobs:
            if self._stop.is_set():
                break
            for tick in schedule.due(after[job.name], now):
                self._fire(job, schedule, tick)
                after[job.name] = tick
        upcoming = min(schedule.next_after(max(after[job.name], now))
                       for job, schedule in self.jobs)
        return min(MAX_SLEEP, max(0.0, upcoming - time.time()))

    def _fire(self, job: JobDef[Any, Any], schedule: Schedule, tick: float) -> None:
        try:
            new_job = job.build((), {})
        except JobtrailError as exc:  # checked at import: only a changed default gets here
            self._log.error("cannot enqueue periodic job %r: %s", job.name, exc)
            return
        attrs = tick_attrs(schedule, tick)

        def fire(jobs: list[NewJob]) -> list[Enqueued]:
            found = self.app.store.fire(job.name, tick, jobs[0], attrs)
            return [] if found is None else [found]

        try:  # a tick is a trace of its own (`jobtrail.observe.tracing`)
            fired = self.app.tracing.send(job.queue, [new_job], fire, linked=True)
            job_id = fired[0] if fired else None
        except StoreError:
            raise
        except JobtrailError as exc:  # its idempotency key is held by other arguments, say
            self._log.error("tick %s of periodic job %r refused: %s", tick, job.name, exc)
            return
        if job_id is None:
            self._log.debug("tick %s of %s was fired by another scheduler", tick, job.name)
            return
        self.fired += 1
        moment = datetime.fromtimestamp(tick, UTC).isoformat()
        if job_id.deduplicated:  # its idempotency key is held: the tick enqueued nothing new
            self._log.info("%s, tick %s: job %d holds its idempotency key", job.name, moment,
                           job_id)
        else:
            self._log.info("%s fired for its tick at %s: job %d", job.name, moment, job_id)

