"""Turn database rows into jobtrail's values, the same way for every backend."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from jobtrail.records import Divergence, DivergenceKind, ErrorInfo, JobRecord, RunRecord, Status
from jobtrail.store.base import EffectRecord, Outcome, RunSummary

ToTime = Callable[[Any], datetime | None]


def decode_json(text: str | None) -> Any:
    """Decode stored JSON; ``None`` stays ``None``."""
    return None if text is None else json.loads(text)


def job_record(row: Mapping[str, Any], to_time: ToTime) -> JobRecord:
    """Build a `JobRecord` from a full ``jobtrail_jobs`` row.

    A payload or result that is not valid JSON (a damaged row) does not raise: the
    arguments read as ``None`` and the raw text stays available.
    """
    try:
        args = json.loads(row["payload"])
        if not isinstance(args, dict):
            args = None
    except (TypeError, ValueError):
        args = None
    try:
        result = decode_json(row["result"])
    except ValueError:
        result = row["result"]
    created = to_time(row["created_at"])
    run_at = to_time(row["run_at"])
    assert created is not None and run_at is not None
    return JobRecord(
        id=row["id"],
        job_name=row["job_name"],
        queue=row["queue"],
        status=Status(row["status"]),
        priority=row["priority"],
        args=args,
        raw_payload=row["payload"],
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        created_at=created,
        run_at=run_at,
        started_at=to_time(row["started_at"]),
        finished_at=to_time(row["finished_at"]),
        worker_id=row["worker_id"],
        result=result,
        error=ErrorInfo.from_json(row["error"]),
        parent_job_id=row["parent_job_id"],
        trace_id=row["trace_id"],
        outcome=row["outcome"],
        variant=row["variant"],
        code_version=row["code_version"],
        redact=redacted_fields(row["redact"], args),
    )


def redact_text(fields: Sequence[str]) -> str | None:
    """The ``redact`` column of a job whose sensitive fields are *fields*: a JSON list of
    names, ``None`` for none."""
    return json.dumps(list(dict.fromkeys(fields))) if fields else None


def redacted_fields(text: str | None, args: dict[str, Any] | None) -> frozenset[str]:
    """The sensitive fields a ``redact`` column names. A damaged value masks every field
    of the arguments: better a view that shows too little than one that shows a secret."""
    if text is None:
        return frozenset()
    try:
        names = json.loads(text)
    except ValueError:
        names = None
    if isinstance(names, list) and all(isinstance(name, str) for name in names):
        return frozenset(names)
    return frozenset(args or ())


def milestones_text(run: RunSummary | None) -> str | None:
    """The ``milestones`` column of a run: JSON [[name, position], ...], ``None`` for none."""
    if run is None or not run.milestones:
        return None
    return json.dumps([[name, position] for name, position in run.milestones])


def milestones_of(text: str | None) -> tuple[tuple[str, int], ...]:
    """The milestones a ``milestones`` column holds; a damaged value holds none."""
    if not text:  # most runs: read by the thousand for a page
        return ()
    try:
        found = json.loads(text)
        return tuple((str(name), int(position)) for name, position in found)
    except (TypeError, ValueError):
        return ()


def transition_attrs(outcome_error: ErrorInfo | None, **extra: Any) -> str | None:
    """The attributes stored on a lifecycle event: the error class and anything extra."""
    attrs = {key: value for key, value in extra.items() if value is not None}
    if outcome_error is not None:
        attrs["error"] = outcome_error.type
        attrs["message"] = outcome_error.message[:500]
    return json.dumps(attrs) if attrs else None


def outcome_attrs(out: Outcome) -> str | None:
    """The attributes of the lifecycle event of an attempt's outcome: its error class,
    retry delay and outcome, and what the attempt used (CPU seconds, peak memory). A plain
    success, the usual case, is written without ``json.dumps``."""
    if out.error is None and out.retry_delay is None and out.outcome is None:
        cpu, rss = out.cpu, out.max_rss
        if cpu is None or rss is None or not math.isfinite(cpu):
            return transition_attrs(None, cpu=cpu, max_rss=rss)
        return f'{{"cpu": {float(cpu)!r}, "max_rss": {int(rss)}}}'
    return transition_attrs(out.error, delay=out.retry_delay, outcome=out.outcome, cpu=out.cpu,
                            max_rss=out.max_rss)


def effect_record(row: Sequence[Any], to_time: ToTime) -> EffectRecord:
    """Build an `EffectRecord` from (key, job_id, name, attempt, status, repeat_safe,
    result, error, started_at, finished_at, claim, repeated)."""
    (key, job_id, name, attempt, status, repeat_safe, result, error, started, finished, claim,
     repeated) = row
    started_at = to_time(started)
    assert started_at is not None
    return EffectRecord(
        key, job_id, name, attempt, status, bool(repeat_safe), result, error, started_at,
        to_time(finished), claim, bool(repeated),
    )


def divergence_rows(out: Outcome) -> list[tuple[Any, ...]]:
    """The ``jobtrail_divergences`` rows of a finished run (the store adds the time):
    (job_id, job_name, attempt, kind, position, found, expected, message)."""
    return [] if out.run is None else run_divergence_rows(out.job_id, out.attempt, out.run)


def run_divergence_rows(job_id: int, attempt: int, run: RunSummary) -> list[tuple[Any, ...]]:
    """The ``jobtrail_divergences`` rows of *run*, attempt *attempt* of job *job_id*."""
    return [
        (job_id, run.job_name, attempt, str(f.kind), f.position, f.found,
         json.dumps(list(f.expected)), f.message)
        for f in run.findings
    ]


def divergence_record(row: Sequence[Any], to_time: ToTime) -> Divergence:
    """Build a `Divergence` from (id, job_id, job_name, attempt, kind, position,
    found, expected, message, at)."""
    id_, job_id, job_name, attempt, kind, position, found, expected, message, at = row
    try:
        names = tuple(str(name) for name in json.loads(expected or "[]"))
    except (TypeError, ValueError):
        names = (str(expected),)
    when = to_time(at)
    assert when is not None
    return Divergence(divergence_kind(kind), message, position, found, names,
                      job_id=job_id, job_name=job_name, attempt=attempt, id=id_, at=when)


def divergence_kind(text: str) -> DivergenceKind:
    """The kind of a stored divergence; one this version does not know (written by a newer
    one) is kept as its text rather than refused."""
    try:
        return DivergenceKind(text)
    except ValueError:
        return text  # type: ignore[return-value]


def run_record(row: Sequence[Any], to_time: ToTime) -> RunRecord:
    """Build a `RunRecord` from (id, job_name, status, outcome, variant, code_version,
    created_at, started_at, finished_at, parent_job_id, milestones)."""
    (id_, job_name, status, outcome, variant, version, created, started, finished, parent,
     milestones) = row
    created_at, finished_at = to_time(created), to_time(finished)
    assert created_at is not None and finished_at is not None
    return RunRecord(id_, job_name, Status(status), outcome, variant or "", version,
                     created_at, to_time(started), finished_at, parent,
                     milestones_of(milestones))


def submitted_attrs(payload: str, actor: str | None) -> str:
    """The attributes of a job's ``enqueued`` event: the SHA-256 of its payload as stored
    (never the payload) and who submitted it, if known — the same text as PostgreSQL's
    ``jobtrail_submitted``."""
    digest = hashlib.sha256(payload.encode()).hexdigest()
    if actor is None:
        return f'{{"payload_sha256":"{digest}"}}'
    return f'{{"payload_sha256":"{digest}","actor":{json.dumps(actor)}}}'
