"""The chaos itself: kills, replacements and database restarts until every job is final."""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field

from pg_cluster import ThrowawayCluster

from chaosrun.clock import Clock
from chaosrun.fleet import Fleet
from chaosrun.settings import COUNT_EVERY, POLL, Settings
from jobtrail import App, Status, StoreError


@dataclass
class Drive:
    """What happened while the workers ran."""

    elapsed: float = 0.0
    all_final: bool = False
    timed_out: bool = False
    pg_restarts: list[dict[str, float]] = field(default_factory=list)


def tally(app: App) -> Counter[Status] | None:
    """Jobs by status, or ``None`` while the store does not answer."""
    try:
        counts: Counter[Status] = Counter()
        for (_, status), n in app.counts().items():
            counts[status] += n
        return counts
    except StoreError:
        return None


def drive(name: str, app: App, fleet: Fleet, cluster: ThrowawayCluster | None, total: int,
          settings: Settings, rng: random.Random, clock: Clock) -> Drive:
    """Run the workers under chaos until every job is final (or the time is up)."""
    outcome = Drive()
    for _ in range(settings.workers):
        fleet.start()
    marks = [(i + 1) / (settings.pg_restarts + 1) for i in range(settings.pg_restarts)]
    if cluster is None:
        marks = []
    next_chaos = clock() + rng.uniform(settings.kill_min, settings.kill_max)
    settle_until: float | None = None
    counts: Counter[Status] = Counter()
    next_count = next_progress = 0.0
    while True:
        now = clock()
        fleet.poll(replace=True)
        if now >= next_count:
            fresh = tally(app)
            if fresh is not None:
                counts = fresh
            next_count = now + COUNT_EVERY
            if sum(counts[s] for s in Status if s.is_final) >= total:
                outcome.all_final = True
                break
        final = sum(counts[s] for s in Status if s.is_final)
        chaos = now < settings.timeout
        if chaos and now >= next_chaos:
            live = fleet.live()
            if live:
                victim = rng.choice(live)
                if rng.random() < settings.sigterm_share:
                    fleet.sigterm(victim)
                else:
                    fleet.sigkill(victim)
            fleet.start()
            next_chaos = now + rng.uniform(settings.kill_min, settings.kill_max)
        if chaos and cluster is not None and marks and final >= marks[0] * total:
            marks.pop(0)
            fleet.note(f"restart PostgreSQL (-m immediate) at {final}/{total} final")
            took = cluster.restart()
            fleet.note(f"PostgreSQL is back after {took:.2f}s")
            outcome.pg_restarts.append({"at": round(now, 3), "final": final,
                                        "seconds": round(took, 3)})
            print(f"[{name} {now:6.1f}s] PostgreSQL restarted (-m immediate) in {took:.2f}s",
                  flush=True)
        if not chaos:
            if settle_until is None:
                settle_until = now + settings.settle
                outcome.timed_out = True
                fleet.note("timeout: no more kills; the workers get the settle time")
                print(f"[{name} {now:6.1f}s] timeout: chaos stopped, {settings.settle:g}s for "
                      "the workers to finish", flush=True)
            elif now >= settle_until:
                break
        if now >= next_progress:
            print(progress_line(name, now, counts, total, fleet, outcome), flush=True)
            next_progress = now + settings.progress
        time.sleep(POLL)
    outcome.elapsed = clock()
    print(progress_line(name, outcome.elapsed, counts, total, fleet, outcome), flush=True)
    return outcome


def progress_line(name: str, now: float, counts: Counter[Status], total: int, fleet: Fleet,
                  outcome: Drive) -> str:
    final = sum(counts[s] for s in Status if s.is_final)
    waiting = counts[Status.QUEUED] + counts[Status.RETRYING]
    return (f"[{name} {now:6.1f}s] final {final:,}/{total:,} (succeeded "
            f"{counts[Status.SUCCEEDED]:,}, dead {counts[Status.DEAD]:,}) running "
            f"{counts[Status.RUNNING]:,} waiting {waiting:,} | SIGKILL {fleet.sigkills} "
            f"SIGTERM {fleet.sigterms} PG restarts {len(outcome.pg_restarts)} | "
            f"workers {len(fleet.live())}")
