"""The flow lint's vocabulary and settings: the rule names and `LintConfig`."""

from __future__ import annotations

from dataclasses import dataclass

from jobtrail.errors import ConfigurationError

SILENT_EXIT = "silent-exit"
UNKEYED_EFFECT = "unkeyed-effect"
SWALLOWED_EXCEPTION = "swallowed-exception"
SIDE_EFFECT_OUTSIDE_EFFECT = "side-effect-outside-effect"
UNREACHABLE = "unreachable"
#: The rules a comment may allow, in the order the docs present them.
RULES: tuple[str, ...] = (
    SILENT_EXIT, UNKEYED_EFFECT, SWALLOWED_EXCEPTION, SIDE_EFFECT_OUTSIDE_EFFECT, UNREACHABLE,
)
#: A ``# jobtrail:`` comment that silences nothing; it cannot itself be allowed.
BAD_SUPPRESSION = "bad-suppression"
DEFAULT_SIDE_EFFECT_CALLS = frozenset({"send_email", "charge", "refund", "post", "publish"})
DEFAULT_CONTEXT_NAMES = frozenset({"ctx", "context"})


@dataclass(frozen=True, slots=True)
class LintConfig:
    """What the lint looks for.

    - ``side_effect_calls``: names of calls (the bare name or the last attribute) that
      must only happen inside ``ctx.effect``; default ``send_email``, ``charge``,
      ``refund``, ``post``, ``publish``. Extend it with your own:
      ``LintConfig(side_effect_calls=DEFAULT_SIDE_EFFECT_CALLS | {"ship"})``.
    - ``rules``: the rules to run (default: all of `RULES`). ``bad-suppression`` always runs.
    - ``context_names``: names an *unannotated* first parameter may have to be taken for
      the context when `lint_function` infers it (default ``ctx``, ``context``, as
      ``@app.job`` does).
    - ``strict_repeat_safe``: also flag ``ctx.effect(...)`` without ``key=`` whose
      ``repeat_safe=`` is an expression rather than the literal ``True`` (default
      ``False``: a computed value is taken as a deliberate choice).
    """

    side_effect_calls: frozenset[str] = DEFAULT_SIDE_EFFECT_CALLS
    rules: frozenset[str] = frozenset(RULES)
    context_names: frozenset[str] = DEFAULT_CONTEXT_NAMES
    strict_repeat_safe: bool = False

    def __post_init__(self) -> None:
        for field in ("side_effect_calls", "rules", "context_names"):
            value = getattr(self, field)
            if isinstance(value, str) or not all(isinstance(v, str) and v for v in value):
                raise ConfigurationError(
                    f"LintConfig({field}={value!r}): must be a set of non-empty str"
                )
            object.__setattr__(self, field, frozenset(value))
        unknown = sorted(self.rules - set(RULES))
        if unknown:
            raise ConfigurationError(
                f"LintConfig(rules=...): unknown rule(s) {', '.join(unknown)} "
                f"(known: {', '.join(RULES)})"
            )
        if not isinstance(self.strict_repeat_safe, bool):
            raise ConfigurationError(
                f"LintConfig(strict_repeat_safe={self.strict_repeat_safe!r}): must be a bool"
            )


DEFAULT_CONFIG = LintConfig()
