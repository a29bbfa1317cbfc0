"""The flow lint on real job functions: every rule, its good twin, suppression comments,
the configuration and `lint_app` on a real App."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jobtrail import App, Context
from jobtrail import Context as JobContext
from jobtrail.errors import ConfigurationError
from jobtrail.flows.lint import (
    BAD_SUPPRESSION,
    DEFAULT_SIDE_EFFECT_CALLS,
    RULES,
    SIDE_EFFECT_OUTSIDE_EFFECT,
    SILENT_EXIT,
    SWALLOWED_EXCEPTION,
    UNKEYED_EFFECT,
    UNREACHABLE,
    LintConfig,
    LintError,
    LintFinding,
    Suppressed,
    lint_app,
    lint_function,
)
from tests.flows_lint import corpus_lint as corpus
from tests.flows_lint.corpus_lint import charge

CORPUS = inspect.getsourcefile(corpus)
HERE = __file__


def line_of(fn: Callable[..., Any], text: str) -> int:
    """The file line of the one line of *fn*'s source that contains *text*."""
    lines, start = inspect.getsourcelines(fn)
    hits = [start + index for index, line in enumerate(lines) if text in line]
    assert len(hits) == 1, f"{text!r} is on {len(hits)} lines of {fn.__name__}"
    return hits[0]


def lint(fn: Callable[..., Any], **options: Any) -> list[LintFinding]:
    """The unsuppressed findings of *fn*, linted under its own name."""
    findings, _ = lint_function(fn, job_name=fn.__name__, **options)
    return findings


def where(findings: list[LintFinding]) -> list[tuple[str, int]]:
    """The (rule, line) of each finding, in order."""
    return [(finding.rule, finding.line) for finding in findings]


# -- silent-exit ------------------------------------------------------------------------


def test_silent_exit_fires_on_a_bare_early_return_at_its_file_line() -> None:
    """A bare `return` before the end is one silent-exit finding at the return's real line."""
    fn = corpus.silent_exit_bad
    (finding,) = lint(fn)
    assert (finding.rule, finding.file, finding.line) == (SILENT_EXIT, CORPUS, line_of(fn, "return"))
    assert finding.job_name == "silent_exit_bad"
    assert "job 'silent_exit_bad': `return` ends the job early" in finding.message
    assert 'write `return ctx.exit("<reason>")`' in finding.message
    assert str(finding) == f"{CORPUS}:{finding.line}: silent-exit: {finding.message}"
    assert "\n" not in finding.message


def test_silent_exit_on_an_early_value_return_suggests_an_exit_or_an_if_else() -> None:
    """`return cached` followed by more code is early, and the message offers both fixes."""
    fn = corpus.silent_exit_value_bad
    (finding,) = lint(fn)
    assert where([finding]) == [(SILENT_EXIT, line_of(fn, "return cached"))]
    assert "`return cached` ends the job early" in finding.message
    assert "an if/else whose branches all return" in finding.message


def test_silent_exit_fires_on_a_return_inside_a_loop_even_at_the_end() -> None:
    """A return in a loop's body skips the remaining iterations, so it is early."""
    fn = corpus.silent_exit_in_loop_bad
    (finding,) = lint(fn)
    assert where([finding]) == [(SILENT_EXIT, line_of(fn, "return"))]
    assert "from inside a loop, skipping its remaining iterations" in finding.message


def test_silent_exit_in_a_job_without_context_says_it_cannot_record() -> None:
    """A job that takes no Context is told to take one in order to record its exit."""
    fn = corpus.silent_exit_without_context_bad
    (finding,) = lint(fn)
    assert where([finding]) == [(SILENT_EXIT, line_of(fn, "return 0"))]
    assert "takes no Context" in finding.message


@pytest.mark.parametrize("fn", [
    corpus.silent_exit_good, corpus.silent_exit_tail_good, corpus.silent_exit_match_good,
])
def test_silent_exit_good_twins_do_not_fire(fn: Callable[..., Any]) -> None:
    """`return ctx.exit(...)`, tail returns of if/else, with, try, match and loop-else,
    and returns in nested functions are not early exits."""
    assert lint(fn) == []


