"""The decisions both backends take the same way, whatever SQL carries them out: who holds
an idempotency key, where a job goes when its lease is lost, whether an effect is
uncertain, which operator actions a job's status allows, and how an action on a batch of
jobs goes job by job.

Each backend reads what a decision needs, calls the function here, and writes the result
in the same transaction: the policy lives once, the SQL twice.
"""

from __future__ import annotations

import json
import secrets
import shlex
from collections.abc import Callable, Mapping, Sequence

from jobtrail.errors import IdempotencyConflict, InvalidTransition, JobNotFound, QueueFull
from jobtrail.limits import MAX_JOB_ID
from jobtrail.records import ErrorInfo, JobRecord, Status, Transition
from jobtrail.store.actions import ActionResult, ActionVerdict
from jobtrail.store.base import EffectRecord, NewJob


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


def refusal(
    transition: Transition, current: JobRecord,
    effects: Callable[[], Sequence[EffectRecord]],
) -> tuple[ActionVerdict, InvalidTransition] | None:
    """Why *transition* may not apply to *current* (the job, locked), with the verdict a
    batch reports: its status (``status``), or for a replay an effect that may have happened
    (``uncertain``; *effects* reads the job's effects, only then). ``None`` when it may."""
    refused = transition_refusal(transition, current.id, current.status)
    if refused is not None:
        return "status", refused
    if transition.resets:
        blocker = replay_blocker(current.id, effects())
        if blocker is not None:
            return "uncertain", blocker
    return None


def act_on_each(
    job_ids: Sequence[int],
    transition: Transition,
    lock: Callable[[int], JobRecord],
    effects: Callable[[int], Sequence[EffectRecord]],
    apply: Callable[[JobRecord], JobRecord],
) -> list[ActionResult]:
    """Apply *transition* to each job of a batch, inside the caller's transaction: *lock*
    reads a job for update (raising `JobNotFound`), *effects* reads its effects, *apply*
    changes it and returns it changed. A job that cannot take the transition is reported
    and left as it is, and the others go on.

    Jobs are locked in id order, so two batches that share jobs never wait on each other
    in a circle; the results come one per distinct id, in the order given. An id no store
    can hold is not found without a query."""
    results: dict[int, ActionResult] = {}
    for job_id in sorted(set(job_ids)):
        if not 1 <= job_id <= MAX_JOB_ID:
            results[job_id] = ActionResult(job_id, "not_found", None, f"no job with id {job_id}")
            continue
        try:
            current = lock(job_id)
        except JobNotFound as exc:
            results[job_id] = ActionResult(job_id, "not_found", None, str(exc))
            continue
        refused = refusal(transition, current, lambda: effects(job_id))  # noqa: B023
        if refused is not None:
            verdict, error = refused
            results[job_id] = ActionResult(job_id, verdict, current, str(error))
        else:
            results[job_id] = ActionResult(job_id, "done", apply(current))
    return [results[job_id] for job_id in dict.fromkeys(job_ids)]


#: Where a stored error's class ends (`ErrorInfo.to_json` writes ``{"type": "NAME", "message":
#: ...``): the class's JSON text cannot hold it, each of its quotes being escaped.
ERROR_TYPE_HEAD = '{"type": "'
ERROR_TYPE_END = '", "message": '


def error_type_text(name: str) -> str:
    """*name* (an error class) as a stored error spells it: JSON-escaped, unquoted. The
    stores compare it with the text between `ERROR_TYPE_HEAD` and `ERROR_TYPE_END`."""
    return json.dumps(name)[1:-1]


def depth_checks(jobs: Sequence[NewJob], max_depth: Mapping[str, int] | None
                 ) -> list[tuple[str, int, int]]:
    """The queues of *jobs* that have a max_depth, sorted (so that locks are taken in one
    order): (queue, max_depth, how many of *jobs* go there)."""
    if not max_depth:
        return []
    adding: dict[str, int] = {}
    for job in jobs:
        if job.queue in max_depth:
            adding[job.queue] = adding.get(job.queue, 0) + 1
    return [(queue, max_depth[queue], count) for queue, count in sorted(adding.items())]


def check_depth(queue: str, limit: int, adding: int, depth_after: int) -> None:
    """Raise `QueueFull` when *queue* holds more than *limit* waiting jobs once the
    *adding* jobs are in (*depth_after*, counted up to ``limit + adding``)."""
    if depth_after > limit:
        raise QueueFull(queue, max(0, depth_after - adding), limit, adding)
