"""What attempts and workers use: CPU time and peak memory, and what it adds up to.

Each attempt's outcome carries what it used (`Outcome.cpu`, `Outcome.max_rss`), stored on
its lifecycle event; each worker's heartbeat carries its process's totals (the workers
table). Cheap to take: a ``time.thread_time`` at each end of a sync attempt and one
``getrusage`` as it ends.

- **CPU** is the CPU time of the thread that ran a sync job, middlewares included. An
  async job shares its event loop's thread with the other async jobs of its worker, so
  its CPU time cannot be told apart: it is not recorded.
- **Peak memory** is the worker process's peak resident set size as the attempt ended
  (``ru_maxrss``): it only grows, so an attempt whose figure is above the one before it
  on the same worker raised the peak. A job type whose attempts end at a high peak is
  where to look for memory.

`usage_by_job` aggregates the attempts of a window per job type for ``jobtrail
resources``: attempts, wall time (p50, p95, max), CPU time (mean, max) and the highest
peak memory seen.
"""

from __future__ import annotations

import json
import math
import resource
import statistics
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: ``ru_maxrss`` is in kilobytes on Linux, in bytes on macOS.
_RSS_UNIT = 1 if sys.platform == "darwin" else 1024


def peak_rss() -> int:
    """This process's peak resident memory so far, in bytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _RSS_UNIT


def process_cpu() -> float:
    """This process's CPU time so far (user and system), in seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class JobUsage:
    """What the attempts of one job type used over a window."""

    job_name: str
    durations: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    max_rss: int | None = None

    @property
    def attempts(self) -> int:
        return len(self.durations)

    def to_json(self) -> dict[str, Any]:
        walls = sorted(self.durations)
        return {
            "job": self.job_name, "attempts": self.attempts,
            "wall_p50": _quantile(walls, 0.5), "wall_p95": _quantile(walls, 0.95),
            "wall_max": walls[-1] if walls else None,
            "cpu_mean": statistics.fmean(self.cpu) if self.cpu else None,
            "cpu_max": max(self.cpu) if self.cpu else None,
            "cpu_measured": len(self.cpu), "max_rss": self.max_rss,
        }


def usage_by_job(rows: Iterable[tuple[str, float | None, str | None]]) -> list[JobUsage]:
    """Per job type, from (job name, attempt duration, lifecycle attributes as JSON) of
    each ended attempt; sorted by total wall time, the heaviest first."""
    found: dict[str, JobUsage] = {}
    for job_name, duration, attrs in rows:
        usage = found.get(job_name)
        if usage is None:
            usage = found[job_name] = JobUsage(job_name)
        if duration is not None:
            usage.durations.append(float(duration))
        if not attrs:
            continue
        try:
            values = json.loads(attrs)
        except ValueError:
            continue
        cpu, rss = values.get("cpu"), values.get("max_rss")
        if isinstance(cpu, int | float):
            usage.cpu.append(float(cpu))
        if isinstance(rss, int) and (usage.max_rss is None or rss > usage.max_rss):
            usage.max_rss = rss
    return sorted(found.values(), key=lambda u: (-sum(u.durations), u.job_name))


def _quantile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]  # the nearest rank