# -- unkeyed-effect ---------------------------------------------------------------------


def test_unkeyed_effect_fires_without_key_with_key_none_and_with_repeat_safe_false() -> None:
    """Each effect left on the per-job key is a finding naming the effect and its default key."""
    fn = corpus.unkeyed_effect_bad
    findings = lint(fn)
    assert where(findings) == [
        (UNKEYED_EFFECT, line_of(fn, '"charge"')),
        (UNKEYED_EFFECT, line_of(fn, '"refund"')),
        (UNKEYED_EFFECT, line_of(fn, '"publish"')),
    ]
    charge_msg, refund_msg, publish_msg = (finding.message for finding in findings)
    assert "`ctx.effect('charge', ...)` has no key=" in charge_msg
    assert '"<job id>:charge"' in charge_msg
    assert 'key=f"charge-{...}"' in charge_msg
    assert "passes key=None" in refund_msg
    assert "repeat_safe=False is not a literal True" in publish_msg


def test_unkeyed_effect_good_twin_does_not_fire() -> None:
    """A business key, repeat_safe=True, or a computed repeat_safe= are not findings."""
    assert lint(corpus.unkeyed_effect_good) == []


def test_strict_repeat_safe_flags_a_computed_repeat_safe() -> None:
    """With strict_repeat_safe, `repeat_safe=SAFE` without a key is a finding too."""
    fn = corpus.unkeyed_effect_good
    (finding,) = lint(fn, config=LintConfig(strict_repeat_safe=True))
    assert where([finding]) == [(UNKEYED_EFFECT, line_of(fn, "repeat_safe=SAFE"))]
    assert "repeat_safe=SAFE is not a literal True" in finding.message


# -- swallowed-exception ----------------------------------------------------------------


def test_swallowed_exception_fires_on_a_logging_handler_and_on_suppress() -> None:
    """A handler that only logs, and `with contextlib.suppress(...)`, leave the path silent."""
    fn = corpus.swallowed_exception_bad
    handler, suppress = lint(fn)
    assert where([handler, suppress]) == [
        (SWALLOWED_EXCEPTION, line_of(fn, "except TimeoutError:")),
        (SWALLOWED_EXCEPTION, line_of(fn, "contextlib.suppress")),
    ]
    assert "`except TimeoutError:` neither re-raises nor records" in handler.message
    assert "logger.warning(...) leaves it silent" in handler.message
    assert 'ctx.event("<what failed>", error=repr(exc))' in handler.message
    assert "`with contextlib.suppress(KeyError):` swallows" in suppress.message


def test_swallowed_exception_good_twin_does_not_fire() -> None:
    """ctx.event, raise, raise-from, return ctx.exit and a nested function's handler are fine."""
    assert lint(corpus.swallowed_exception_good) == []


# -- side-effect-outside-effect ---------------------------------------------------------


def test_side_effect_outside_effect_fires_on_direct_eager_and_stepped_calls() -> None:
    """Bare and attribute calls, a call in ctx.effect's arguments and ctx.step all fire."""
    fn = corpus.side_effect_bad
    findings = lint(fn)
    assert where(findings) == [
        (SIDE_EFFECT_OUTSIDE_EFFECT, line_of(fn, "    send_email(user)")),
        (SIDE_EFFECT_OUTSIDE_EFFECT, line_of(fn, "mailer.send_email(user)")),
        (SIDE_EFFECT_OUTSIDE_EFFECT, line_of(fn, 'ctx.effect("mail"')),
        (SIDE_EFFECT_OUTSIDE_EFFECT, line_of(fn, 'ctx.step("charge"')),
    ]
    bare, attribute, eager, stepped = (finding.message for finding in findings)
    assert '`send_email(user)` runs outside ctx.effect' in bare
    assert 'ctx.effect("send_email", send_email, user, key=...)' in bare
    assert 'ctx.effect("send_email", mailer.send_email, user, key=...)' in attribute
    assert "runs before the effect is recorded" in eager
    assert "`ctx.effect('mail', send_email, user)`" in eager
    assert "runs charge as a step" in stepped


