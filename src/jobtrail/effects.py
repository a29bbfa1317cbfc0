"""Performing a side effect at most once per key, across attempts, workers and crashes.

The protocol, each write durable before the next step:

1. ``begin_effect`` records the intent (``started``), and with it the path entries the
   attempt recorded since its last write — unless the key is already ``done``
   (return the recorded result, call nothing) or ``started`` by an earlier attempt that
   never recorded its end (nobody knows whether it happened: `EffectUncertain`).
2. The call.
3. ``end_effect`` records ``done`` with the result, or ``failed`` with the error, and
   with it the effect's entry on the path.

So a worker killed right after an effect loses nothing it recorded up to the effect:
only what it records after the effect's end waits for the next write (a heartbeat's
checkpoint, the next effect, the attempt's outcome).

A crash between 1 and 3 leaves ``started``: the next attempt will not repeat the call
blindly. An effect declared ``repeat_safe`` is simply called again in that case.

An intent whose write failed through every retry may have committed all the same (the
answer lost with the connection). The call was not made, so the key goes in the
attempt's ``uncalled_keys``, and the attempt's outcome withdraws the intent while its claim
still holds the job (`Outcome.withdrawn`): the next attempt calls the effect once instead
of finding it uncertain. Only an outcome the attempt's own code reached withdraws
anything (not the watchdog's, while the code may still run on).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

from jobtrail.errors import EffectUncertain, LeaseLost, StoreError, StoreRejected
from jobtrail.records import PointKind
from jobtrail.redaction import Redactor
from jobtrail.secrecy import EFFECT_KEY, effect_result, opened_result, sealed_keys
from jobtrail.store.base import EffectRecord, PathEvent, Store
from jobtrail.text import storable

T = TypeVar("T")


class EffectScope(Protocol):
    """The attempt an effect is performed for (its `Context`)."""

    @property
    def job_id(self) -> int: ...
    @property
    def claim(self) -> int: ...
    @property
    def attempt(self) -> int: ...
    @property
    def redactor(self) -> Redactor | None: ...
    @property
    def unsure_keys(self) -> set[str]:
        """Keys begun in this attempt whose end could not be recorded."""
        ...
    @property
    def uncalled_keys(self) -> set[str]:
        """Keys whose intent this attempt could not record (it may be stored) and whose
        call it did not make."""
        ...

    def add_event(self, event: PathEvent) -> None: ...
    def checkpointing(self) -> AbstractContextManager[list[PathEvent]]:
        """The entries recorded since the last write, counted as written if the block
        ends without an error."""
        ...


log = logging.getLogger("jobtrail.effects")

END_RETRIES = (0.05, 0.2, 1.0, 3.0)
BEGIN_RETRIES = (0.05, 0.2, 1.0)


def perform_effect(
    store: Store,
    ctx: EffectScope,
    name: str,
    fn: Callable[..., T],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    key: str,
    repeat_safe: bool,
) -> T:
    """Run one ``ctx.effect`` (see the module docstring). A *key* that holds a sensitive
    value of the job is stored sealed, and a result that holds one encrypted, when the app
    has an encryption key (`jobtrail.secrecy`)."""
    stored = _stored_key(store, ctx, key)
    if stored in ctx.unsure_keys:
        raise EffectUncertain(
            f"effect {name!r} (key {key!r}) was called earlier in this attempt and its end "
            "could not be recorded: it may have happened, so it is not called again"
        )
    existing = _begin(store, ctx, name, stored, repeat_safe)
    ctx.uncalled_keys.discard(stored)  # begun after all: its call may be made from here on
    if existing is not None and existing.status == "done":
        replayed: dict[str, Any] = {"key": key, "replayed": True}
        if existing.repeated:  # the attempt that ran it again failed: keep the flag
            replayed["repeated"] = True
        ctx.add_event(PathEvent(PointKind.EFFECT, name, time.time(), 0.0, replayed))
        keyring = None if ctx.redactor is None else ctx.redactor.keyring
        value: T = (None if existing.result is None  # type: ignore[assignment]
                    else opened_result(keyring, name, key, existing.result))
        return value
    repeated = existing is not None and repeat_safe
    if existing is not None and not repeated:
        raise EffectUncertain(
            f"effect {name!r} (key {key!r}) was started by attempt {existing.attempt} of job "
            f"{existing.job_id} and its end was never recorded: it may have happened. Check, "
            f"then app.resolve_effect({ctx.job_id}, {name!r}, 'done' or 'not_done') and replay"
        )
    started = time.perf_counter()
    at = time.time()
    try:
        value = fn(*args, **kwargs)
    except BaseException as exc:
        message = storable(f"{type(exc).__name__}: {exc}")
        failed: dict[str, Any] = {"key": key, "error": type(exc).__name__}
        if repeated:
            failed["repeated"] = True
        ctx.add_event(PathEvent(PointKind.EFFECT, name, at, time.perf_counter() - started, failed))
        _end(store, stored, ctx, None, ctx.redactor.text(message) if ctx.redactor else message)
        raise
    duration = time.perf_counter() - started
    try:
        text: str | None = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        log.warning("effect %r of job %s returned a %s, which is not JSON: recorded as null",
                    name, ctx.job_id, type(value).__name__)
        text = None
    attrs: dict[str, Any] = {"key": key, "repeated": True} if repeated else {"key": key}
    ctx.add_event(PathEvent(PointKind.EFFECT, name, at, duration, attrs))
    _end(store, stored, ctx, effect_result(ctx.redactor, key, text), None)
    return value


def _stored_key(store: Store, ctx: EffectScope, key: str) -> str:
    """*key* as the store holds it: sealed under the current key, unless the job holds it
    sealed under an older one (the keys were changed and not rotated yet)."""
    candidates = sealed_keys(ctx.redactor, key, EFFECT_KEY)
    if len(candidates) > 1:
        held = {effect.key for effect in store.effects(ctx.job_id)}
        return next((c for c in candidates if c in held), candidates[0])
    return candidates[0]


def _begin(store: Any, ctx: EffectScope, name: str, key: str,
           repeat_safe: bool) -> EffectRecord | None:
    """Record the intent, with the path entries recorded since the last write (so they
    survive a crash during the call), retrying briefly when the database is away: an
    intent whose write committed but whose answer was lost is this claim's own, and begun
    again (its entries are not written twice)."""
    for pause in (*BEGIN_RETRIES, None):
        try:
            with ctx.checkpointing() as segment:
                found: EffectRecord | None = store.begin_effect(
                    ctx.job_id, ctx.claim, ctx.attempt, name, key, repeat_safe, segment)
            return found
        except (LeaseLost, StoreRejected):
            raise
        except StoreError:
            if pause is None:  # the intent may be stored: withdrawn with the outcome
                ctx.uncalled_keys.add(key)
                raise
            log.warning("could not record the intent of effect %r; retrying", _shown(ctx, key))
            time.sleep(pause)
    raise AssertionError("unreachable")


def _end(store: Any, key: str, ctx: EffectScope, result: str | None, error: str | None) -> None:
    """Record the end of the call, retrying briefly: the call has happened, and an end
    that is never written makes the effect uncertain for the next attempt (and for this
    one: it will not call the key again)."""
    for pause in (*END_RETRIES, None):
        try:
            with ctx.checkpointing() as segment:  # the effect's entry is the last of them
                store.end_effect(key, ctx.job_id, ctx.claim, result, error, segment)
            return
        except StoreError:
            if pause is None:
                ctx.unsure_keys.add(key)
                raise
            log.warning("could not record the end of effect %r; retrying", _shown(ctx, key))
            time.sleep(pause)


def _shown(ctx: EffectScope, key: str) -> str:
    """*key* as a log line may show it: the job's sensitive values masked."""
    return ctx.redactor.text(key) if ctx.redactor else key
