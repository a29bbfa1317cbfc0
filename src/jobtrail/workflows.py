"""Workflows: job calls prepared without enqueueing them, run in a chain or as a group
whose callback runs once when all of them succeeded.

```python
app.chain(fetch.prepare(url=u), parse.prepare(url=u), index.prepare(url=u))
app.group([resize.prepare(image=i) for i in images], then=publish.prepare(album=7),
          on_failure=alert.prepare(album=7))
```

A `Call` (`JobDef.prepare`) is checked against its job's signature at once; nothing is
stored until `chain` or `group` stores the whole workflow in one transaction. A group's
``then`` call is enqueued once with the keyword ``results``: its members' results in
order; if a member ends dead (or orphaned, or cancelled), ``then`` never runs, the
workflow is failed and ``on_failure`` is enqueued instead, once. A chain enqueues each
call once the one before it succeeded, as its child. Every call of a workflow shares one
trace id. How the store decides, once, what follows: `jobtrail.store.workflows`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from jobtrail.errors import ArgumentError
from jobtrail.handle import JobHandle
from jobtrail.store.base import Enqueued, NewJob, Store
from jobtrail.store.workflows import WorkflowRecord

if TYPE_CHECKING:
    from jobtrail.jobs import JobDef
    from jobtrail.observe.tracing import Tracing

#: Enqueue options a prepared call may carry, as ``enqueue`` takes them.
CALL_OPTIONS = frozenset({"delay", "priority", "idempotency_key"})
#: The keyword a group's ``then`` call receives its members' results by.
RESULTS = "results"


class Call:
    """A call of a job type, checked but not stored (`JobDef.prepare`)."""

    __slots__ = ("args", "definition", "kwargs", "options", "takes_results")

    def __init__(self, definition: JobDef[Any, Any], args: tuple[Any, ...],
                 kwargs: Mapping[str, Any]) -> None:
        self.definition = definition
        self.options = {key: kwargs[key] for key in kwargs if key in CALL_OPTIONS}
        unknown = [key for key in kwargs if key in {"connection", "run_at", "wait"}]
        if unknown:
            raise ArgumentError(
                f"job {definition.name!r}: prepare() takes no {unknown[0]}= (a workflow is "
                "stored in a transaction of its own, each call when it is due)")
        self.args = args
        self.kwargs = {key: value for key, value in kwargs.items() if key not in CALL_OPTIONS}
        self.takes_results = RESULTS in definition.signature.parameters
        try:
            self.build(None)
        except ArgumentError:
            if not self.takes_results or RESULTS in self.kwargs:
                raise
            self.build(None, results=True)  # the arguments of a group's then= call

    def build(self, trace_id: str | None, *, results: bool = False) -> NewJob:
        """The job to store; with *results*, holding an empty ``results`` that the workflow
        fills in when it is due."""
        kwargs = {**self.kwargs, RESULTS: []} if results else self.kwargs
        return self.definition.build(self.args, kwargs, trace_id=trace_id, **self.options)

    def __repr__(self) -> str:
        return f"<Call {self.definition.name}>"


class WorkflowHost(Protocol):
    """What a workflow needs of the app (an `App`)."""

    @property
    def store(self) -> Store: ...
    @property
    def tracing(self) -> Tracing: ...


@dataclass(frozen=True)
class WorkflowHandle:
    """A stored workflow: its id, kind, and the handles of the jobs enqueued at once (a
    group's members, a chain's first call)."""

    id: int
    kind: str
    jobs: list[JobHandle]
    store: Store

    def state(self) -> WorkflowRecord:
        """The workflow as the store holds it now: ``waiting``, ``done`` or ``failed``, and
        the job enqueued after it once decided."""
        return self.store.workflow(self.id)


def chain(host: WorkflowHost, calls: Sequence[Call]) -> WorkflowHandle:
    """Store *calls* as a chain: the first enqueued now, each next one once the one before
    it succeeded."""
    checked = _calls("app.chain", calls)
    if not checked:
        raise ArgumentError("app.chain needs at least one call (made with JobDef.prepare)")
    trace = os.urandom(16).hex()
    first = checked[0].build(trace)
    rest = [call.build(trace) for call in checked[1:]]
    return _stored(host, "chain", [first], rest, None, trace, checked[:1])


def group(host: WorkflowHost, calls: Iterable[Call], *, then: Call | None = None,
          on_failure: Call | None = None) -> WorkflowHandle:
    """Store *calls* as a group, each enqueued now; *then* is enqueued once, with
    ``results=``, when all succeeded; *on_failure* once, when one failed for good."""
    members = _calls("app.group", list(calls))
    if not members:
        raise ArgumentError("app.group needs at least one call (made with JobDef.prepare)")
    for option, call in (("then", then), ("on_failure", on_failure)):
        if call is not None and not isinstance(call, Call):
            raise ArgumentError(
                f"app.group: {option}= must be a call made with JobDef.prepare, got {call!r}")
    if then is not None and not then.takes_results:
        raise ArgumentError(
            f"app.group: then={then.definition.name} takes no parameter named {RESULTS!r}: "
            "a group's callback is called with its members' results")
    trace = os.urandom(16).hex()
    built = [call.build(trace) for call in members]
    after = [] if then is None else [then.build(trace, results=True)]
    failure = None if on_failure is None else on_failure.build(trace)
    return _stored(host, "group", built, after, failure, trace, members)


def _calls(where: str, calls: Sequence[Any]) -> list[Call]:
    for index, call in enumerate(calls):
        if not isinstance(call, Call):
            raise ArgumentError(
                f"{where}: call {index} must be made with JobDef.prepare(...), got {call!r}")
    return list(calls)


def _stored(host: WorkflowHost, kind: str, members: list[NewJob], after: list[NewJob],
            failure: NewJob | None, trace: str, calls: Sequence[Call]) -> WorkflowHandle:
    stored: list[int] = []

    def store(jobs: list[NewJob]) -> list[Enqueued]:  # the members, traced when on
        members_now, later = jobs[:len(members)], jobs[len(members):]
        workflow_id, ids = host.store.enqueue_workflow(
            kind, members_now, later[:len(after)], later[len(after)] if failure else None,
            members_now[0].trace_id or trace)
        stored.append(workflow_id)
        return ids

    everyone = members + after + ([failure] if failure is not None else [])
    ids = host.tracing.send(members[0].queue, everyone, store, linked=len(members) > 1)
    workflow_id = stored[0]
    handles = [call.definition._handle(job_id) for call, job_id in zip(calls, ids, strict=True)]
    return WorkflowHandle(workflow_id, kind, handles, host.store)
