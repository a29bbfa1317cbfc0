"""Every error jobtrail raises, in one tree.

```
JobtrailError
├── ConfigurationError         a bad URL, option or setting
│   ├── JobDefinitionError     a job declared in a way that cannot work
│   └── AppNotLoadable         MODULE:APP does not name an App
├── ExpectationError (ValueError)  an expect= text that is not a valid path
├── LockError (ValueError)     the flows lock file is missing, unreadable or of another version
├── LintError (ValueError)     a job function whose flow cannot be linted
├── NoteError (ValueError)     an audit key or signed checkpoint that cannot be read or checked
├── ArgumentError (TypeError)  arguments that do not fit a job's signature
├── PayloadTooLarge (ValueError)
├── IdempotencyConflict (ValueError)  one key, two different payloads
├── UnknownJob (LookupError)   a job name the app does not know
├── JobNotFound (LookupError)  a job id the store does not hold
├── InvalidTransition          an operator action the job's status forbids
├── LeaseLost                  an attempt that no longer holds its job tried to act for it
├── MiddlewareError            a middleware did not call call_next, or called it twice
├── WaitTimeout (TimeoutError) a job waited for did not finish in time
├── QueueFull                  a queue at its max_depth refused new jobs
├── AccessError                the dashboard's or an API's access check failed
│   ├── NotAuthenticated       a token that is malformed, unknown or revoked
│   └── AccessDenied (PermissionError)  an actor whose role does not allow the action
├── TokenError (ValueError)    a token name or role that cannot be used, or a name taken
├── TokenNotFound (LookupError)  no live token has this name
├── DecryptionError            an encrypted value whose key is missing, or that was altered
├── StoreError                 the database failed or is unreachable
│   ├── SchemaOutdated         the database needs `jobtrail db upgrade`
│   ├── StoreLost              the database file was deleted, replaced or damaged
│   └── StoreRejected          the database refused a value it was given
└── JobFailure                 raised *by* jobs to steer retries
    ├── Transient              try again later
    │   └── JobTimeout         the attempt ran past its timeout
    └── Permanent              never try again: dead-letter now
        └── EffectUncertain    an effect may or may not have happened: ask an operator
JobExit (BaseException)        ctx.exit(): a job's intended early end
StopNow (BaseException)        a worker's second stop signal: leave at once
```

The last two are ways out rather than errors: they derive from ``BaseException`` so that
an ``except Exception`` in a job (or a worker's loop) cannot swallow them.

Each class's docstring is its default message. Driver errors are chained on
``__cause__`` so the original is never lost.
"""

from __future__ import annotations


class JobtrailError(Exception):
    """Something went wrong in jobtrail."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigurationError(JobtrailError):
    """The configuration is not valid."""


class JobDefinitionError(ConfigurationError):
    """The job is declared in a way that cannot work."""


class AppNotLoadable(ConfigurationError):
    """MODULE:APP does not name a jobtrail App."""


class ArgumentError(JobtrailError, TypeError):
    """The arguments do not fit the job's signature."""


class PayloadTooLarge(JobtrailError, ValueError):
    """The job's payload is larger than the configured limit."""


class IdempotencyConflict(JobtrailError, ValueError):
    """The idempotency key is already held by a job with a different payload."""


class UnknownJob(JobtrailError, LookupError):
    """No job with this name is registered on the app."""


class JobNotFound(JobtrailError, LookupError):
    """No job with this id exists in the store."""


class InvalidTransition(JobtrailError):
    """The job's current status does not allow this action."""


class LeaseLost(JobtrailError):
    """This attempt no longer holds its job (its lease expired, or a stopping worker released
    it): another attempt may own the job now, so this one may not begin an effect."""


class MiddlewareError(JobtrailError):
    """A middleware must call call_next exactly once and return its outcome."""


class WaitTimeout(JobtrailError, TimeoutError):
    """The job waited for did not reach a final status before the timeout.

    ``job_id``, ``job_name``, ``status`` (the job's status when time ran out) and
    ``timeout`` (seconds) say which job, where it was, and how long it was waited for.
    """

    def __init__(self, job_id: int, job_name: str, status: str, timeout: float) -> None:
        self.job_id = job_id
        self.job_name = job_name
        self.status = status
        self.timeout = timeout
        super().__init__(
            f"job {job_id} ({job_name}) did not finish within the {timeout:g}s timeout: "
            f"it is still {status}"
        )

    def __reduce__(self) -> tuple[type[WaitTimeout], tuple[int, str, str, float]]:
        # Like ExpectationError: the default pickling would replay the message alone.
        return (type(self), (self.job_id, self.job_name, self.status, self.timeout))


