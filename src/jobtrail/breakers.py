"""Circuit breakers: after too many failures of a dependency, jobs that need it wait instead
of hammering it, and one probe tells when it is back.

```python
app.breaker("gateway", failures=5, window=60, reset_after=30)


@app.job(breaker="gateway")                 # the whole job needs the gateway
def charge(invoice: int) -> None: ...


@app.job
def sync(ctx: Context, order: int) -> None:
    ctx.effect("push", push, order, key=f"push-{order}", breaker="gateway")   # or one effect
```

The state lives in the store (`jobtrail.store.breakers`), so every worker sees it. A job
that needs an open breaker is **not attempted**: it goes back to its queue until the
breaker's reset time, without spending an attempt or recording a failure (a ``deferred``
event says why). The same for an effect that needs it: the attempt stops there (its steps
are kept, so it resumes after them) and the job is deferred. A failure of a job (or of
the effect) that needs the breaker counts towards opening it; the probe's success closes
it, its failure opens it again. Each change of state is logged
(``jobtrail.breakers``, WARNING when it opens) and recorded on the path of the job that
caused it (``breaker_opened``, ``breaker_half_open``, ``breaker_closed``).

Workers read the states at most every `CACHE_SECONDS` (a closed breaker costs no query per
job); `App.breakers` and `jobtrail breakers` read them from the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jobtrail.errors import ConfigurationError, JobtrailError, StoreError
from jobtrail.limits import HORIZON
from jobtrail.records import ErrorInfo, Status
from jobtrail.store.base import ClaimedJob, Outcome, PathEvent, Store
from jobtrail.store.breakers import Action, BreakerRecord, BreakerSettings
from jobtrail.text import name_error, shown

if TYPE_CHECKING:
    from jobtrail.context import Context

log = logging.getLogger("jobtrail.breakers")

#: How long a worker trusts the states it read.
CACHE_SECONDS = 0.5
#: The longest a probe holds a half-open breaker when its job sets no timeout.
PROBE_LEASE = 60.0
#: How soon a job held back by a half-open breaker (its probe running) is tried again.
HALF_OPEN_RETRY = 1.0


class BreakerOpen(JobtrailError):
    """A breaker the job needs is open: the job is deferred, not failed."""

    def __init__(self, name: str, retry_after: float) -> None:
        self.name = name
        self.retry_after = retry_after
        super().__init__(f"breaker {name!r} is open: tried again in {retry_after:.1f}s")

    def __reduce__(self) -> tuple[type[BreakerOpen], tuple[str, float]]:
        return (type(self), (self.name, self.retry_after))


@dataclass(frozen=True, slots=True)
class Breaker:
    """A breaker as declared with `App.breaker`."""

    name: str
    failures: int = 5
    window: float = 60.0
    reset_after: float = 30.0

    def settings(self, lease: float = PROBE_LEASE) -> BreakerSettings:
        return BreakerSettings(self.failures, self.window, self.reset_after, lease)


def make_breaker(name: Any, *, failures: Any = 5, window: Any = 60.0,
                 reset_after: Any = 30.0) -> Breaker:
    """The `Breaker` of ``app.breaker(...)``; `ConfigurationError` naming it for bad options."""
    problem = name_error("breaker", name)
    if problem:
        raise ConfigurationError(f"app.breaker: {problem}")
    if isinstance(failures, bool) or not isinstance(failures, int) or not 1 <= failures <= 10_000:
        raise ConfigurationError(
            f"breaker {name!r}: failures must be an int from 1 to 10,000, got {shown(failures)}")
    for option, value in (("window", window), ("reset_after", reset_after)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not (
                0 < value <= HORIZON):
            raise ConfigurationError(
                f"breaker {name!r}: {option} must be a positive number of seconds, got "
                f"{shown(value)}")
    return Breaker(name, failures, float(window), float(reset_after))


class Breakers:
    """An app's breakers: the declared ones, and the states its workers last read."""

    def __init__(self, store: Any) -> None:
        self._store = store  # a callable giving the app's store (opened lazily)
        self.declared: dict[str, Breaker] = {}
        self._states: dict[str, BreakerRecord] = {}
        self._read_at = 0.0
        self._lock = threading.Lock()

    @property
    def store(self) -> Store:
        store: Store = self._store()
        return store

    def check(self, owner: str, name: Any) -> str:
        """*name* as a breaker *owner* needs: `ConfigurationError` when none is declared."""
        if not isinstance(name, str) or name not in self.declared:
            known = ", ".join(sorted(self.declared)) or "none is declared"
            raise ConfigurationError(f"{owner}: no breaker named {shown(name)} (known: {known}; "
                                     "declare it with app.breaker(name, ...))")
        return name

    def state(self, name: str) -> BreakerRecord:
        """The state of *name* as last read (read again when older than `CACHE_SECONDS`)."""
        now = time.monotonic()
        with self._lock:
            if now - self._read_at > CACHE_SECONDS:
                self._states = self.store.breakers(sorted(self.declared))
                self._read_at = now
            return self._states.get(name) or BreakerRecord(name)

    def enter(self, name: str, lease: float | None) -> BreakerRecord | None:
        """Before a call that needs *name*: ``None`` when the breaker is closed, the
        breaker when the call is its probe. `BreakerOpen` when the call must wait."""
        record = self.state(name)
        if record.state == "closed":
            return None
        breaker = self.declared[name]
        answer = self._apply(name, "probe", lease)
        if answer.granted:
            return answer
        until = answer.reopens_at(breaker.settings())
        if answer.state != "open" or until is None:  # half-open: its probe decides soon
            wait = HALF_OPEN_RETRY
        else:
            wait = max(0.0, until - time.time())
        raise BreakerOpen(name, max(wait, 0.05))

    def record(self, name: str, *, failed: bool, probe: bool) -> BreakerRecord | None:
        """After a call that needed *name*: count its failure, or close the breaker its
        probe succeeded on. The new record when the state changed, else ``None``."""
        if not failed and not probe and self.state(name).state == "closed":
            return None  # the usual case: no write
        after = self._apply(name, "failure" if failed else "success", None)
        return after if after.state != after.was else None

    def force(self, name: str, action: Action) -> BreakerRecord:
        """Set *name* ``open`` or ``closed`` by hand."""
        return self._apply(name, action, None)

    def _apply(self, name: str, action: Action, lease: float | None) -> BreakerRecord:
        breaker = self.declared[name]
        after = self.store.breaker_apply(name, action, breaker.settings(lease or PROBE_LEASE))
        with self._lock:
            self._states[name] = after
        if after.state != after.was:  # this change moved it
            level = logging.WARNING if after.state == "open" else logging.INFO
            log.log(level, "breaker %s is %s (%s)", name, after.state.replace("_", "-"), action)
        return after

    def records(self) -> Mapping[str, BreakerRecord]:
        """Every declared breaker's state, read now."""
        found = self.store.breakers(sorted(self.declared))
        return {name: found.get(name) or BreakerRecord(name) for name in sorted(self.declared)}


