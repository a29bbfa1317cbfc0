"""Running the flow lint: the enabled rules over a job, then its suppression comments.

`lint_function` lints one job function, `lint_app` every job an app declares. Each rule
reports on a `Subject`; a finding on a line that a valid ``# jobtrail: allow <rule> —
<reason>`` comment covers comes back as `Suppressed`, and a ``# jobtrail:`` comment that
is not a valid directive is itself a ``bad-suppression`` finding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from jobtrail.flows.declared import JobRegistry
from jobtrail.flows.lint import (
    side_effect_outside_effect,
    silent_exit,
    swallowed_exception,
    unkeyed_effect,
    unreachable,
)
from jobtrail.flows.lint.config import (
    BAD_SUPPRESSION,
    DEFAULT_CONFIG,
    RULES,
    SIDE_EFFECT_OUTSIDE_EFFECT,
    SILENT_EXIT,
    SWALLOWED_EXCEPTION,
    UNKEYED_EFFECT,
    UNREACHABLE,
    LintConfig,
)
from jobtrail.flows.lint.finding import LintFinding, Suppressed, order
from jobtrail.flows.lint.source import context_parameter, first_parameter, read
from jobtrail.flows.lint.subject import Subject, clip
from jobtrail.flows.lint.suppress import SYNTAX, Directive, read_directives

#: Each rule's check, in the order of `RULES`.
CHECKS: Final[dict[str, Callable[[Subject], None]]] = {
    SILENT_EXIT: silent_exit.check,
    UNKEYED_EFFECT: unkeyed_effect.check,
    SWALLOWED_EXCEPTION: swallowed_exception.check,
    SIDE_EFFECT_OUTSIDE_EFFECT: side_effect_outside_effect.check,
    UNREACHABLE: unreachable.check,
}
Report = tuple[list[LintFinding], list[Suppressed]]


def lint_function(
    fn: Callable[..., Any],
    *,
    job_name: str,
    ctx_name: str | None = None,
    config: LintConfig = DEFAULT_CONFIG,
) -> Report:
    """Lint one job function; return its findings and its suppressed findings, each
    sorted by line.

    *ctx_name* is the name of its context parameter; ``None`` infers it from the first
    parameter (see `jobtrail.flows.lint.source`). Raise `LintError` when the source of
    *fn* cannot be read."""
    return _lint(fn, job_name, ctx_name, infer=ctx_name is None, config=config)


def lint_app(app: JobRegistry, config: LintConfig = DEFAULT_CONFIG) -> Report:
    """Lint every job of *app*'s registry; findings and suppressed findings come sorted
    by file, then line. Raise `LintError` naming a job whose source cannot be read."""
    findings: list[LintFinding] = []
    suppressed: list[Suppressed] = []
    for name, definition in app.registry.items():
        ctx_name = first_parameter(definition.fn) if definition.takes_context else None
        found, silenced = _lint(definition.fn, name, ctx_name, infer=False, config=config)
        findings.extend(found)
        suppressed.extend(silenced)
    findings.sort(key=order)
    suppressed.sort(key=lambda item: order(item.finding))
    return findings, suppressed


def _lint(
    fn: Callable[..., Any], job_name: str, ctx_name: str | None, *, infer: bool,
    config: LintConfig,
) -> Report:
    source = read(fn, job_name)
    if infer:
        ctx_name = context_parameter(source.node, config)
    subject = Subject(source.node, job_name=job_name, file=source.file, shift=source.shift,
                      ctx=ctx_name, config=config)
    for rule in RULES:
        if rule in config.rules:
            CHECKS[rule](subject)
    directives = read_directives(source.text, first_line=source.shift + 1, rules=RULES)
    findings: list[LintFinding] = []
    suppressed: list[Suppressed] = []
    for finding in subject.findings:
        directive = _allowing(directives, finding)
        if directive is None:
            findings.append(finding)
        else:
            suppressed.append(Suppressed(finding, directive.reason))
    for directive in directives:
        if directive.problem is not None:
            findings.append(LintFinding(
                BAD_SUPPRESSION, job_name, source.file, directive.line,
                f"job {job_name!r}: `{clip(directive.text)}` {directive.problem}, so it "
                f"silences nothing; write `{SYNTAX}`",
            ))
    findings.sort(key=order)
    suppressed.sort(key=lambda item: order(item.finding))
    return findings, suppressed


def _allowing(directives: Sequence[Directive], finding: LintFinding) -> Directive | None:
    for directive in directives:
        if directive.allows(finding.rule, finding.line):
            return directive
    return None
