"""The delivery guarantee a job type gives, declared or derived from its code.

- ``at_most_once``: the job never runs twice — one attempt only (``Retry(max_attempts=1)``);
  a lost worker dead-letters it instead of running it again.
- ``effectively_once``: it may run again, but each of its side effects is a ``ctx.effect``
  with an explicit ``key=`` (or declared ``repeat_safe=True``), so no effect happens twice.
- ``at_least_once``: it may run again after a failure or a lost worker, and jobtrail
  cannot see that its side effects are guarded. The honest default.

Derivation reads the job function's source with `ast` and looks at its ``.effect(...)``
calls: it cannot see effects performed in other functions, so declare
``@app.job(guarantee=...)`` when the code says more than the calls show.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from jobtrail.errors import JobDefinitionError
from jobtrail.retry import Retry

Guarantee = Literal["at_most_once", "at_least_once", "effectively_once"]
GUARANTEES: tuple[str, ...] = ("at_most_once", "at_least_once", "effectively_once")


class Guaranteed(Protocol):
    """What the derivation reads of a job type (a `JobDef` is one)."""

    @property
    def fn(self) -> Callable[..., Any]: ...
    @property
    def retry(self) -> Retry: ...
    @property
    def declared_guarantee(self) -> Guarantee | None: ...


@dataclass(frozen=True, slots=True)
class EffectCall:
    """A ``ctx.effect(...)`` call found in a job's source."""

    name: str | None
    keyed: bool
    repeat_safe: bool
    line: int


def check_guarantee(job_name: str, value: object) -> Guarantee | None:
    """Validate a declared guarantee."""
    if value is None:
        return None
    if value not in GUARANTEES:
        raise JobDefinitionError(
            f"job {job_name!r}: guarantee={value!r} is not one of {', '.join(GUARANTEES)}"
        )
    return value  # type: ignore[return-value]


def effect_calls(fn: Any) -> list[EffectCall] | None:
    """The ``*.effect(...)`` calls in *fn*'s source in source order (``line`` counts from
    the first line of its source, decorators included), or ``None`` when it has no source."""
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return None
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr != "effect":
            continue
        first = node.args[0] if node.args else None
        name = None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            name = first.value
        keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
        safe = keywords.get("repeat_safe")
        found.append(
            EffectCall(
                name=name,
                keyed="key" in keywords,
                repeat_safe=isinstance(safe, ast.Constant) and safe.value is True,
                line=node.lineno,
            )
        )
    return sorted(found, key=lambda call: call.line)


def derive_guarantee(definition: Guaranteed) -> Guarantee:
    """The guarantee *definition* gives, as far as its retry policy and source show."""
    return _derivation(definition)[0]


def explain_guarantee(definition: Guaranteed) -> str:
    """One line saying why *definition* has its guarantee (`JobDef.guarantee`).

    Derived: ``"one attempt only"``, ``"every effect is keyed: charge, send_receipt"``,
    ``"retried up to 5 attempts and effect 'email' has no key"``. Declared (``@app.job(
    guarantee=...)``): ``"declared; the code agrees: ..."`` or ``"declared; the code alone
    shows at_least_once: ..."``.
    """
    derived, reason = _derivation(definition)
    declared = definition.declared_guarantee
    if declared is None:
        return reason
    if declared == derived:
        return f"declared; the code agrees: {reason}"
    return f"declared; the code alone shows {derived}: {reason}"


def _derivation(definition: Guaranteed) -> tuple[Guarantee, str]:
    """The derived guarantee and the reason for it, in one pass over the source."""
    attempts = definition.retry.max_attempts
    if attempts == 1:
        return "at_most_once", "one attempt only"
    retried = f"retried up to {attempts} attempts"
    calls = effect_calls(definition.fn)
    if calls is None:
        return "at_least_once", f"{retried} and its source cannot be read to find its effects"
    if not calls:
        return "at_least_once", f"{retried} and its code has no ctx.effect calls"
    unguarded = [call for call in calls if not (call.keyed or call.repeat_safe)]
    if unguarded:
        names = ", ".join(_label(call) for call in unguarded)
        verb = "has" if len(unguarded) == 1 else "have"
        noun = "effect" if len(unguarded) == 1 else "effects"
        return "at_least_once", f"{retried} and {noun} {names} {verb} no key"
    labels = [
        _label(call, quoted=False) + ("" if call.keyed else " (repeat-safe)") for call in calls
    ]
    keyed = "keyed" if all(call.keyed for call in calls) else "keyed or repeat-safe"
    return "effectively_once", f"every effect is {keyed}: {', '.join(labels)}"


def _label(call: EffectCall, *, quoted: bool = True) -> str:
    """An effect as a reason names it: ``'charge'``, or where its computed name is made."""
    if call.name is None:
        return f"<computed name, line {call.line} of the function>"
    return repr(call.name) if quoted else call.name
