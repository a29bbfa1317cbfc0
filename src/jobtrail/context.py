"""`Context`: what a running job sees of itself, and how it records its path.

The context of the job running in the current thread or task is available through
`current_context()`; that context variable is the only module-level state jobtrail keeps,
with a bounded cache of the names found valid.
"""

from __future__ import annotations

import inspect
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from json.encoder import encode_basestring_ascii
from typing import Any, NoReturn, Protocol, TypeVar

from jobtrail.breakers import Breakers, gate, report
from jobtrail.compensation import Compensation, CompensationReport, check_undo
from jobtrail.compensation import run as run_compensations
from jobtrail.effects import perform_effect
from jobtrail.errors import JobExit, UnknownJob
from jobtrail.expect import decision_text
from jobtrail.handle import JobHandle
from jobtrail.observe.tracing import AttemptSpan
from jobtrail.records import PointKind
from jobtrail.redaction import Redactor
from jobtrail.retry import Retry
from jobtrail.step_values import SCALARS, arguments_digest, same_arguments, to_json
from jobtrail.store.base import CompletedSteps, PathEvent, Store
from jobtrail.text import name_problem

T = TypeVar("T")

_current: ContextVar[Context | None] = ContextVar("jobtrail_context", default=None)


class ChildJob(Protocol):
    """A job type a running job can enqueue as its child (a `JobDef`)."""

    def enqueue_child(self, parent_job_id: int, trace_id: str | None,
                      args: tuple[Any, ...], kwargs: dict[str, Any]) -> JobHandle:
        """Enqueue a job carrying *parent_job_id* and the trace *trace_id*."""
        ...


def current_context() -> Context | None:
    """The context of the job running here, or ``None`` outside a job."""
    return _current.get()