def test_side_effect_good_twin_does_not_fire() -> None:
    """A function passed to ctx.effect, a lambda in its arguments, and a nested function
    or named lambda passed to it are deferred to the effect."""
    assert lint(corpus.side_effect_good) == []


def test_side_effect_in_a_job_without_context_fires() -> None:
    """A job that takes no Context has no effects, so its side-effect calls are findings."""
    fn = corpus.side_effect_without_context_bad
    (finding,) = lint(fn)
    assert where([finding]) == [(SIDE_EFFECT_OUTSIDE_EFFECT, line_of(fn, "publish(user)"))]
    assert "takes no Context" in finding.message


def test_side_effect_calls_are_configurable() -> None:
    """Only the configured names count: dropping send_email and charge silences them, adding
    load flags a step that runs load."""
    assert lint(corpus.side_effect_bad, config=LintConfig(side_effect_calls=frozenset({"post"}))) == []
    fn = corpus.silent_exit_good
    config = LintConfig(side_effect_calls=DEFAULT_SIDE_EFFECT_CALLS | {"load"})
    (finding,) = lint(fn, config=config)
    assert where([finding]) == [(SIDE_EFFECT_OUTSIDE_EFFECT, line_of(fn, 'ctx.step("load"'))]


# -- unreachable ------------------------------------------------------------------------


def test_unreachable_fires_after_an_ending_statement_and_inside_if_false() -> None:
    """Recording calls under `if False:`, after `continue` and after an if/else whose
    branches raise and exit are findings naming the cause's line."""
    fn = corpus.unreachable_bad
    findings = lint(fn)
    assert where(findings) == [
        (UNREACHABLE, line_of(fn, 'ctx.step("never"')),
        (UNREACHABLE, line_of(fn, 'ctx.event("skipped"')),
        (UNREACHABLE, line_of(fn, 'ctx.event("after_exit")')),
    ]
    never, skipped, after = (finding.message for finding in findings)
    assert f"`ctx.step('never', ...)` can never run: it is in the body of `if False:` on line {line_of(fn, 'if False:')}" in never
    assert f"after `continue` on line {line_of(fn, 'continue')}" in skipped
    assert f"after the if/else on line {line_of(fn, 'if order_id > 0:')}, whose every branch ends" in after


def test_unreachable_good_twin_does_not_fire() -> None:
    """Code after a loop that breaks, after a try whose body raises, and after an if
    without else is reachable."""
    assert lint(corpus.unreachable_good) == []


# -- suppression ------------------------------------------------------------------------


def test_a_suppression_with_a_reason_silences_and_is_reported_with_it() -> None:
    """Trailing and preceding comments with —, --, : and - silence their findings, which
    come back as Suppressed with the reason given."""
    fn = corpus.suppressed_good
    findings, suppressed = lint_function(fn, job_name="billing")
    assert findings == []
    audit = line_of(fn, 'ctx.effect("audit"')
    assert [(s.finding.rule, s.finding.line, s.reason) for s in suppressed] == [
        (SILENT_EXIT, line_of(fn, "return  #"), "negative ids are test fixtures"),
        (UNKEYED_EFFECT, line_of(fn, 'ctx.effect("charge"'), "the gateway dedupes charges by invoice"),
        (UNKEYED_EFFECT, line_of(fn, 'ctx.effect("refund"'), "refunds are idempotent"),
        (SIDE_EFFECT_OUTSIDE_EFFECT, audit, "audit ping, best effort"),
        (UNKEYED_EFFECT, audit, "audit ping, best effort"),
    ]
    assert all(isinstance(s, Suppressed) and s.finding.job_name == "billing" for s in suppressed)


def test_a_suppression_without_a_reason_is_a_bad_suppression_and_silences_nothing() -> None:
    """`allow <rule>` with no reason, or with a separator and nothing after it, is a
    bad-suppression on its line, and the finding it meant to silence stays."""
    fn = corpus.suppressed_bad
    findings, suppressed = lint_function(fn, job_name=fn.__name__)
    assert suppressed == []
    for text in ('ctx.effect("charge"', 'ctx.effect("notify"'):
        line = line_of(fn, text)
        on_line = [f for f in findings if f.line == line]
        assert [f.rule for f in on_line] == [BAD_SUPPRESSION, UNKEYED_EFFECT]
        assert "gives no reason (the reason is required)" in on_line[0].message
        assert "so it silences nothing" in on_line[0].message


