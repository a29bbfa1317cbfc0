"""Turn database rows into jobtrail's values, the same way for every backend."""

from __future__ import annotations

import json
import secrets
import shlex
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from jobtrail.errors import IdempotencyConflict, InvalidTransition, JobNotFound
from jobtrail.job import DivergenceRecord, ErrorInfo, JobRecord, RunRecord, Status
from jobtrail.store.base import EffectRecord, Outcome

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
    )


def transition_attrs(outcome_error: ErrorInfo | None, **extra: Any) -> str | None:
    """The attributes stored on a lifecycle event: the error class and anything extra."""
    attrs = {key: value for key, value in extra.items() if value is not None}
    if outcome_error is not None:
        attrs["error"] = outcome_error.type
        attrs["message"] = outcome_error.message[:500]
    return json.dumps(attrs) if attrs else None


def lease_error(worker: str | None, attempts: int, max_attempts: int) -> ErrorInfo:
    """Why a job left its worker: the lease ran out (maybe on the last attempt)."""
    spent = " and no attempts remain" if attempts >= max_attempts else ""
    return ErrorInfo(
        "LeaseExpired",
        f"worker {worker} stopped renewing its lease during attempt {attempts}{spent}",
    )


def key_holder(
    key: str,
    new_hash: str | None,
    holder_id: int,
    holder_hash: str | None,
    finished_at: float | None,
    now: float,
    retention: float | None,
) -> int | None:
    """Decide what an enqueue with idempotency *key* gets, given the job holding the key.

    Returns the holder's id (deduplicate), or ``None`` when the holder finished more than
    *retention* seconds ago and the key is free again. Raises `IdempotencyConflict` when
    the payloads differ: the caller reused a key for different work, which is a bug.
    """
    if finished_at is not None and retention is not None and finished_at + retention < now:
        return None
    if holder_hash != new_hash:
        raise IdempotencyConflict(
            f"idempotency key {key!r} belongs to job {holder_id} with payload hash "
            f"{(holder_hash or '')[:16]}, not {(new_hash or '')[:16]}: one key must always "
            "carry the same arguments"
        )
    return holder_id


def effect_record(row: Sequence[Any], to_time: ToTime) -> EffectRecord:
    """Build an `EffectRecord` from (key, job_id, name, attempt, status, repeat_safe,
    result, error, started_at, finished_at, claim)."""
    key, job_id, name, attempt, status, repeat_safe, result, error, started, finished, claim = row
    started_at = to_time(started)
    assert started_at is not None
    return EffectRecord(
        key, job_id, name, attempt, status, bool(repeat_safe), result, error, started_at,
        to_time(finished), claim,
    )


def claim_token() -> int:
    """A new claim's identity: random, so that no claim ever takes another's — not after a
    replay or a release (which count the attempt again), nor after a PostgreSQL crash that
    lost a claim whose commit had not reached the disk (the same job, claimed anew, then
    gets the same attempt number). 62 random bits: positive, and a 64-bit integer."""
    return secrets.randbits(62) + 1


def effect_is_uncertain(existing: EffectRecord, job_id: int, claim: int) -> bool:
    """True when *existing* was begun and never ended by another claim than *claim* of job
    *job_id*: nobody knows whether it happened. Only the claim that began an effect may
    take its ``started`` record for its own (a retried write of its intent)."""
    return existing.status == "started" and (existing.job_id, existing.claim) != (job_id, claim)


def after_lost_lease(attempts: int, max_attempts: int) -> Status:
    """Where a job goes when the attempt holding it is lost: retried, unless it was the
    last attempt allowed."""
    return Status.DEAD if attempts >= max_attempts else Status.RETRYING


def replay_blocker(job_id: int, effects: Sequence[EffectRecord]) -> InvalidTransition | None:
    """Why job *job_id* may not be replayed yet, given its *effects*: an effect that began
    and never ended (and is not safe to repeat) could be performed a second time. ``None``
    when nothing stands in the way."""
    for effect in effects:
        if effect.status == "started" and not effect.repeat_safe:
            return InvalidTransition(
                f"cannot replay job {job_id}: its effect {effect.name!r} (key {effect.key!r}) "
                f"was begun by attempt {effect.attempt} and its end was never recorded, so it "
                "may have happened. Check, record what happened with "
                f"app.resolve_effect({job_id}, {effect.name!r}, 'done' or 'not_done') or "
                f"`jobtrail dlq resolve {job_id} {shlex.quote(effect.name)} done|not_done`, "
                "then replay"
            )
    return None


def effect_to_resolve(job_id: int, name: str, found: list[EffectRecord]) -> EffectRecord:
    """The effect named *name* of a job that an operator may resolve, or a clear error."""
    named = [effect for effect in found if effect.name == name]
    if not named:
        known = ", ".join(sorted({effect.name for effect in found})) or "none"
        raise JobNotFound(f"job {job_id} has no effect named {name!r} (its effects: {known})")
    effect = named[-1]
    if effect.status == "done":
        raise InvalidTransition(
            f"effect {name!r} of job {job_id} (key {effect.key!r}) is already done"
        )
    return effect


def divergence_rows(out: Outcome) -> list[tuple[Any, ...]]:
    """The ``jobtrail_divergences`` rows of a finished run (the store adds the time):
    (job_id, job_name, attempt, kind, position, found, expected, message)."""
    run = out.run
    if run is None:
        return []
    return [
        (out.job_id, run.job_name, out.attempt, f.kind, f.position, f.found,
         json.dumps(list(f.expected)), f.message)
        for f in run.findings
    ]


def divergence_record(row: Sequence[Any], to_time: ToTime) -> DivergenceRecord:
    """Build a `DivergenceRecord` from (id, job_id, job_name, attempt, kind, position,
    found, expected, message, at)."""
    id_, job_id, job_name, attempt, kind, position, found, expected, message, at = row
    try:
        names = tuple(str(name) for name in json.loads(expected or "[]"))
    except (TypeError, ValueError):
        names = (str(expected),)
    when = to_time(at)
    assert when is not None
    return DivergenceRecord(id_, job_id, job_name, attempt, kind, position, found, names,
                            message, when)


def run_record(row: Sequence[Any], to_time: ToTime) -> RunRecord:
    """Build a `RunRecord` from (id, job_name, status, outcome, variant, code_version,
    created_at, started_at, finished_at, parent_job_id)."""
    id_, job_name, status, outcome, variant, version, created, started, finished, parent = row
    created_at, finished_at = to_time(created), to_time(finished)
    assert created_at is not None and finished_at is not None
    return RunRecord(id_, job_name, Status(status), outcome, variant or "", version,
                     created_at, to_time(started), finished_at, parent)
