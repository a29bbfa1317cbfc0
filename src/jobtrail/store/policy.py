"""The decisions both backends take the same way, whatever SQL carries them out: who holds
an idempotency key, where a job goes when its lease is lost, whether an effect is
uncertain, and which operator actions a job's status allows.

Each backend reads what a decision needs, calls the function here, and writes the result
in the same transaction: the policy lives once, the SQL twice.
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Sequence

from jobtrail.errors import IdempotencyConflict, InvalidTransition, JobNotFound
from jobtrail.records import ErrorInfo, Status, Transition
from jobtrail.store.base import EffectRecord


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


def begun_by(existing: EffectRecord, job_id: int, claim: int) -> bool:
    """True when *existing* is the intent *claim* of job *job_id* recorded and has not ended:
    a retried write of it, whose answer was lost — the path segment went with the first."""
    return existing.status == "started" and (existing.job_id, existing.claim) == (job_id, claim)


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


def transition_refusal(
    transition: Transition, job_id: int, status: Status
) -> InvalidTransition | None:
    """Why *transition* may not apply to job *job_id*, which is *status* now; ``None``
    when it may."""
    if status in transition.sources:
        return None
    return InvalidTransition(
        f"cannot {transition.verb} job {job_id}: it is {status.value}, expected "
        f"{' or '.join(source.value for source in transition.sources)}"
    )
