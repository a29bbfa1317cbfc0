"""Job definitions: what ``@app.job`` makes of a function, and how jobs are enqueued.

A `JobDef` belongs to a `JobHost` (its `App`): the store it enqueues into, the limits it
checks payloads against, the observers it tells of what it stored. It does not import
the app, nor anything that runs jobs.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Generic, ParamSpec, Protocol, TypeVar

from jobtrail.catalog import Catalog
from jobtrail.dryrun import DryRun, dry_run
from jobtrail.encryption import Keyring
from jobtrail.enqueuing import Enqueuing
from jobtrail.errors import ArgumentError, ExpectationError, JobDefinitionError, PayloadTooLarge
from jobtrail.expect import Expectation, parse
from jobtrail.flow import JobLimits, check_wait, concurrency_key_of, enqueue_with_room
from jobtrail.guarantee import Guarantee, check_guarantee, derive_guarantee
from jobtrail.handle import JobHandle
from jobtrail.limits import check_key, check_options, check_timeout, priority_problem
from jobtrail.observe.tracing import Tracing
from jobtrail.observers import EnqueuedJob, Observer
from jobtrail.payload import encode_payload
from jobtrail.records import JobRecord
from jobtrail.redaction import Redactor
from jobtrail.retry import Retry
from jobtrail.schedules import Schedule
from jobtrail.secrecy import CONCURRENCY_KEY, IDEMPOTENCY_KEY, opened_values, sealed_key
from jobtrail.signature import JobSignature
from jobtrail.store.base import Enqueued, NewJob, Store
from jobtrail.text import name_error, shown
from jobtrail.workflows import Call

P = ParamSpec("P")
R = TypeVar("R")

#: Keyword arguments of ``enqueue`` that are options, not job arguments.
ENQUEUE_OPTIONS = frozenset({"delay", "run_at", "priority", "connection", "idempotency_key",
                             "wait"})

KeyFunction = Callable[..., str]



class JobHost(Protocol):
    """What a job type needs of the app that declares it (an `App`)."""

    @property
    def store(self) -> Store: ...
    @property
    def max_payload_bytes(self) -> int: ...
    @property
    def max_depths(self) -> Mapping[str, int]: ...
    @property
    def idempotency_retention(self) -> float | None: ...
    @property
    def observers(self) -> Observer: ...
    @property
    def tracing(self) -> Tracing: ...
    @property
    def keyring(self) -> Keyring | None: ...

    def get(self, job_id: int) -> JobRecord:
        """The job with this id, with its path (for the handles of enqueued jobs)."""
        ...

    def wait(self, job_id: int, *, timeout: float | None = None) -> JobRecord:
        """The job once it is in a final status (for the handles of enqueued jobs)."""
        ...

    async def wait_async(self, job_id: int, *, timeout: float | None = None) -> JobRecord:
        """`wait` without blocking the event loop."""
        ...


class JobDef(Generic[P, R]):
    """A job type: the function, its options and its checked signature.

    Made by ``@app.job``. ``enqueue(...)`` takes the function's own arguments (without
    the `Context`), checked against its type hints before anything is stored.
    """

    def __init__(
        self,
        host: JobHost,
        fn: Callable[..., Any],
        *,
        name: str,
        queue: str,
        retry: Retry,
        timeout: float | None,
        priority: int,
        idempotency_key: KeyFunction | None = None,
        guarantee: Guarantee | None = None,
        expect: str | None = None,
        redact: Iterable[str] = (),
        schedule: Schedule | None = None,
        catalog: Catalog | None = None,
        limits: JobLimits | None = None,
        breaker: str | None = None,
    ) -> None:
        if not callable(fn):
            raise JobDefinitionError(f"@app.job needs a function, got {fn!r}")
        problem = name_error("job name", name)
        if problem:
            raise JobDefinitionError(f"@app.job: {problem}")
        problem = name_error("queue", queue)
        if problem:
            raise JobDefinitionError(f"job {name!r}: {problem}")
        if timeout is not None:
            check_timeout(name, timeout)
        if not isinstance(retry, Retry):
            raise JobDefinitionError(f"job {name!r}: retry must be a Retry(...), got {retry!r}")
        problem = priority_problem(priority)
        if problem:
            raise JobDefinitionError(f"job {name!r}: priority {problem}")
        if idempotency_key is not None and not callable(idempotency_key):
            raise JobDefinitionError(
                f"job {name!r}: idempotency_key must be a function of the job's arguments "
                f"returning a str, got {idempotency_key!r}"
            )
        self.host = host
        self.fn = fn
        self.name = name
        self.queue = queue
        self.retry = retry
        self.timeout = float(timeout) if timeout is not None else None
        self.priority = priority
        self.key_function = idempotency_key
        self.declared_guarantee = check_guarantee(name, guarantee)
        self.expectation = _compile_expectation(name, expect)
        self.redact = _check_redact(name, redact)
        self._redact_stored = tuple(sorted(self.redact))
        self.is_async = inspect.iscoroutinefunction(fn)
        self.signature = JobSignature(fn, name, ENQUEUE_OPTIONS)
        self.schedule = schedule
        self.catalog = catalog or Catalog()
        self.limits = limits or JobLimits()
        self.breaker = breaker
        if schedule is not None:
            self._check_periodic()
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def _check_periodic(self) -> None:
        """A periodic job is enqueued with no arguments: they must all have defaults."""
        try:
            self.build((), {})
        except (ArgumentError, PayloadTooLarge) as exc:
            raise JobDefinitionError(
                f"job {self.name!r} is periodic, so the scheduler enqueues it without "
                f"arguments, and that is refused: {exc}") from None

    @property
    def guarantee(self) -> Guarantee:
        """The delivery guarantee: declared, or derived from the retry policy and effects."""
        return self.declared_guarantee or derive_guarantee(self)

    @property
    def takes_context(self) -> bool:
        """True when the function's first parameter is the `Context`."""
        return self.signature.takes_context

    def enqueue(
        self,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> JobHandle:
        """Store one job; options ``delay``, ``run_at``, ``priority``, ``idempotency_key``
        and ``connection`` (join the caller's open transaction) go beside the arguments.
        Raise `ArgumentError` when the arguments do not fit, `IdempotencyConflict` when
        the key is held by a job with other arguments."""
        options = _split_options(kwargs)
        connection = options.pop("connection", None)
        wait = check_wait(self.name, options.pop("wait", None))
        return self._store([self.build(args, kwargs, **options)], connection, wait)[0]

    def options(
        self,
        *,
        delay: float | None = None,
        run_at: datetime | None = None,
        priority: int | None = None,
        idempotency_key: str | None = None,
        connection: Any = None,
        wait: float | None = None,
    ) -> Enqueuing[P, R]:
        """This job type with enqueue options set, typed apart from the job's arguments:
        ``bill.options(delay=60, priority=5).enqueue(invoice_id=7)``. ``connection`` joins
        the caller's open transaction; ``wait`` is how long to wait for room in a full
        queue. The options are checked here (the key of a job that declares ``redact=`` at
        enqueue, where an error can mask what it quotes)."""
        check_options(self.name, delay, run_at, priority)
        if idempotency_key is not None and not self.redact:
            check_key(self.name, idempotency_key)
        return Enqueuing(self, {"delay": delay, "run_at": run_at, "priority": priority,
                                "idempotency_key": idempotency_key}, connection,
                         check_wait(self.name, wait))

    def _store(self, jobs: list[NewJob], connection: Any = None,
               wait: float | None = None) -> list[JobHandle]:
        """Store *jobs* (checked), tell the observers, and return their handles. A queue at
        its max_depth raises `QueueFull`, after waiting up to *wait* seconds for room."""
        store, depths = self.host.store, self.host.max_depths
        ids = self.host.tracing.send(self.queue, jobs, lambda traced: enqueue_with_room(
            lambda: store.enqueue(traced, connection=connection, max_depth=depths), wait))
        handles = [self._handle(job_id) for job_id in ids]
        observers = self.host.observers
        if observers:
            observers.enqueued([
                EnqueuedJob(job_id, self.name, job.queue, _deduplicated(job_id),
                            job.parent_job_id)
                for job_id, job in zip(ids, jobs, strict=True)
            ])
        return handles

    def _handle(self, job_id: int) -> JobHandle:
        return JobHandle(job_id, self.name, self.host, _deduplicated(job_id))

    def enqueue_many(
        self,
        items: Iterable[Mapping[str, Any]],
        *,
        delay: float | None = None,
        run_at: datetime | None = None,
        priority: int | None = None,
        connection: Any = None,
        wait: float | None = None,
    ) -> list[JobHandle]:
        """Store many jobs in one transaction; every item is checked before any is stored.
        A queue the batch would fill past its max_depth refuses all of it (`QueueFull`),
        after waiting up to *wait* seconds for room."""
        wait = check_wait(self.name, wait)
        jobs = []
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise ArgumentError(
                    f"job {self.name!r}: enqueue_many item {index} must be a dict of "
                    f"arguments, got {type(item).__name__}"
                )
            try:
                jobs.append(self.build((), item, delay=delay, run_at=run_at, priority=priority))
            except (ArgumentError, PayloadTooLarge) as exc:
                raise type(exc)(f"enqueue_many item {index}: {exc}") from exc
        if not jobs:
            return []
        return self._store(jobs, connection, wait)

    def prepare(self, *args: P.args, **kwargs: P.kwargs) -> Call:
        """This job called with these arguments, checked but not enqueued: a step of
        `App.chain`, a member or callback of `App.group` (see `jobtrail.workflows`)."""
        return Call(self, args, kwargs)

    def dry_run(self, *args: Any, effect_results: Mapping[str, Any] | None = None,
                **kwargs: Any) -> DryRun:
        """Run the job here with its effects captured, not performed, and nothing stored:
        returns the path it took, its divergences, the captured effects and child jobs,
        and its result or error. *effect_results* gives the stand-in result of an effect
        by name (default ``None``). See `jobtrail.dryrun`."""
        return dry_run(self, None, args, kwargs, effect_results=effect_results)

    def enqueue_child(
        self, parent_job_id: int, trace_id: str | None, args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> JobHandle:
        """Enqueue from inside a running job (`Context.enqueue`), linking parent and trace."""
        options = _split_options(kwargs)
        options.pop("connection", None)
        wait = check_wait(self.name, options.pop("wait", None))
        job = self.build(
            args, kwargs, parent_job_id=parent_job_id, trace_id=trace_id, **options
        )
        return self._store([job], None, wait)[0]

    def build(
        self,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        *,
        delay: float | None = None,
        run_at: datetime | None = None,
        priority: int | None = None,
        parent_job_id: int | None = None,
        trace_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> NewJob:
        """Check arguments and options and return the row to store. An error that quotes
        the job's ``redact=`` values quotes them masked (the caller's logs are no place for
        them either), without the exception it was raised from."""
        try:
            return self._build(args, kwargs, delay=delay, run_at=run_at, priority=priority,
                               parent_job_id=parent_job_id, trace_id=trace_id,
                               idempotency_key=idempotency_key)
        except (ArgumentError, PayloadTooLarge) as exc:
            if not self.redact:
                raise
            named = {**dict(zip(self.signature.parameters, args, strict=False)), **kwargs}
            try:
                redactor = self.redactor(named)
                assert redactor is not None
                message = redactor.message(str(exc))
            except Exception:  # values that cannot be read: a list holding itself, say
                message = (f"job {self.name!r}: its arguments were refused "
                           f"({type(exc).__name__}); the reason is not shown, as it may quote "
                           "a value of "
                           f"{', '.join(map(repr, sorted(self.redact)))} that cannot be masked")
            if message == str(exc):
                raise
            raise type(exc)(message) from None

    def _build(
        self,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        *,
        delay: float | None,
        run_at: datetime | None,
        priority: int | None,
        parent_job_id: int | None,
        trace_id: str | None,
        idempotency_key: str | None,
    ) -> NewJob:
        values = self.signature.bind(args, kwargs)
        check_options(self.name, delay, run_at, priority)
        payload = encode_payload(self.name, values, self.host.max_payload_bytes)
        if idempotency_key is None and self.key_function is not None:
            try:
                idempotency_key = self.key_function(**values)
            except Exception as exc:
                raise ArgumentError(
                    f"job {self.name!r}: its idempotency_key function failed on "
                    f"{shown(values)}: {shown(exc)}"
                ) from exc
        key_function = self.limits.concurrency_key
        concurrency_key = (None if key_function is None
                           else concurrency_key_of(self.name, key_function, values))
        payload_hash = None
        if idempotency_key is not None:
            check_key(self.name, idempotency_key)
            payload_hash = hash_payload(self.name, values)
        keyring = self.host.keyring
        if self.redact and keyring is not None:
            payload = encode_payload(
                self.name, keyring.seal_payload(self.name, values, self.redact),
                self.host.max_payload_bytes)
            redactor = self.redactor(values)
            assert redactor is not None
            idempotency_key = sealed_key(redactor, idempotency_key, IDEMPOTENCY_KEY)
            concurrency_key = sealed_key(redactor, concurrency_key, CONCURRENCY_KEY)
        return NewJob(
            job_name=self.name,
            queue=self.queue,
            payload=payload,
            max_attempts=self.retry.max_attempts,
            priority=self.priority if priority is None else priority,
            run_at=run_at,
            delay=delay,
            parent_job_id=parent_job_id,
            trace_id=trace_id or os.urandom(16).hex(),
            idempotency_key=idempotency_key,
            payload_hash=payload_hash,
            concurrency_key=concurrency_key,
            key_retention=self.host.idempotency_retention,
            redact=self._redact_stored,
        )

    def opened(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """*values*, a payload of this job as stored (decoded), with its encrypted values
        opened: what a dry or shadow run is given."""
        opened: dict[str, Any] = opened_values(self.host.keyring, f"job {self.name!r}: a payload",
                                               self.name, values)
        return opened

    def redactor(self, payload: Mapping[str, Any]) -> Redactor | None:
        """What masks the ``redact=`` values of a run on *payload* (the job's arguments by
        name), the default values of the declared arguments it leaves out included: the
        job runs with them. ``None`` when the job declares none."""
        if not self.redact:
            return None
        defaults = {name: value for name, value in self.signature.defaults.items()
                    if name in self.redact and name not in payload}
        return Redactor(self.redact, {**defaults, **payload} if defaults else payload,
                        self.host.keyring)

    def __repr__(self) -> str:
        return f"<JobDef {self.name} queue={self.queue}>"


def _deduplicated(job_id: int) -> bool:
    return isinstance(job_id, Enqueued) and job_id.deduplicated


def _split_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Take the enqueue options out of *kwargs*, leaving the job's own arguments."""
    return {key: kwargs.pop(key) for key in list(kwargs) if key in ENQUEUE_OPTIONS}


def hash_payload(job_name: str, values: Mapping[str, Any]) -> str:
    """A stable hash of a job's name and arguments (key order does not matter)."""
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{job_name}\0{canonical}".encode()).hexdigest()


def _compile_expectation(job_name: str, expect: str | None) -> Expectation | None:
    """Compile ``expect=`` once, as the job is declared: a malformed expression fails the
    import, naming the job and the column of the mistake."""
    if expect is None:
        return None
    if not isinstance(expect, str):
        raise JobDefinitionError(
            f"job {job_name!r}: expect must be a str in the path language, got {expect!r}"
        )
    try:
        return parse(expect)
    except ExpectationError as exc:
        raise JobDefinitionError(f"job {job_name!r}: expect= is not a valid path: {exc}") from exc


def _check_redact(job_name: str, redact: Iterable[str]) -> frozenset[str]:
    fields = [redact] if isinstance(redact, str) else list(redact)
    for field in fields:
        if not isinstance(field, str) or not field:
            raise JobDefinitionError(
                f"job {job_name!r}: redact must list field names (str), got {field!r}"
            )
    return frozenset(fields)
