"""Lint job functions: mistakes in a job's path that its source shows before any run.

`lint_function` reads one job function's source (with `inspect` and `ast`, never running
it); `lint_app` lints every job an app declares (an `App`, or any `JobRegistry`). Each
returns the `LintFinding` list and the findings silenced by a ``# jobtrail: allow <rule> —
<reason>`` comment (`Suppressed`). docs/flow-lint.md shows each rule with a bad and a
good example.

One module per rule, whose docstring states it exactly: `silent_exit`, `unkeyed_effect`,
`swallowed_exception`, `side_effect_outside_effect`, `unreachable`. Around them:
`config` (the rule names and `LintConfig`), `finding` (what is reported), `source`
(reading a function and its context parameter), `subject` (what every rule reads and
reports on), `suppress` (the comments) and `engine` (running it all).

A job takes a context when its first parameter is annotated ``Context`` (by name or as
``x.Context``) or is unannotated and named ``ctx`` or ``context``
(`LintConfig.context_names`); `lint_app` uses the job's own ``takes_context``. A job
without a context can record nothing, so its side effects and early returns are flagged
all the same, with that in the message.
"""

from jobtrail.errors import LintError
from jobtrail.flows.lint.config import (
    BAD_SUPPRESSION,
    DEFAULT_CONFIG,
    DEFAULT_CONTEXT_NAMES,
    DEFAULT_SIDE_EFFECT_CALLS,
    RULES,
    SIDE_EFFECT_OUTSIDE_EFFECT,
    SILENT_EXIT,
    SWALLOWED_EXCEPTION,
    UNKEYED_EFFECT,
    UNREACHABLE,
    LintConfig,
)
from jobtrail.flows.lint.engine import lint_app, lint_function
from jobtrail.flows.lint.finding import LintFinding, Suppressed
from jobtrail.flows.lint.subject import RECORDING_METHODS

__all__ = [
    "BAD_SUPPRESSION",
    "DEFAULT_CONFIG",
    "DEFAULT_CONTEXT_NAMES",
    "DEFAULT_SIDE_EFFECT_CALLS",
    "RECORDING_METHODS",
    "RULES",
    "SIDE_EFFECT_OUTSIDE_EFFECT",
    "SILENT_EXIT",
    "SWALLOWED_EXCEPTION",
    "UNKEYED_EFFECT",
    "UNREACHABLE",
    "LintConfig",
    "LintError",
    "LintFinding",
    "Suppressed",
    "lint_app",
    "lint_function",
]
