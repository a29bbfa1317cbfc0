"""`App`: the registry of job types, the store they live in, and the settings they share.

The app is the top of the house: it declares jobs (`jobtrail.jobs`), opens the store,
composes the pipeline every attempt goes through (its middlewares and built-in stages,
`jobtrail.middleware`) and the observers told of every change (`jobtrail.observers`),
answers about execution paths through ``app.paths`` (`jobtrail.paths_api`), reads jobs
and carries out operators' actions, masked for sensitive fields (`jobtrail.views`), and runs
workers (`jobtrail.worker`, `jobtrail.supervisor`). Nothing below it imports it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import timedelta, tzinfo
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar, overload

from jobtrail import access, workflows
from jobtrail.access import Actor
from jobtrail.alerting import AlertSink
from jobtrail.audit.checkpoints import signing_key
from jobtrail.breakers import Breaker, Breakers, make_breaker
from jobtrail.catalog import make_catalog
from jobtrail.context import Context
from jobtrail.encryption import Keyring
from jobtrail.enqueuing import JobDecorator
from jobtrail.errors import ConfigurationError, JobDefinitionError, UnknownJob
from jobtrail.expect import Expectation
from jobtrail.flow import Queue, flow_limits, make_job_limits, make_queue
from jobtrail.guarantee import Guarantee
from jobtrail.handle import JobHandle
from jobtrail.jobs import JobDef, KeyFunction
from jobtrail.limits import check_queues
from jobtrail.middleware import Chain, Middleware, Pipeline
from jobtrail.observe.tracing import Tracing
from jobtrail.observers import Observer, Observers
from jobtrail.paths.alerts import AlertObserver
from jobtrail.paths.postmortem import Postmortem
from jobtrail.paths.runs import Summarizer
from jobtrail.paths.timings import StepTimings
from jobtrail.paths_api import PathsAPI
from jobtrail.payload import DEFAULT_MAX_PAYLOAD_BYTES
from jobtrail.retention import check_retention
from jobtrail.retry import Retry
from jobtrail.schedules import make_schedule
from jobtrail.settings import DEFAULT_KEY_RETENTION, check_settings
from jobtrail.shadow import ShadowObserver
from jobtrail.store import Store, open_store, parse_url, redact_url, resolve_url
from jobtrail.store.base import FlowLimits
from jobtrail.store.breakers import BreakerRecord
from jobtrail.supervisor import ExitCodes, Supervisor
from jobtrail.tokens import Tokens
from jobtrail.views import JobViews
from jobtrail.waiting import Waiters
from jobtrail.worker import DEFAULT_CONCURRENCY, AttemptSink, Worker, WorkerStats
from jobtrail.workflows import Call, WorkflowHandle

P = ParamSpec("P")
R = TypeVar("R")

class App(JobViews):
    """A jobtrail application.

    ``App()`` with no URL stores jobs in ``$JOBTRAIL_URL`` or ``./jobtrail.db``.

    - ``lease``: seconds a claimed job stays leased without a heartbeat; workers renew it
      every ``lease / 3`` seconds, so only a dead or frozen worker loses it.
    - ``retry``: the policy of jobs that declare none.
    - ``grace``: seconds a stopping worker waits for running jobs before releasing them.
    - ``max_payload_bytes``: the largest JSON payload a job may carry.
    - ``idempotency_retention``: seconds a finished job keeps its idempotency key (and
      the receipt answers for it); ``None`` keeps keys forever.
    - ``code_version``: the version of the code the workers run (default
      ``$JOBTRAIL_CODE_VERSION``), stored with each finished run so a path that appears
      with a deploy is flagged new.
    - ``slow_factor``: a step slower than this many times its recent p99 is a ``slow``
      divergence (``None`` turns the check off).
    - ``alert_sinks``: callables given each alert: each divergence once it is stored
      (`jobtrail.paths.alerts`), and the health alerts of ``jobtrail health --watch``
      (see `jobtrail.alerting`).
    - ``log_format``: how ``jobtrail worker`` writes its log lines, ``"text"`` or
      ``"json"`` (its ``--log-format`` overrides it; see `jobtrail.observe.logs`).
    - ``tracing``: ``False`` turns OpenTelemetry tracing off; it is on whenever a tracer
      provider is configured (``tracer_provider``, else the process's global one; see
      `jobtrail.observe.tracing`).
    - ``metrics``: count every attempt its workers run in Prometheus metrics (the
      ``prometheus`` extra; see `jobtrail.metrics` and docs/metrics.md).
    - ``audit_signing_key``: the Ed25519 key its workers sign the audit trail's
      checkpoints with (default ``$JOBTRAIL_AUDIT_SIGNING_KEY``; ``jobtrail audit key
      --generate NAME`` makes one; see `jobtrail.audit.checkpoints`).
    - ``history_retention``: seconds a job that succeeded or was cancelled is kept after it
      finished, with its events and path; its workers then remove it, recording it in the
      audit trail (`jobtrail.retention`). ``None`` (the default) keeps history forever.
    - ``encryption_key``: a text of at least 32 characters (default
      ``$JOBTRAIL_ENCRYPTION_KEY``) under which the values of ``redact=`` fields are
      encrypted where they are stored; ``old_encryption_keys`` (default
      ``$JOBTRAIL_OLD_ENCRYPTION_KEYS``, comma-separated) only decrypt, until ``jobtrail
      keys rotate`` has re-encrypted what they hold (see `jobtrail.encryption` and
      docs/secrets.md).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        lease: float = 30.0,
        retry: Retry | None = None,
        grace: float = 30.0,
        default_queue: str = "default",
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        idempotency_retention: float | None = DEFAULT_KEY_RETENTION,
        store_options: dict[str, Any] | None = None,
        code_version: str | None = None,
        slow_factor: float | None = 3.0,
        alert_sinks: Sequence[AlertSink] = (),
        log_format: Literal["text", "json"] = "text",
        tracing: bool = True,
        tracer_provider: Any = None,
        metrics: bool = False,
        audit_signing_key: str | None = None,
        history_retention: float | None = None,
        encryption_key: str | None = None,
        old_encryption_keys: Sequence[str] | None = None,
    ) -> None:
        check_settings(lease=lease, grace=grace, max_payload_bytes=max_payload_bytes,
                       idempotency_retention=idempotency_retention, slow_factor=slow_factor,
                       default_queue=default_queue, alert_sinks=alert_sinks,
                       log_format=log_format)
        #: The keys of secrets at rest, ``None`` without one (`jobtrail.encryption`).
        self.keyring = Keyring.configured(encryption_key, old_encryption_keys)
        self.url = resolve_url(url)
        self.backend, _ = parse_url(self.url)
        self.lease = float(lease)
        self.retry = retry or Retry()
        self.grace = float(grace)
        self.default_queue = default_queue
        self.log_format = log_format
        self.max_payload_bytes = max_payload_bytes
        self.idempotency_retention = idempotency_retention
        self.code_version = code_version or os.environ.get("JOBTRAIL_CODE_VERSION") or None
        self.step_timings = StepTimings(slow_factor) if slow_factor is not None else None
        self.summarizer = Summarizer(self.step_timings, self.code_version)
        self.registry: dict[str, JobDef[Any, Any]] = {}
        self.queues: dict[str, Queue] = {}
        self.breaker_registry = Breakers(lambda: self.store)
        #: The key the audit trail's checkpoints are signed with, if any.
        self.audit_key = signing_key(audit_signing_key)
        #: Seconds finished jobs are kept, or None for ever (`jobtrail.retention`).
        self.history_retention = check_retention(history_retention, idempotency_retention)
        if not isinstance(tracing, bool):
            raise ConfigurationError(f"App(tracing={tracing!r}): must be True or False")
        if tracer_provider is not None and not callable(getattr(tracer_provider, "get_tracer",
                                                                 None)):
            raise ConfigurationError(
                f"App(tracer_provider={tracer_provider!r}): must be an OpenTelemetry "
                "TracerProvider")
        #: Whether and how jobs are traced (`jobtrail.observe.tracing`).
        self.tracing = Tracing(tracer_provider, enabled=tracing)
        #: The worker-side Prometheus metrics its workers update (`jobtrail.metrics`).
        self.metrics: AttemptSink | None = None
        if metrics:
            from jobtrail.metrics import instrument

            instrument(self)
        #: Execution paths: divergences, variants, funnels, rules, shadow runs.
        self.paths = PathsAPI(self, self.registry, self.job)
        self.paths.alert_sinks.extend(alert_sinks)
        #: Given every alert: divergences, and health alerts (`jobtrail.alerting`).
        self.alert_sinks: list[AlertSink] = list(alert_sinks)
        #: Told of every change to jobs once it is committed (`observe`).
        self.observers = Observers()
        self.observers.add(AlertObserver(self.paths.alert_sinks))
        self.observers.add(ShadowObserver(self.paths.shadows))
        self.observers.add(Postmortem(lambda: self.store, self.summarizer,
                                      self._expectation_of, self.paths.alert_sinks))
        self._middlewares: list[Middleware] = []
        self._pipeline: Pipeline | None = None
        self._store_options = store_options or {}
        self._store: Store | None = None
        self._actor: str | None = None
        self._lock = threading.Lock()
        #: The waits of `JobHandle.wait` in this process, and the one watch they share.
        self.waiters = Waiters(lambda: self.store)
        #: The access tokens of the dashboard and HTTP API (`jobtrail.tokens`).
        self.tokens = Tokens(lambda: self.store)

    def _expectation_of(self, job_name: str) -> Expectation | None:
        definition = self.registry.get(job_name)
        return definition.expectation if definition is not None else None

    # -- the store ---------------------------------------------------------------------
    @property
    def store(self) -> Store:
        """The backend, opened on first use (so an app can be imported before forking)."""
        store = self._store
        if store is None:
            with self._lock:
                if self._store is None:
                    self._store = open_store(self.url, **self._store_options)
                    self._store.actor = self._actor
                store = self._store
        return store

    @property
    def actor(self) -> str | None:
        """Who operators' actions through this app are taken by (``replay``, ``cancel``,
        ``discard``, ``resolve_effect``...): recorded on their events, so the audit trail
        says who did it. The command line sets ``os:<user>``."""
        return self._actor

    @actor.setter
    def actor(self, actor: str | None) -> None:
        if actor is not None and (not isinstance(actor, str) or not actor.strip()):
            raise ConfigurationError(f"app.actor = {actor!r}: must be a non-empty str or None")
        self._actor = actor
        if self._store is not None:
            self._store.actor = actor

    def authenticate(self, token: object) -> Actor:
        """The actor a token authenticates as; `NotAuthenticated` when it is malformed,
        unknown or revoked (the same error for all three). See `jobtrail.tokens`."""
        return self.tokens.authenticate(token)

    def acting_as(self, actor: Actor) -> AbstractContextManager[Actor]:
        """``with app.acting_as(actor):`` records the operators' actions taken in the block,
        in this thread or task, under *actor* (``token:<name>``) rather than `actor`: what
        a web server does for each request, its threads sharing one store. The role is not
        checked here: `jobtrail.access.require` is (see `jobtrail.access`)."""
        return access.acting_as(actor)

    def upgrade(self) -> list[int]:
        """Apply pending schema migrations; return the versions applied."""
        return self.store.migrate()

    def close(self) -> None:
        """Close the store's connections in this process."""
        self.waiters.close()
        if self._store is not None:
            self._store.close()

    # -- the seam ------------------------------------------------------------------------
    def middleware(self, fn: Middleware) -> Middleware:
        """Wrap every attempt in *fn* (usable as a decorator): ``fn(attempt, call_next)``
        returns ``call_next()``'s outcome. The first registered is the outermost. See
        `jobtrail.middleware`."""
        if not callable(fn):
            raise ConfigurationError(f"app.middleware({fn!r}): a middleware must be callable")
        self._middlewares.append(fn)
        self._pipeline = None
        return fn

    def observe(self, observer: Observer) -> Observer:
        """Tell *observer* of every change to jobs once it is committed; see
        `jobtrail.observers`."""
        if not isinstance(observer, Observer):
            raise ConfigurationError(
                f"app.observe({observer!r}): an observer is an instance of a subclass of "
                "jobtrail.Observer"
            )
        self.observers.add(observer)
        return observer

    @property
    def pipeline(self) -> Pipeline:
        """What every attempt goes through: the middlewares and the built-in stage."""
        pipeline = self._pipeline
        if pipeline is None:
            pipeline = self._pipeline = Pipeline(Chain(self._middlewares), self.summarizer)
        return pipeline

    # -- declaring jobs ---------------------------------------------------------------------
    @overload
    def job(self, fn: Callable[Concatenate[Context, P], R], /) -> JobDef[P, R]: ...
    @overload
    def job(self, fn: Callable[P, R], /) -> JobDef[P, R]: ...
    @overload
    def job(
        self,
        *,
        name: str | None = ...,
        queue: str | None = ...,
        retry: Retry | None = ...,
        timeout: float | None = ...,
        priority: int = ...,
        idempotency_key: KeyFunction | None = ...,
        guarantee: Guarantee | None = ...,
        expect: str | None = ...,
        redact: Iterable[str] = ...,
        cron: str | None = ...,
        every: float | timedelta | None = ...,
        tz: str | tzinfo | None = ...,
        catch_up: bool | int = ...,
        owner: str | None = ...,
        runbook: str | None = ...,
        description: str | None = ...,
        concurrency_limit: int | None = ...,
        concurrency_key: Callable[..., str] | None = ...,
        rate_limit: str | None = ...,
        breaker: str | None = ...,
    ) -> JobDecorator: ...

    def job(  # type: ignore[misc]  # the overloads are the typed surface
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        queue: str | None = None,
        retry: Retry | None = None,
        timeout: float | None = None,
        priority: int = 0,
        idempotency_key: KeyFunction | None = None,
        guarantee: Guarantee | None = None,
        expect: str | None = None,
        redact: Iterable[str] = (),
        cron: str | None = None,
        every: float | timedelta | None = None,
        tz: str | tzinfo | None = None,
        catch_up: bool | int = False,
        owner: str | None = None,
        runbook: str | None = None,
        description: str | None = None,
        concurrency_limit: int | None = None,
        concurrency_key: Callable[..., str] | None = None,
        rate_limit: str | None = None,
        breaker: str | None = None,
    ) -> Any:
        """Declare a job type: ``@app.job`` or ``@app.job(queue=..., retry=..., timeout=...)``.

        ``idempotency_key`` is a function of the job's arguments returning its key
        (``lambda invoice_id: f"inv-{invoice_id}"``); ``guarantee`` states the delivery
        guarantee instead of deriving it (see `jobtrail.guarantee`); ``expect`` the path
        the job should take, in the path language (see docs/expectations.md); ``redact``
        the payload fields whose values must never be stored in its path.

        ``cron`` (five fields, read in the time zone ``tz``) or ``every`` (seconds) make it
        a periodic job, fired by the workers' schedulers once per tick (``catch_up``: how
        many ticks missed while no scheduler ran are fired late; see docs/periodic-jobs.md).
        ``owner``, ``runbook`` and ``description`` are its catalog entry (`jobtrail
        describe`). ``concurrency_limit`` caps its attempts running at once across every
        worker (per key of ``concurrency_key``, a function of its arguments), and
        ``rate_limit`` (``"100/m"``) how often one starts (see `jobtrail.flow`);
        ``breaker`` names the circuit breaker (`App.breaker`) the job needs."""

        def register(func: Callable[..., Any]) -> JobDef[Any, Any]:
            job_name = name if name is not None else getattr(func, "__name__", None)
            if job_name is None:
                raise JobDefinitionError(f"cannot name job {func!r}: pass name=")
            definition: JobDef[Any, Any] = JobDef(
                self,
                func,
                name=job_name,
                queue=self.default_queue if queue is None else queue,
                retry=retry or self.retry,
                timeout=timeout,
                priority=priority,
                idempotency_key=idempotency_key,
                guarantee=guarantee,
                expect=expect,
                redact=redact,
                schedule=make_schedule(job_name, cron=cron, every=every, tz=tz,
                                       catch_up=catch_up),
                catalog=make_catalog(job_name, func, owner=owner, runbook=runbook,
                                     description=description),
                limits=make_job_limits(job_name, concurrency_limit=concurrency_limit,
                                       concurrency_key=concurrency_key, rate_limit=rate_limit),
                breaker=self._breaker_for(job_name, breaker),
            )
            # Checked once JobDef has found the name usable (a str, so hashable).
            if job_name in self.registry and self.registry[job_name].fn is not func:
                raise JobDefinitionError(
                    f"two jobs are named {job_name!r}; give one of them name=\"...\""
                )
            self.registry[job_name] = definition
            return definition

        return register(fn) if fn is not None else register

    def queue(self, name: str, *, max_depth: int | None = None,
              max_latency: float | None = None, concurrency_limit: int | None = None,
              rate_limit: str | None = None, paused: bool = False) -> Queue:
        """Declare the policy of the queue *name*: at most ``max_depth`` jobs waiting
        (`QueueFull` past it), ``max_latency`` seconds a job should wait at most (for health
        checks), at most ``concurrency_limit`` of its attempts running at once and
        ``rate_limit`` (``"100/m"``) starting, across every worker; a ``paused`` queue is
        claimed by none. Declared again, the new policy replaces the old one."""
        policy = make_queue(name, max_depth=max_depth, max_latency=max_latency,
                            concurrency_limit=concurrency_limit, rate_limit=rate_limit,
                            paused=paused)
        self.queues[name] = policy
        return policy

    def breaker(self, name: str, *, failures: int = 5, window: float = 60.0,
                reset_after: float = 30.0) -> Breaker:
        """Declare the circuit breaker *name*: ``failures`` failures within ``window``
        seconds open it, and jobs (or effects) that need it wait ``reset_after`` seconds
        before one probe tries again (see `jobtrail.breakers`)."""
        declared = make_breaker(name, failures=failures, window=window, reset_after=reset_after)
        self.breaker_registry.declared[name] = declared
        return declared

    def breakers(self) -> list[BreakerRecord]:
        """Every declared breaker's state, as the store holds it now."""
        return list(self.breaker_registry.records().values())

    def _breaker_for(self, job_name: str, name: str | None) -> str | None:
        if name is None:
            return None
        try:
            return self.breaker_registry.check(f"job {job_name!r}", name)
        except ConfigurationError as exc:
            raise JobDefinitionError(str(exc)) from None

    @property
    def max_depths(self) -> dict[str, int]:
        """The max_depth of each queue that declares one."""
        return {name: q.max_depth for name, q in self.queues.items() if q.max_depth is not None}

    def flow_limits(self) -> FlowLimits:
        """What workers' claims must respect: the limits of the declared queues and job
        types, and the paused queues."""
        return flow_limits(self.queues, self.registry.values())

    def chain(self, *calls: Call) -> WorkflowHandle:
        """Run *calls* (``job.prepare(...)``) one after the other, each once the one before
        it succeeded; the first is enqueued now (see `jobtrail.workflows`)."""
        return workflows.chain(self, calls)

    def group(self, calls: Iterable[Call], *, then: Call | None = None,
              on_failure: Call | None = None) -> WorkflowHandle:
        """Enqueue *calls* now; once all succeeded, enqueue *then* once with ``results=``
        (theirs, in order); if one fails for good, *on_failure* instead (see
        `jobtrail.workflows`)."""
        return workflows.group(self, calls, then=then, on_failure=on_failure)

    def job_named(self, name: str) -> JobDef[Any, Any]:
        """The job type registered under *name*; raise `UnknownJob` naming the known ones."""
        try:
            return self.registry[name]
        except KeyError:
            known = ", ".join(sorted(self.registry)) or "none"
            raise UnknownJob(f"no job named {name!r} (known: {known})") from None

    def enqueue(self, name: str, /, *args: Any, **kwargs: Any) -> JobHandle:
        """Enqueue a job by name (for tools and other languages' producers)."""
        return self.job_named(name).enqueue(*args, **kwargs)

    # -- reading -------------------------------------------------------------------------------
    # -- running ---------------------------------------------------------------------
    @overload
    def work(self, *, queues: Sequence[str] | None = ..., concurrency: int = ...,
             processes: int = ..., burst: bool = ..., grace: float | None = ...,
             scheduler: bool = ..., supervise: Literal[False]) -> WorkerStats: ...
    @overload
    def work(self, *, queues: Sequence[str] | None = ..., concurrency: int = ...,
             processes: int = ..., burst: bool = ..., grace: float | None = ...,
             scheduler: bool = ..., supervise: Literal[True]) -> ExitCodes: ...
    @overload
    def work(self, *, queues: Sequence[str] | None = ..., concurrency: int = ...,
             processes: int = ..., burst: bool = ..., grace: float | None = ...,
             scheduler: bool = ..., supervise: None = ...) -> WorkerStats | ExitCodes: ...

    def work(
        self,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        processes: int = 1,
        burst: bool = False,
        grace: float | None = None,
        scheduler: bool = True,
        supervise: bool | None = None,
    ) -> WorkerStats | ExitCodes:
        """Run a worker here until stopped; with ``burst``, until nothing is runnable.

        With ``supervise`` (the default when ``processes > 1``; the ``jobtrail worker``
        command always supervises) it forks that many worker processes and supervises
        them: restarts, a watchdog for a process frozen in C code, and the leases of a
        process that died ended at once with the reason (see `jobtrail.supervisor`).
        Returns the worker's stats (in this process) or each slot's last exit code.

        Each worker process also runs the scheduler of periodic jobs, unless ``scheduler``
        is false (a ``burst`` worker runs none).
        """
        check_queues(queues)
        if supervise or (supervise is None and processes > 1):
            return Supervisor(
                self, processes=processes, queues=queues, concurrency=concurrency,
                burst=burst, grace=grace, scheduler=scheduler,
            ).run()
        worker = Worker(self, queues=queues, concurrency=concurrency, burst=burst, grace=grace,
                        scheduler=scheduler)
        return worker.run()

    def __repr__(self) -> str:
        return f"<App {redact_url(self.url)} jobs={len(self.registry)} pid={os.getpid()}>"