def test_a_suppression_naming_an_unknown_rule_is_a_bad_suppression() -> None:
    """A misspelt rule name is a bad-suppression that names it and lists the known rules."""
    fn = corpus.suppressed_bad
    line = line_of(fn, "unkeyd-effect")
    on_line = [f for f in lint(fn) if f.line == line]
    assert [f.rule for f in on_line] == [BAD_SUPPRESSION, UNKEYED_EFFECT]
    assert "names unknown rule 'unkeyd-effect'" in on_line[0].message
    assert all(rule in on_line[0].message for rule in RULES)


def test_a_wrong_verb_or_a_missing_separator_is_a_bad_suppression() -> None:
    """`jobtrail: ignore ...` and a reason not set off by a separator silence nothing."""
    fn = corpus.suppressed_bad
    findings = lint(fn)
    verb = [f for f in findings if f.line == line_of(fn, "jobtrail: ignore")]
    separator = [f for f in findings if f.line == line_of(fn, "because no separator")]
    assert [f.rule for f in verb] == [BAD_SUPPRESSION, UNKEYED_EFFECT]
    assert "says 'ignore' where `allow` belongs" in verb[0].message
    assert [f.rule for f in separator] == [BAD_SUPPRESSION, UNKEYED_EFFECT]
    assert "has no separator before its reason 'because no separator'" in separator[0].message


def test_a_directive_in_a_string_or_across_a_blank_line_silences_nothing() -> None:
    """Comments are read as tokens: a '#' inside a string is no directive, and a directive
    followed by a blank line does not reach the line after it."""
    fn = corpus.suppressed_bad
    findings = lint(fn)
    assert not [f for f in findings if f.line == line_of(fn, "note = ")]
    assert where([f for f in findings if f.line >= line_of(fn, 'ctx.effect("log"')]) == [
        (UNKEYED_EFFECT, line_of(fn, 'ctx.effect("log"')),
        (UNKEYED_EFFECT, line_of(fn, 'ctx.effect("last"')),
    ]


# -- configuration and reading functions ------------------------------------------------


def test_config_rules_choose_which_rules_run() -> None:
    """LintConfig(rules=...) runs only the rules named."""
    only_unreachable = LintConfig(rules=frozenset({UNREACHABLE}))
    assert lint(corpus.side_effect_bad, config=only_unreachable) == []
    assert len(lint(corpus.unreachable_bad, config=only_unreachable)) == 3


@pytest.mark.parametrize("options", [
    {"rules": frozenset({"no-such-rule"})},
    {"side_effect_calls": "send_email"},
    {"context_names": frozenset({""})},
    {"strict_repeat_safe": "yes"},
])
def test_a_bad_config_is_a_configuration_error(options: dict[str, Any]) -> None:
    """An unknown rule, a str instead of a set, an empty name or a non-bool is refused."""
    with pytest.raises(ConfigurationError, match="LintConfig"):
        LintConfig(**options)


def renamed_context(job: Any, invoice_id: int) -> None:
    job.effect("charge", charge, invoice_id)


def test_ctx_name_names_a_context_parameter_the_lint_cannot_infer() -> None:
    """An unannotated `job` parameter is no context until ctx_name says so."""
    assert lint(renamed_context) == []
    (finding,) = lint(renamed_context, ctx_name="job")
    assert where([finding]) == [(UNKEYED_EFFECT, line_of(renamed_context, "job.effect"))]
    assert "`job.effect('charge', ...)` has no key=" in finding.message


def test_a_job_defined_inside_a_function_reports_real_file_lines() -> None:
    """An indented def is dedented to parse, and its lines still point into this file."""

    def inner(ctx: Context) -> None:
        if ctx.job_id:
            return  # a comment to make the line unique
        ctx.event("done")

    (finding,) = lint(inner)
    assert (finding.file, finding.line) == (HERE, line_of(inner, "return  #"))


