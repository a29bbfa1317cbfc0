"""Shadow runs: a candidate implementation run beside the real one, and compared.

``app.paths.shadow(charge, charge_v2, sample=0.1)`` makes every real run of ``charge`` that ends
for good (one in ten, here) enqueue a shadow job, ``charge.shadow``, at a lower priority
than ``charge`` (so shadows wait for real work). The shadow job dry-runs the candidate on
the real run's payload — effects and child jobs captured, never performed, nothing of the
candidate's stored (`jobtrail.dryrun`) — and compares what it did with what the real run
did: the path (its variant) and the result (or, for a real run that failed, the error
class; the report keeps the real run's error, class and message, as it was stored).
Its own result is that comparison, so reports are ordinary stored jobs:
`shadow_reports` / ``jobtrail paths shadow JOB`` summarise them.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from jobtrail.context import Context  # resolved at run time: the shadow job's type hints
from jobtrail.dryrun import dry_run
from jobtrail.errors import ConfigurationError, Permanent
from jobtrail.jobs import JobDef
from jobtrail.observers import Observer
from jobtrail.payload import encode_result
from jobtrail.records import JobRecord, Status
from jobtrail.retry import Retry
from jobtrail.store.base import Outcome

#: How an app declares a job type: `App.job` with keyword options.
Declare = Callable[..., Callable[[Callable[..., Any]], JobDef[Any, Any]]]

SUFFIX = ".shadow"
#: How much lower than the real job's priority its shadows run.
PRIORITY_DROP = 10


@dataclass(frozen=True, slots=True)
class Shadow:
    """A candidate shadowing a job: the job, the candidate and the share of runs."""

    job: JobDef[Any, Any]
    candidate: Callable[..., Any]
    sample: float
    runner: JobDef[Any, Any]


@dataclass(frozen=True, slots=True)
class ShadowReport:
    """One comparison of a real run with the candidate's dry run of the same payload.

    ``real_error`` and ``shadow_error`` are ``"Class: message"`` for a run that failed
    (the real run's as its job stored it, so redacted as the job redacts), else None.
    """

    shadow_job_id: int
    real_job_id: int
    same_path: bool
    same_result: bool
    real_path: str | None
    shadow_path: str
    real_result: Any
    shadow_result: Any
    shadow_error: str | None
    real_error: str | None = None

    @property
    def same(self) -> bool:
        return self.same_path and self.same_result


def register(declare: Declare, shadows: dict[str, Shadow], job: JobDef[Any, Any],
             candidate: Callable[..., Any], sample: float) -> Shadow:
    """Declare *candidate* a shadow of *job* among *shadows*, its shadow job declared with
    *declare* (see the module docstring)."""
    if not callable(candidate):
        raise ConfigurationError(f"shadow of {job.name!r}: the candidate must be callable")
    if isinstance(sample, bool) or not isinstance(sample, int | float) or not 0 < sample <= 1:
        raise ConfigurationError(
            f"shadow of {job.name!r}: sample must be a share of runs in (0, 1], got {sample!r}")
    if job.name.endswith(SUFFIX) or job.name in shadows:
        raise ConfigurationError(f"job {job.name!r} already has a shadow (or is one)")

    def compare(ctx: Context, job_id: int) -> dict[str, Any]:
        return _compare(ctx, shadows[job.name], job_id)

    compare.__name__ = compare.__qualname__ = job.name + SUFFIX
    runner = declare(name=job.name + SUFFIX, queue=job.queue,
                     priority=job.priority - PRIORITY_DROP,
                     retry=Retry(max_attempts=1))(compare)
    shadow = Shadow(job, candidate, float(sample), runner)
    shadows[job.name] = shadow
    return shadow


class ShadowObserver(Observer):
    """Enqueues the shadow jobs of the written runs that ended for good."""

    def __init__(self, shadows: dict[str, Shadow]) -> None:
        self.shadows = shadows  # the app's own mapping: shadows declared later count too

    def finished(self, outcomes: Sequence[Outcome]) -> None:
        if self.shadows:
            enqueue_shadows(self.shadows, outcomes)


def enqueue_shadows(shadows: dict[str, Shadow], outcomes: Iterable[Outcome],
                    chance: Callable[[], float] = random.random) -> None:
    """Enqueue the shadow jobs of the runs among *outcomes* that ended for good."""
    due: dict[str, list[dict[str, int]]] = {}
    for out in outcomes:
        run = out.run
        shadow = shadows.get(run.job_name) if run is not None else None
        if shadow is not None and (shadow.sample >= 1 or chance() < shadow.sample):
            due.setdefault(shadow.job.name, []).append({"job_id": out.job_id})
    for name, items in due.items():
        shadows[name].runner.enqueue_many(items)


def _compare(ctx: Context, shadow: Shadow, job_id: int) -> dict[str, Any]:
    if ctx.store is None:
        raise Permanent("a shadow comparison runs in a worker, with the real job's store")
    real = ctx.store.get(job_id)
    if real.args is None:
        raise Permanent(f"job {job_id}: its payload is unreadable, nothing to compare")
    done = dry_run(shadow.job, shadow.candidate, (), shadow.job.opened(real.args))
    shadow_result = _json(done.result)
    real_error = real.error if real.status is not Status.SUCCEEDED else None
    if real.status is Status.SUCCEEDED:
        same_result = done.error is None and shadow_result == _json(real.result)
    else:
        same_result = done.error is not None and real_error is not None and (
            done.error.type == real_error.type)
    report = {
        "real_job_id": job_id, "same_path": done.variant == real.variant,
        "same_result": same_result, "real_path": real.variant, "shadow_path": done.variant,
        "real_result": real.result, "shadow_result": shadow_result,
        "shadow_error": str(done.error) if done.error else None,
        "real_error": str(real_error) if real_error else None,
    }
    ctx.event("compared", same_path=report["same_path"], same_result=same_result)
    return report


def _json(value: Any) -> Any:
    """*value* as a job's result is stored: through JSON (a tuple comes back a list)."""
    try:
        return json.loads(encode_result(value))
    except TypeError:
        return repr(value)


def reports(records: Sequence[JobRecord]) -> list[ShadowReport]:
    """The comparisons in finished shadow jobs, newest first."""
    found = []
    for record in records:
        data = record.result
        if record.status is not Status.SUCCEEDED or not isinstance(data, dict):
            continue
        found.append(ShadowReport(
            record.id, int(data.get("real_job_id", 0)), bool(data.get("same_path")),
            bool(data.get("same_result")), data.get("real_path"), str(data.get("shadow_path")),
            data.get("real_result"), data.get("shadow_result"), data.get("shadow_error"),
            data.get("real_error"),
        ))
    return found