# -- what an attempt does with the breaker its job (or an effect) needs ----------------------
def gate(ctx: Context, name: str, timeout: float | None) -> bool:
    """Before a call of *ctx*'s job that needs the breaker *name*: whether it is the probe
    (recorded on the path). `BreakerOpen` when it must wait. A store that cannot answer
    lets the call through (a breaker guards a dependency, not the store; the call's own
    errors still count once it answers)."""
    try:
        probe = ctx.breakers.enter(name, timeout)
    except StoreError as exc:
        log.warning("breaker %s: its state could not be read (%s); the call goes through",
                    name, exc)
        return False
    if probe is None:
        return False
    if probe.state != probe.was:
        ctx.add_event(PathEvent("lifecycle", f"breaker_{probe.state}", time.time(), None,
                                {"breaker": name}))
    return True


def report(ctx: Context, name: str, *, failed: bool, probe: bool) -> None:
    """After a call that needed *name*: the breaker told, and a change of its state
    recorded on the path of the job that caused it."""
    try:
        changed = ctx.breakers.record(name, failed=failed, probe=probe)
    except StoreError as exc:
        log.warning("breaker %s: the %s could not be recorded (%s)", name,
                    "failure" if failed else "success", exc)
        return
    if changed is not None:
        ctx.add_event(PathEvent("lifecycle", f"breaker_{changed.state}", time.time(), None,
                                {"breaker": name}))


def deferred(claimed: ClaimedJob, exc: BreakerOpen) -> Outcome:
    """A job whose breaker is open, sent back to its queue until it may probe: the attempt
    it was claimed for is not counted."""
    return Outcome(claimed.id, claimed.attempt, Status.RETRYING,
                   error=ErrorInfo(f"{__name__}.{type(exc).__qualname__}", str(exc)),
                   retry_delay=exc.retry_after,
                   uncounted=True, claim=claimed.claim)