class Holder:
    @staticmethod
    def job_with_text(ctx: Context) -> str:
        text = """
this line sits at column 0, so the method cannot be dedented
"""
        if text:
            return text  # jobtrail: allow silent-exit — checks lines in the fallback parse
        ctx.effect("charge", charge, text)
        return text


def test_a_method_that_cannot_be_dedented_is_still_linted_at_real_lines() -> None:
    """A string at column 0 inside an indented def still yields real lines and suppressions."""
    fn = Holder.job_with_text
    findings, suppressed = lint_function(fn, job_name="holder")
    assert where(findings) == [(UNKEYED_EFFECT, line_of(fn, 'ctx.effect("charge"'))]
    assert [(s.finding.rule, s.finding.line) for s in suppressed] == [
        (SILENT_EXIT, line_of(fn, "return text  #")),
    ]


async def async_job(ctx: Context, invoice_id: int) -> None:
    if invoice_id < 0:
        return
    ctx.effect("charge", charge, invoice_id)


def test_an_async_job_is_linted_like_a_plain_one() -> None:
    """`async def` jobs get the same rules."""
    assert where(lint(async_job)) == [
        (SILENT_EXIT, line_of(async_job, "return")),
        (UNKEYED_EFFECT, line_of(async_job, "ctx.effect")),
    ]


def test_a_function_without_readable_source_is_a_lint_error() -> None:
    """A builtin has no source and a lambda is no def: both raise LintError naming the job."""
    with pytest.raises(LintError, match="job 'builtin': cannot read the source"):
        lint_function(len, job_name="builtin")
    with pytest.raises(LintError, match=r"job 'anonymous': .* is not defined with `def`"):
        lint_function(lambda ctx: None, job_name="anonymous")


# -- lint_app -----------------------------------------------------------------------------


def aliased_context(ctx: JobContext, invoice_id: int) -> None:
    ctx.effect("charge", charge, invoice_id)


def test_lint_app_lints_every_job_sorted_by_file_and_line(tmp_path: Path) -> None:
    """lint_app covers each registered job under its registered name, sorted by file and line,
    and returns the suppressed findings too."""
    app = App("sqlite:///" + str(tmp_path / "x.db"))
    jobs: list[Callable[..., Any]] = [
        corpus.unreachable_bad, corpus.suppressed_good, corpus.silent_exit_bad,
        aliased_context, corpus.side_effect_bad, corpus.unkeyed_effect_good]
    for fn in jobs:
        app.job(name=f"app.{fn.__name__}")(fn)
    findings, suppressed = lint_app(app)
    assert findings == sorted(findings, key=lambda f: (f.file, f.line))
    assert [f.file for f in findings] == [CORPUS] * 8 + [HERE]
    assert {f.job_name for f in findings} == {
        "app.silent_exit_bad", "app.side_effect_bad", "app.unreachable_bad", "app.aliased_context",
    }
    expected = (
        lint(corpus.silent_exit_bad) + lint(corpus.side_effect_bad) + lint(corpus.unreachable_bad)
    )
    assert [(f.rule, f.line) for f in findings[:8]] == where(expected)
    assert where(findings[8:]) == [(UNKEYED_EFFECT, line_of(aliased_context, "ctx.effect"))]
    assert [s.finding.job_name for s in suppressed] == ["app.suppressed_good"] * 5
    assert suppressed[0].reason == "negative ids are test fixtures"
    assert [s.finding.line for s in suppressed] == sorted(s.finding.line for s in suppressed)


def test_lint_app_knows_a_context_by_its_type_when_the_source_cannot_tell(tmp_path: Path) -> None:
    """A Context imported under another name is the job's context for lint_app (it asks the
    job), while lint_function alone cannot see it."""
    app = App("sqlite:///" + str(tmp_path / "x.db"))
    app.job(name="aliased")(aliased_context)
    assert lint(aliased_context) == []
    findings, _ = lint_app(app)
    assert where(findings) == [(UNKEYED_EFFECT, line_of(aliased_context, "ctx.effect"))]