class QueueFull(JobtrailError):
    """The queue holds as many waiting jobs as its ``max_depth`` allows: nothing was enqueued.

    ``queue``, ``depth`` (jobs waiting when refused) and ``max_depth`` say which and how full.
    """

    def __init__(self, queue: str, depth: int, max_depth: int, adding: int = 1) -> None:
        self.queue = queue
        self.depth = depth
        self.max_depth = max_depth
        self.adding = adding
        what = "1 job" if adding == 1 else f"{adding:,} jobs"
        super().__init__(
            f"queue {queue!r} is full: {depth:,} jobs wait to run and its max_depth is "
            f"{max_depth:,}; {what} not enqueued (enqueue(..., wait=seconds) waits for room)"
        )

    def __reduce__(self) -> tuple[type[QueueFull], tuple[str, int, int, int]]:
        return (type(self), (self.queue, self.depth, self.max_depth, self.adding))


class AccessError(JobtrailError):
    """Access was refused."""


class NotAuthenticated(AccessError):
    """Not a valid token: it is malformed, unknown or revoked."""


class AccessDenied(AccessError, PermissionError):
    """The actor's role does not allow this action."""


class TokenError(JobtrailError, ValueError):
    """The token's name or role cannot be used."""


class TokenNotFound(JobtrailError, LookupError):
    """No live token has this name."""
class DecryptionError(JobtrailError):
    """A stored encrypted value cannot be decrypted: its key is not in the keyring, or it was
    altered."""


class StoreError(JobtrailError):
    """The store could not complete the operation."""


class SchemaOutdated(StoreError):
    """The database schema is older than this version of jobtrail: run `jobtrail db upgrade`."""


class StoreLost(StoreError):
    """The database is gone: its file was deleted, replaced or damaged under this process."""


class StoreRejected(StoreError):
    """The database refused a value it was given: retrying the same write cannot succeed."""


class JobFailure(JobtrailError):
    """Base of the exceptions a job raises to say how its failure should be treated."""


class Transient(JobFailure):
    """A failure worth retrying: the job is tried again after its backoff delay."""


class Permanent(JobFailure):
    """A failure no retry can fix: the job goes to the dead-letter queue at once."""


class JobTimeout(Transient):
    """The attempt ran past the job's timeout."""


class EffectUncertain(Permanent):
    """An earlier attempt began this effect and never recorded its end: it may have happened."""


class ExpectationError(JobtrailError, ValueError):
    """An expectation's text is not valid; `column` (1-based) points at the mistake.

    ``str()`` is the reason and the column on the first line, then the expression
    with a caret under the column.
    """

    def __init__(self, expression: str, column: int, reason: str) -> None:
        self.expression = expression
        self.column = column
        self.reason = reason
        super().__init__(self._render())

    def _render(self) -> str:
        # Tabs and newlines would shift the caret, so show them as single spaces.
        shown = "".join(" " if char.isspace() else char for char in self.expression)
        caret = " " * (self.column - 1) + "^"
        return f"{self.reason} at column {self.column}\n  {shown}\n  {caret}"

    def __reduce__(self) -> tuple[type[ExpectationError], tuple[str, int, str]]:
        # The default pickling replays ``args`` (the message) into __init__, which
        # takes three arguments; errors cross process boundaries in workers.
        return (type(self), (self.expression, self.column, self.reason))


class LockError(JobtrailError, ValueError):
    """The flows lock file is missing, unreadable or of another version."""


class LintError(JobtrailError, ValueError):
    """A job function cannot be linted: its source is not available or is not a ``def``."""


class NoteError(JobtrailError, ValueError):
    """An audit signing key, verifier key or signed checkpoint could not be read or checked."""


class JobExit(BaseException):  # like SystemExit: a way out, not an error
    """Raised by `Context.exit` to end a job on purpose; the worker records the exit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StopNow(BaseException):  # like KeyboardInterrupt: it must cut through `except Exception`
    """Raised in the worker's thread by a second stop signal: leave the loop at once."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())
