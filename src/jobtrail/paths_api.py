"""`PathsAPI`: what an `App` answers about execution paths, and the promises it declares.

``app.paths`` (the `App` keeps short aliases of each method): divergences and their alert
sinks, path variants and funnels, rules across jobs, and shadow runs of candidate
implementations. It reads through the app's store and declares through the app.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from jobtrail.errors import ConfigurationError
from jobtrail.jobs import JobDef
from jobtrail.limits import before_bound, id_filter, row_limit
from jobtrail.paths import rules, variants
from jobtrail.paths.alerts import DivergenceSink
from jobtrail.paths.rules import Bound, Occurrence, Rule, RuleReport
from jobtrail.paths.variants import Funnel, Variant
from jobtrail.records import Divergence, DivergenceKind, JobRecord, RunRecord
from jobtrail.shadow import SUFFIX, Declare, Shadow, ShadowReport, register, reports
from jobtrail.store.base import DivergenceFilter, JobFilter, Store


class Stored(Protocol):
    """Where the queries read (an `App`, whose store opens on first use)."""

    @property
    def store(self) -> Store: ...

#: The divergence kinds, as command lines spell them.
DIVERGENCE_KINDS = tuple(kind.value for kind in DivergenceKind)


class PathsAPI:
    """Execution-path queries and declarations of an `App` (see `jobtrail.paths`)."""

    def __init__(self, stored: Stored, registry: dict[str, JobDef[Any, Any]],
                 declare: Declare) -> None:
        self._stored = stored
        self._registry = registry
        self._declare = declare
        self.alert_sinks: list[DivergenceSink] = []
        self.rules: dict[str, Rule] = {}
        self.shadows: dict[str, Shadow] = {}

    @property
    def store(self) -> Store:
        return self._stored.store

    def on_divergence(self, sink: DivergenceSink) -> DivergenceSink:
        """Send each stored divergence to *sink* (usable as a decorator)."""
        if not callable(sink):
            raise ConfigurationError(f"on_divergence({sink!r}): a sink must be callable")
        self.alert_sinks.append(sink)
        return sink

    def divergences(
        self, *, job_name: str | None = None, kind: str | None = None,
        job_id: int | None = None, since: datetime | None = None, limit: int = 100,
        before_id: int | None = None,
    ) -> list[Divergence]:
        """Stored divergences, newest first, narrowed by job name, kind, job and time."""
        return self.store.divergences(_divergence_filter(
            job_name, kind, job_id, since, limit, before_id))

    def divergence_counts(
        self, *, job_name: str | None = None, kind: str | None = None,
        since: datetime | None = None, newest: int | None = None,
    ) -> dict[tuple[str, str], int]:
        """How many divergences each (job name, kind) has; with *newest*, among only the
        newest *newest* that match (a bounded read)."""
        if newest is not None:
            _check_limit("newest", newest)
        return self.store.divergence_counts(_divergence_filter(
            job_name, kind, None, since, 1, None),
            newest=None if newest is None else row_limit(newest))

    def runs(self, job_name: str, *, since: datetime | None = None,
             limit: int | None = None) -> list[RunRecord]:
        """A job's runs that ended for good (since *since*), oldest first; with *limit*,
        only the newest *limit* of them (a read bounded however many runs it has)."""
        if limit is not None:
            _check_limit("limit", limit)
        return self.store.runs(job_name, since, limit=None if limit is None else row_limit(limit))

    def job_names(self, *, limit: int = 1000) -> list[tuple[str, datetime]]:
        """The job names with runs that ended for good, by name (at most *limit*), each with
        the time its newest run ended."""
        _check_limit("limit", limit)
        return self.store.run_names(row_limit(limit))

    def variants(
        self, job_name: str, *, since: datetime | None = None,
        new_since: datetime | None = None, new_in_version: str | None = None,
        limit: int | None = None,
    ) -> list[Variant]:
        """The path variants of a job's finished runs (with *limit*, of its newest *limit*),
        most common first (see `jobtrail.paths.variants`)."""
        runs = self.runs(job_name, since=since, limit=limit)
        return variants.group(runs, new_since=new_since, new_in_version=new_in_version)

    def funnel(self, job_name: str, *, since: datetime | None = None,
               limit: int | None = None) -> Funnel:
        """How many finished runs of a job (with *limit*, of its newest *limit*) reached
        each point of its path."""
        return variants.funnel(job_name, self.runs(job_name, since=since, limit=limit),
                               self.expected_points(job_name))

    def expected_points(self, job_name: str) -> tuple[str, ...]:
        """The points of a job's expected path in their order (none for a job without
        ``expect=`` or unknown to this app): the order a funnel lists them in."""
        definition = self._registry.get(job_name)
        expectation = definition.expectation if definition else None
        return tuple(expectation.points()) if expectation else ()

    def rule(self, name: str, *, when: Occurrence, then: Occurrence,
             within: float | timedelta) -> Rule:
        """Declare a promise across jobs: every *when* is followed by *then* within
        *within* (seconds or a timedelta). See `jobtrail.paths.rules`."""
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"rule name must be a non-empty str, got {name!r}")
        if name in self.rules:
            raise ConfigurationError(f"two rules are named {name!r}")
        seconds = within.total_seconds() if isinstance(within, timedelta) else within
        declared = Rule(name, when, then, seconds)
        self.rules[name] = declared
        return declared

    def check_rules(self, *, since: datetime | None = None,
                    bound: Bound | None = None) -> list[RuleReport]:
        """How every declared rule fared over what happened since *since*; with *bound*,
        over no more than it lets each check read (each report says since when)."""
        if bound is not None:
            _check_limit("bound.runs", bound.runs)
            _check_limit("bound.events", bound.events)
        return rules.check(self.store, self.rules.values(), since=since, bound=bound)

    def shadow(self, job: JobDef[Any, Any], candidate: Callable[..., Any], *,
               sample: float = 1.0) -> Shadow:
        """Run *candidate* beside *job*: for a *sample* share of *job*'s finished runs, a
        lower-priority job dry-runs the candidate on the same payload (effects captured,
        nothing of it stored) and records how its path and result differ. See
        `jobtrail.shadow`."""
        return register(self._declare, self.shadows, job, candidate, sample)

    def shadow_reports(self, job_name: str, *, limit: int = 1000) -> list[ShadowReport]:
        """The comparisons of *job_name*'s shadow runs, newest first."""
        found: list[JobRecord] = self.store.list_jobs(
            JobFilter(job_name=job_name + SUFFIX, limit=row_limit(limit)))
        return reports(found)


def _divergence_filter(
    job_name: str | None, kind: str | None, job_id: int | None, since: datetime | None,
    limit: int, before_id: int | None,
) -> DivergenceFilter:
    if kind is not None and kind not in DIVERGENCE_KINDS:
        raise ConfigurationError(
            f"unknown divergence kind {kind!r}: use {', '.join(DIVERGENCE_KINDS)}"
        )
    _check_limit("limit", limit)
    return DivergenceFilter(job_name, kind, id_filter(job_id), since, row_limit(limit),
                            before_bound(before_id))


def _check_limit(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive int, got {value!r}")
