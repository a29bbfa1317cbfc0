"""Compensations: undoing a dead job's completed effects, newest first (a saga).

``ctx.effect("charge", charge, card, key=f"charge-{order}", compensate=refund)`` registers
``refund`` for the effect once it completed (or was replayed from an earlier attempt). When
the attempt ends the job ``dead`` (a permanent error, its last attempt failing, an
uncertain effect), its registered compensations run there and then, in reverse order:

- each is itself an effect, named ``compensated:<name>``, keyed ``<effect key>:compensated``,
  so it runs at most once however often the job is replayed, and is on the path;
- it is called with the effect's result when it takes one argument, else with none;
- one that raises is tried again, up to the job's ``max_attempts`` tries, after the job's
  retry delays (each at most `MAX_PAUSE` seconds: the worker slot waits meanwhile); one
  that still fails is listed as not undone, never dropped silently, and the others still
  run.

What was undone and what was not is added to the dead job's error message, and recorded as
a ``compensated`` event with the lists (``undone``, ``not_undone``).

Only effects whose ``ctx.effect`` call ran in the attempt that ended the job are known:
an effect completed in an earlier attempt that this one did not reach again, or a job that
died with its worker (its lease ran out on its last attempt), leaves effects not undone —
`jobtrail dlq show` lists the job's completed effects.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jobtrail.errors import EffectUncertain
from jobtrail.text import shown

if TYPE_CHECKING:
    from jobtrail.context import Context
    from jobtrail.retry import Retry

#: The longest pause between two tries of a compensation, in seconds.
MAX_PAUSE = 5.0


@dataclass(frozen=True, slots=True)
class Compensation:
    """A completed effect's undo: its name and key, the callable, the effect's result."""

    name: str
    key: str
    undo: Callable[..., Any]
    result: Any


@dataclass
class CompensationReport:
    """What the compensations of a dead job did."""

    undone: list[str] = field(default_factory=list)
    not_undone: list[tuple[str, str]] = field(default_factory=list)  # (name, why)

    def summary(self) -> str:
        """The words added to the dead job's error."""
        parts = []
        if self.undone:
            parts.append("undone " + ", ".join(self.undone))
        if self.not_undone:
            parts.append("NOT undone " + "; ".join(f"{name} ({why})"
                                                   for name, why in self.not_undone))
        return "compensations: " + "; ".join(parts)


def check_undo(job_name: str, effect: str, undo: Any) -> None:
    """``compensate=`` must be callable with the effect's result or with nothing."""
    if not callable(undo):
        raise TypeError(f"job {job_name!r}: effect {effect!r}: compensate must be a function "
                        f"(called with the effect's result, or with nothing), got {shown(undo)}")


def run(ctx: Context, compensations: list[Compensation], retry: Retry) -> CompensationReport:
    """Run *compensations* newest first, each once per key, retried as the module says."""
    report = CompensationReport()
    seen: set[str] = set()
    for item in reversed(compensations):
        if item.key in seen:
            continue
        seen.add(item.key)
        problem = _undo(ctx, item, retry)
        if problem is None:
            report.undone.append(item.name)
        else:
            report.not_undone.append((item.name, problem))
    return report


def _undo(ctx: Context, item: Compensation, retry: Retry) -> str | None:
    """Run one compensation: ``None`` once it is done, else why it is not."""
    call = _call(item)
    tries = max(1, retry.max_attempts)
    for attempt in range(1, tries + 1):
        try:
            ctx.perform(f"compensated:{item.name}", call, (), {}, f"{item.key}:compensated")
            return None
        except EffectUncertain as exc:  # an earlier try began it and never recorded its end
            return f"may or may not have run: {exc}"
        except Exception as exc:
            if attempt == tries:
                return f"{type(exc).__name__}: {exc}"
            time.sleep(min(MAX_PAUSE, retry.delay(attempt, None)))
    return None  # pragma: no cover - the loop returns


def _call(item: Compensation) -> Callable[[], Any]:
    """The compensation as a call without arguments: given the result if it takes one."""
    try:
        parameters = inspect.signature(item.undo).parameters.values()
        takes_result = any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
                           for p in parameters)
    except (TypeError, ValueError):  # no signature to read (a builtin): give it the result
        takes_result = True
    if takes_result:
        return lambda: item.undo(item.result)
    return item.undo
