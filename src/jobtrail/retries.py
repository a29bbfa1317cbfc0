"""Retry analysis: per job type, what retries cost and what they bought.

From the jobs ended over a window and the retries scheduled in it (`Store.retry_stats`):
attempts per success, the error classes that caused retries, how often a job that was
retried ended in success rather than dead, and the time spent waiting in backoff.
``jobtrail retries`` prints it. The retries are read from the lifecycle events, which
the store does not index by time: a window over millions of events takes a while.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RetryStats:
    """One job type over the window."""

    job_name: str
    succeeded: int = 0
    dead: int = 0  # dead or orphaned
    attempts_of_succeeded: int = 0
    retried_succeeded: int = 0
    retried_dead: int = 0
    retries: int = 0
    backoff: float = 0.0  # seconds of retry delays scheduled
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def attempts_per_success(self) -> float | None:
        return self.attempts_of_succeeded / self.succeeded if self.succeeded else None

    @property
    def retried_success_rate(self) -> float | None:
        """Of the ended jobs that were retried, the share that succeeded."""
        retried = self.retried_succeeded + self.retried_dead
        return self.retried_succeeded / retried if retried else None

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job_name, "succeeded": self.succeeded, "dead": self.dead,
            "attempts_per_success": self.attempts_per_success, "retries": self.retries,
            "retried_succeeded": self.retried_succeeded, "retried_dead": self.retried_dead,
            "retried_success_rate": self.retried_success_rate, "backoff_seconds": self.backoff,
            "errors": dict(self.errors.most_common()),
        }


def analyse(outcomes: Iterable[tuple[Any, ...]], retries: Iterable[tuple[Any, ...]]
            ) -> list[RetryStats]:
    """Per job type, sorted by retries then name."""
    found: dict[str, RetryStats] = {}
    for job_name, status, jobs, attempts, retried in outcomes:
        stats = found.setdefault(job_name, RetryStats(job_name))
        if status == "succeeded":
            stats.succeeded += int(jobs)
            stats.attempts_of_succeeded += int(attempts or 0)
            stats.retried_succeeded += int(retried or 0)
        else:
            stats.dead += int(jobs)
            stats.retried_dead += int(retried or 0)
    for job_name, attrs in retries:
        stats = found.setdefault(job_name, RetryStats(job_name))
        stats.retries += 1
        try:
            details = json.loads(attrs) if attrs else {}
        except ValueError:
            details = {}
        if not isinstance(details, dict):
            details = {}
        stats.errors[str(details.get("error") or "unknown")] += 1
        delay = details.get("delay")
        if isinstance(delay, int | float):
            stats.backoff += float(delay)
    return sorted(found.values(), key=lambda s: (-s.retries, s.job_name))
