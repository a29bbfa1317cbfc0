"""Workflows in the store: groups and chains, and the one decision of what follows each.

A workflow is a row of ``jobtrail_groups`` and its members, jobs that carry its id and
their place in it. The row holds the calls to enqueue once every member succeeded
(``then_calls``, as `NewJob` values in JSON) and the call to enqueue if one fails
(``on_failure``):

- a **group** enqueues its one ``then`` call with the keyword ``results``: the members'
  results, in their order;
- a **chain** ``a, b, c`` is a workflow of the member ``a`` whose ``then_calls`` are
  ``b, c``: once ``a`` succeeded, ``b`` is enqueued as the member of a new chain workflow
  whose ``then_calls`` are ``c`` — and the last call is enqueued on its own.

The decision (`verdict`) is taken once, by whoever first sees it due: the worker that
wrote a member's final outcome, or the sweep every worker runs now and then (for members
that ended some other way: a lease that ran out on the last attempt, an operator's
cancel, a worker killed between its outcome and the decision). It moves the row out of
``waiting`` and enqueues what follows in one transaction, with the row locked, so two
members finishing at once, or two sweeps, never enqueue it twice, and a crash loses
nothing: the row stays ``waiting`` until a decision commits.

A member that ends ``dead``, ``orphaned`` or ``cancelled`` fails its workflow at once,
even while others still run (they finish; nothing follows them). A failed workflow stays
failed: replaying the dead member later runs it, not what followed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, Literal

from jobtrail.errors import IdempotencyConflict
from jobtrail.records import Status
from jobtrail.store.values import Enqueued, NewJob

State = Literal["waiting", "done", "failed"]
#: Member statuses that fail a workflow.
FAILED = frozenset({Status.DEAD.value, Status.ORPHANED.value, Status.CANCELLED.value})
#: Workflows one sweep decides at most.
SWEEP_LIMIT = 100


def call_json(job: NewJob) -> dict[str, Any]:
    """A call as stored in a workflow row."""
    stored = asdict(job)
    stored["run_at"] = None if job.run_at is None else job.run_at.isoformat()
    stored["redact"] = list(job.redact)
    return stored


def call_from_json(stored: dict[str, Any]) -> NewJob:
    """The call *stored* by `call_json`."""
    values = dict(stored)
    values["run_at"] = None if values.get("run_at") is None else datetime.fromisoformat(
        values["run_at"])
    values["redact"] = tuple(values.get("redact") or ())
    return NewJob(**values)


def calls_text(calls: Sequence[NewJob]) -> str:
    """The ``then_calls`` column of *calls*."""
    return json.dumps([call_json(call) for call in calls])


@dataclass(frozen=True, slots=True)
class Following:
    """What a decided workflow enqueues: jobs on their own (*plain*), and, for a chain
    that goes on, its next member with the calls after it (*member*, *rest*)."""

    state: State
    plain: list[NewJob]
    member: NewJob | None = None
    rest: list[NewJob] | None = None


def verdict(total: int, statuses: Sequence[str]) -> State:
    """A workflow's state from its members' statuses."""
    if any(status in FAILED for status in statuses):
        return "failed"
    done = sum(1 for status in statuses if status == Status.SUCCEEDED.value)
    return "done" if done >= total else "waiting"


def following(kind: str, state: State, then_calls: str, on_failure: str | None,
              results: Sequence[str | None], parent: int | None = None) -> Following:
    """What a workflow decided *state* enqueues. *results* are its members' results (JSON
    text), in order; *parent* the job a chain's next call is the child of."""
    if state == "failed":
        return Following(state, [] if on_failure is None
                         else [call_from_json(json.loads(on_failure))])
    calls = [call_from_json(stored) for stored in json.loads(then_calls)]
    if parent is not None:
        calls[:1] = [replace(call, parent_job_id=parent) for call in calls[:1]]
    if not calls:
        return Following(state, [])
    if kind == "group":
        then = calls[0]
        payload = json.loads(then.payload)
        payload["results"] = [None if r is None else json.loads(r) for r in results]
        return Following(state, [replace(then, payload=json.dumps(payload))])
    first, rest = calls[0], calls[1:]
    if not rest:
        return Following(state, [first])
    return Following(state, [], first, rest)


@dataclass(frozen=True, slots=True)
class WorkflowRecord:
    """A workflow as the store holds it: its state and, once decided, the job enqueued
    after it (``then``, the chain's next call, or ``on_failure``)."""

    id: int
    kind: str
    total: int
    state: State
    next_job_id: int | None


#: Runs the step of a workflow query named by its first argument with the parameters of
#: its second, in the backend's open transaction, and returns its rows.
Run = Callable[[str, dict[str, Any]], list[tuple[Any, ...]]]
#: Stores jobs in the same transaction (the backend's enqueue): their ids.
Insert = Callable[[Sequence[NewJob]], list[Enqueued]]
#: How a list of ids travels as a parameter (SQLite: JSON text; PostgreSQL: an array).
Ids = Callable[[list[int]], Any]


def create(run: Run, insert: Insert, kind: str, members: Sequence[NewJob],
           then_calls: Sequence[NewJob], on_failure: NewJob | None, trace_id: str | None,
           now: Any) -> tuple[int, list[Enqueued]]:
    """Store a workflow and its members (in the caller's transaction): its id, theirs."""
    enqueued = insert(members)
    [(group_id,)] = run("group", {
        "kind": kind, "total": len(members), "then_calls": calls_text(then_calls),
        "on_failure": None if on_failure is None else json.dumps(call_json(on_failure)),
        "trace_id": trace_id, "now": now})
    for index, job_id in enumerate(enqueued):
        if not run("member", {"group_id": group_id, "group_index": index, "id": int(job_id)}):
            raise IdempotencyConflict(
                f"job {int(job_id)} holds the idempotency key of member {index} of a new "
                "workflow and belongs to another workflow: a job is a member of one "
                "workflow at most")
    return group_id, enqueued


def settle(run: Run, insert: Insert, ids: Ids, group_ids: Sequence[int] | None,
           now: Any) -> list[tuple[int, State]]:
    """Decide the workflows *group_ids* (``None``: those a sweep finds due), in the
    caller's transaction: each one's state, and what follows it enqueued."""
    if group_ids is None:
        group_ids = [row[0] for row in run("due", {"limit": SWEEP_LIMIT})]
    if not group_ids:
        return []
    wanted = ids(sorted(set(group_ids)))
    groups = run("groups", {"ids": wanted})
    if not groups:
        return []
    members: dict[int, list[tuple[int, str, str | None]]] = {}
    for group_id, job_id, status, result in run("members", {"ids": wanted}):
        members.setdefault(group_id, []).append((job_id, status, result))
    decided: list[tuple[int, State]] = []
    for group_id, kind, total, then_calls, on_failure in groups:
        found = members.get(group_id, [])
        state = verdict(total, [status for _, status, _ in found])
        if state == "waiting":
            continue
        # A chain's next call is the child of the member before it.
        parent = found[-1][0] if kind == "chain" and found else None
        after = following(kind, state, then_calls, on_failure, [r for _, _, r in found],
                          parent)
        next_job: int | None = None
        if after.plain:
            next_job = int(insert(after.plain)[0])
        if after.member is not None:
            next_job = create(run, insert, "chain", [after.member], after.rest or [],
                              None, after.member.trace_id, now)[1][0]
        run("decide", {"state": state, "now": now, "next_job_id": next_job, "id": group_id})
        decided.append((group_id, state))
    return decided