class Context:
    """Passed as the first argument to jobs that ask for it (``def job(ctx: Context, ...)``).

    The path a job records (steps, effects, events) is buffered here and written with
    the attempt's outcome in one transaction, or at a heartbeat checkpoint while a long
    job runs, so recording costs no round-trip to the database.
    """

    __slots__ = (
        "_breakers",
        "_compensations",
        "_completed",
        "_deferred",
        "_exit",
        "_jobs",
        "_monotonic",
        "_occurrences",
        "_path",
        "_redactor",
        "_saved",
        "_saving",
        "_wall",
        "attempt",
        "claim",
        "job_id",
        "job_name",
        "max_attempts",
        "parent_job_id",
        "queue",
        "store",
        "trace_id",
        "traced",
        "uncalled_keys",
        "unsure_keys",
    )

    def __init__(
        self,
        store: Store | None,
        *,
        job_id: int,
        job_name: str,
        queue: str,
        attempt: int,
        max_attempts: int,
        claim: int = 0,
        parent_job_id: int | None = None,
        trace_id: str | None = None,
        completed_steps: CompletedSteps | None = None,
        redactor: Redactor | None = None,
        jobs: Mapping[str, ChildJob] | None = None,
        breakers: Breakers | None = None,
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.job_name = job_name
        self.queue = queue
        self.attempt = attempt
        self.claim = claim
        self.max_attempts = max_attempts
        self.parent_job_id = parent_job_id
        self.trace_id = trace_id
        self._path: list[PathEvent] = []
        self._exit: str | None = None
        self._redactor = redactor
        # Steps earlier attempts completed, by name and occurrence; emptied for the rest of
        # the attempt once a step is called with other arguments than were recorded.
        self._completed = completed_steps or {}
        # Calls of each effect name so far, and of each step name while steps may replay.
        self._occurrences: dict[str, int] = {}
        # The single plain argument of steps whose digest is not made yet, by path index.
        self._deferred: dict[int, Any] = {}
        self._jobs = jobs or {}
        self._breakers = breakers
        self._saved = 0  # entries before this index are written (by a checkpoint)
        self._saving = threading.Lock()
        self._wall, self._monotonic = time.time(), _perf_counter()
        # Effect keys begun in this attempt whose end could not be recorded: calling one
        # again here could perform it twice.
        self.unsure_keys: set[str] = set()
        # Effect keys whose intent may be stored although the attempt could not record it,
        # and whose call it never made: the outcome withdraws them (`Outcome.withdrawn`).
        self.uncalled_keys: set[str] = set()
        # The undo of each effect completed in this attempt that declared one, in order.
        self._compensations: list[Compensation] = []
        #: The attempt's span, when tracing is on (`jobtrail.observe.tracing`).
        self.traced: AttemptSpan | None = None

    @property
    def is_last_attempt(self) -> bool:
        """True when a failure now will not be retried because attempts are spent."""
        return self.attempt >= self.max_attempts

    @property
    def redactor(self) -> Redactor | None:
        """What masks this job's declared-sensitive values, when it declares any."""
        return self._redactor

    @property
    def exit_reason(self) -> str | None:
        """The reason given to `exit`, once the job called it."""
        return self._exit

    def event(self, name: str, **attrs: Any) -> None:
        """Record a milestone on this job's path (written when the attempt ends)."""
        _check_name("event", name, self.job_name)
        self._path.append(PathEvent(_EVENT, name, time.time(), None, attrs or None))

    def decide(self, name: str, value: T) -> T:
        """Record the decision *name* with its *value* (the branch taken) and return *value*:
        ``if ctx.decide("is_paid", invoice.paid): ...``. Expectations match the value as
        text (``is_paid=true``): pass a bool, int, str, enum member or ``None``."""
        _check_name("decision", name, self.job_name)
        try:
            text = decision_text(value)
        except TypeError:
            raise TypeError(
                f"job {self.job_name!r}: decision {name!r} got a {type(value).__name__}; "
                "decide on a bool, int, str, enum member or None (e.g. bool(items))"
            ) from None
        entry = (_DECIDE, name, time.time(), None, None, encode_basestring_ascii(text))
        self._path.append(_new_entry(PathEvent, entry))
        return value

    def exit(self, reason: str) -> NoReturn:
        """End the job here on purpose: ``return ctx.exit("already_paid")``.

        The job succeeds with outcome ``exit:<reason>`` (and no result), and its path shows
        the exit, so an early end is never silent. Like `sys.exit`, it raises (`JobExit`, a
        `BaseException` that ``except Exception`` does not catch): nothing after it runs."""
        _check_name("exit", reason, self.job_name)
        if self._exit is None:
            self._exit = reason
            self._path.append(PathEvent(_EXIT, reason, time.time()))
        raise JobExit(reason)

    def step(self, name: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` as the checkpoint *name* and return its result.

        The (JSON) result is recorded; on a later attempt of this job the step returns the
        recorded result without calling *fn* again, so a retried job resumes after its last
        completed step. Results come back as JSON gives them (a tuple as a list).

        A name may be used again, in a loop: a checkpoint is the n-th call of its name in
        the attempt, recorded with a digest of its arguments. A retried job replays the
        iterations done and runs the rest — as long as it calls its steps in the same
        order with the same arguments. When an occurrence is called with other arguments
        than were recorded, it and every step after it run again, and the run is flagged
        ``nondeterministic``: a replay never returns another call's result.
        """
        if type(name) is not str or name not in _GOOD_NAMES:
            _check_name("step", name, self.job_name)
        attrs: dict[str, Any] | None = None
        if self._completed:  # only a replay needs to know which call of the name this is
            occurrences = self._occurrences
            occurrence = occurrences.get(name, 0)
            occurrences[name] = occurrence + 1
            done = self._completed.get(name)
            record = done[occurrence] if done is not None and occurrence < len(done) else None
            if record is not None:
                digest = arguments_digest(args, kwargs) if args or kwargs else None
                if same_arguments(record.arguments, digest):
                    self._path.append(PathEvent(_STEP, name, time.time(), 0.0, _REPLAYED))
                    value: T = json.loads(record.result)
                    return value
                self._completed = {}  # the code took another path: replay nothing after this
                attrs = {"args": digest, "rerun": occurrence + 1}
        path = self._path
        if attrs is None and (args or kwargs):
            if kwargs or len(args) != 1 or type(args[0]) not in SCALARS:
                # Before the call, which may change them.
                attrs = {"args": arguments_digest(args, kwargs)}
            else:  # one plain value: its digest is made only if a retry may need it
                self._deferred[len(path)] = args[0]
        started = _perf_counter()
        try:
            value = fn(*args, **kwargs)
        except BaseException as exc:
            if self.traced is not None:
                self.traced.step_failed(name, self._wall + (started - self._monotonic),
                                        _perf_counter() - started, exc)
            raise
        ended = _perf_counter()
        try:
            text = int.__repr__(value) if type(value) is int else to_json(value)
        except (TypeError, ValueError) as exc:
            raise self._unrecordable(name, value, exc) from exc
        # tuple.__new__ skips NamedTuple's Python-level constructor: a fifth of a step's cost.
        # The wall-clock time is the context's, moved on by the monotonic clock: one read.
        path.append(_new_entry(PathEvent, (
            _STEP, name, self._wall + (started - self._monotonic), ended - started, attrs, text)))
        return value

    def _unrecordable(self, name: str, value: object, exc: Exception) -> TypeError:
        if inspect.isawaitable(value):
            if inspect.iscoroutine(value):
                value.close()  # never awaited: close it rather than warn later
            return TypeError(
                f"job {self.job_name!r}: step {name!r} got an awaitable; ctx.step runs "
                "plain functions: await the coroutine inside the job instead"
            )
        return TypeError(
            f"job {self.job_name!r}: step {name!r} returned a {type(value).__name__}, "
            f"which cannot be recorded as JSON ({exc}); return plain data"
        )

    def effect(
        self,
        name: str,
        fn: Callable[..., T],
        /,
        *args: Any,
        key: str | None = None,
        repeat_safe: bool = False,
        compensate: Callable[..., Any] | None = None,
        breaker: str | None = None,
        **kwargs: Any,
    ) -> T:
        """Perform the side effect ``fn(*args, **kwargs)`` at most once per *key*.

        The intent is recorded durably before the call and the result after it. A key
        already done returns its recorded result without calling. A key an earlier attempt
        began but never finished (it crashed in between) raises `EffectUncertain`: the job
        is dead-lettered for an operator to check, unless the effect is ``repeat_safe``.
        The key defaults to ``"<job id>:<name>"`` (``"<job id>:<name>#<n>"`` for its n-th
        call in a loop); give a business key (``f"charge-{invoice}"``) to guard against
        duplicate jobs too. Calling a key done earlier, in this attempt or another, returns
        its recorded result.

        ``compensate`` undoes the effect if the job ends dead: called with the effect's
        result (or with nothing, if it takes no argument), newest effect first, itself as
        an effect (see `jobtrail.compensation`). ``breaker`` names the circuit breaker the
        effect needs (`App.breaker`): while it is open the attempt stops here and the job
        waits, uncounted; the effect's failures count towards opening it.
        """
        _check_name("effect", name, self.job_name)
        if compensate is not None:
            check_undo(self.job_name, name, compensate)
        if key is None:
            occurrence = self._occurrences.get(f"effect:{name}", 0)
            self._occurrences[f"effect:{name}"] = occurrence + 1
            key = f"{self.job_id}:{name}" + (f"#{occurrence + 1}" if occurrence else "")
        problem = name_problem(key, MAX_EFFECT_KEY)
        if problem is not None:
            raise ValueError(
                f"job {self.job_name!r}: the key of effect {name!r} {problem}, got {key!r}"
            )
        if breaker is None or self._breakers is None:  # (a dry run has no breakers)
            value = self._perform(name, fn, args, kwargs, key, repeat_safe)
        else:
            value = self._guarded(breaker, name, fn, args, kwargs, key, repeat_safe)
        if compensate is not None:
            self._compensations.append(Compensation(name, key, compensate, value))
        return value

    def _guarded(self, breaker: str, name: str, fn: Callable[..., T], args: tuple[Any, ...],
                 kwargs: dict[str, Any], key: str, repeat_safe: bool) -> T:
        """An effect behind the breaker *breaker*."""
        breakers = self.breakers
        breakers.check(f"job {self.job_name!r}: effect {name!r}", breaker)
        probe = gate(self, breaker, None)
        try:
            value = self._perform(name, fn, args, kwargs, key, repeat_safe)
        except Exception:
            report(self, breaker, failed=True, probe=probe)
            raise
        report(self, breaker, failed=False, probe=probe)
        return value

    @property
    def breakers(self) -> Breakers:
        """The app's circuit breakers."""
        if self._breakers is None:
            raise RuntimeError(f"job {self.job_name!r}: breakers need the app's worker")
        return self._breakers

    def perform(self, name: str, fn: Callable[..., T], args: tuple[Any, ...],
                kwargs: dict[str, Any], key: str) -> T:
        """An effect whose name and key are already checked (a compensation's)."""
        return self._perform(name, fn, args, kwargs, key, False)

    def compensate(self, retry: Retry) -> CompensationReport | None:
        """Undo the effects this attempt completed that declared how, newest first (the
        job is ending dead); ``None`` when there are none."""
        if not self._compensations:
            return None
        return run_compensations(self, self._compensations, retry)

    def _perform(self, name: str, fn: Callable[..., T], args: tuple[Any, ...],
                 kwargs: dict[str, Any], key: str, repeat_safe: bool) -> T:
        """Perform a checked effect (a dry run captures it instead)."""
        if self.store is None:
            raise RuntimeError(f"job {self.job_name!r}: effect {name!r} needs a store to run in")
        return perform_effect(self.store, self, name, fn, args, kwargs, key, repeat_safe)

    def enqueue(self, job: ChildJob | str, /, *args: Any, **kwargs: Any) -> JobHandle:
        """Enqueue a child job — a job type, or the name of one the app declares: it
        carries this job's id as parent and its trace id."""
        if isinstance(job, str):
            found = self._jobs.get(job)
            if found is None:
                known = ", ".join(sorted(self._jobs)) or "none"
                raise UnknownJob(f"job {self.job_name!r}: ctx.enqueue({job!r}): no job of that "
                                 f"name is declared (known: {known})")
            job = found
        return job.enqueue_child(self.job_id, self.trace_id, args, kwargs)

    @property
    def path(self) -> Sequence[PathEvent]:
        """The path recorded so far in this attempt, itself (not a copy): for reading
        once the attempt's code has returned."""
        return self._path

    def recorded(self) -> list[PathEvent]:
        """The path recorded so far in this attempt (steps, effects, decisions, exits
        and events), as it happened: unredacted, in memory only."""
        return list(self._path)

    def take_unsaved(self, *, final: bool = False) -> list[PathEvent]:
        """The entries not written yet, now counted as written: the attempt's outcome
        carries them. Waits while a checkpoint is writing. *final*: the outcome ends the
        run succeeded, so nothing will resume from its steps, and the digests of their
        arguments are not needed."""
        with self._saving:
            count = len(self._path)
            fresh, start, self._saved = self._path[self._saved:count], self._saved, count
        if not final:
            fresh = self._digested(fresh, start)
        return self._redactor.entries(fresh) if self._redactor else fresh

    @contextmanager
    def checkpointing(self) -> Iterator[list[PathEvent]]:
        """Yield the entries not written yet, for a checkpoint to write; they count as
        written when the block ends without an error. Meanwhile `take_unsaved` waits, so
        no entry is written twice or lost."""
        with self._saving:
            count = len(self._path)
            fresh = self._digested(self._path[self._saved:count], self._saved)
            yield self._redactor.entries(fresh) if self._redactor else fresh
            self._saved = count

    def _digested(self, entries: list[PathEvent], start: int) -> list[PathEvent]:
        """*entries* (from path index *start*) with the digests of their steps' arguments
        that were left to make: a later attempt compares its calls with them."""
        deferred = self._deferred
        if not deferred:
            return entries
        end = start + len(entries)  # the job may be recording more meanwhile
        for index in [i for i in list(deferred) if start <= i < end]:
            value = deferred.pop(index)
            entry = entries[index - start]
            entries[index - start] = entry._replace(
                attrs={"args": arguments_digest((value,), {})})
        return entries

    def add_event(self, event: PathEvent) -> None:
        """Append an entry to this attempt's path (used by effects)."""
        self._path.append(event)

    def __repr__(self) -> str:
        return f"<Context job={self.job_name}#{self.job_id} attempt={self.attempt}>"


MAX_EFFECT_KEY = 255
_REPLAYED = {"replayed": True}
_STEP, _EVENT, _DECIDE, _EXIT = PointKind.STEP, PointKind.EVENT, PointKind.DECIDE, PointKind.EXIT
_new_entry = tuple.__new__
_perf_counter = time.perf_counter
#: Names that passed `_check_name`; a name made per run stops being remembered past this.
MAX_GOOD_NAMES = 10_000
_GOOD_NAMES: set[str] = set()


def _check_name(kind: str, name: object, job_name: str) -> None:
    """Refuse, in the job, a name that could not be stored: a `ValueError` naming the job,
    the call and what is wrong, rather than an outcome the database refuses later. Names
    found good are remembered (up to `MAX_GOOD_NAMES`), so a step checks its name once."""
    problem = name_problem(name)
    if problem is not None:
        raise ValueError(f"job {job_name!r}: the {kind} name {problem}: {name!r}")
    if type(name) is str and len(_GOOD_NAMES) < MAX_GOOD_NAMES:
        _GOOD_NAMES.add(name)
