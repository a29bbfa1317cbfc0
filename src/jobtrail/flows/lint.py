"""Lint job functions: mistakes in a job's path that its source shows before any run.

`lint_function` reads one job function's source (with `inspect` and `ast`, never running
it); `lint_app` lints every job an app declares (an `App`, or any `JobRegistry`). Each
returns the findings and the findings silenced by a ``# jobtrail: allow <rule> —
<reason>`` comment (see `jobtrail.flows.suppress`). docs/flow-lint.md shows each rule
with a bad and a good example.

The rules, exactly (``ctx`` is the job's context parameter, whatever its name):

``silent-exit``
    A ``return`` that is not in *tail position*, unless it is ``return ctx.exit(...)``.
    Tail position: the last statement of the function body; the last statement of each
    branch of an ``if``/``elif``/``else`` in tail position (an ``if`` without ``else``
    too: the other path just ends), of the body of a ``with`` and of each ``case`` of a
    ``match`` in tail position; of each ``except``, the ``else`` and the ``finally`` of a
    ``try`` in tail position, and of its body when it has no ``else`` (which a return
    would skip); of the ``else`` of a loop in tail position. A loop's body is never in
    tail position: a return there skips the remaining iterations. So a return is early
    exactly when it skips code of the function that another path runs. Returns in
    nested functions and lambdas are not the job's.
``unkeyed-effect``
    ``ctx.effect(...)`` with neither ``key=`` nor ``repeat_safe=True`` (a literal), or
    with ``key=None`` (which is the per-job default). A call that passes ``**kwargs``
    may carry a key and is not flagged; a non-literal ``repeat_safe=`` is not flagged
    unless `LintConfig.strict_repeat_safe`.
``swallowed-exception``
    An ``except`` handler of the job (not of a nested function) with no ``raise`` and no
    ``ctx.event(...)`` or ``ctx.exit(...)`` call anywhere in its body (a logger call
    records nothing on the path), and a ``with suppress(...)`` block
    (`contextlib.suppress`), which swallows by design.
``side-effect-outside-effect``
    A call whose name (``send_email(...)``, ``mailer.send_email(...)``: the bare name or
    the last attribute) is in `LintConfig.side_effect_calls`, made where no
    ``ctx.effect`` defers it. Deferred: passing the function itself
    (``ctx.effect("mail", send_email, user)``), calling it in a lambda among the effect's
    arguments, or in a nested function (or a lambda assigned to a name) that is passed to
    ``ctx.effect`` by name. A call written *in* the effect's arguments
    (``ctx.effect("mail", send_email(user))``) runs before the effect starts and is
    flagged, and so is passing the function to ``ctx.step``, which is no at-most-once
    guard. Calls on ``ctx`` itself are never side effects.
``unreachable``
    A recording call (``ctx.step/effect/decide/exit/event/enqueue``) that can never run:
    after a statement that always ends its block (``return``, ``raise``, ``break``,
    ``continue``, ``ctx.exit(...)``, an ``if``/``else`` whose every branch ends, a
    ``while True:`` without ``break``) in the same block, or in the body of
    ``if <false constant>:``/``while <false constant>:``, the ``else`` of
    ``if <true constant>:`` or of ``while <true constant>:``. Nothing else is called
    unreachable (``try`` and ``with`` are never taken to end a block, since handlers and
    context managers can resume), so a finding is never a false alarm.

A job takes a context when its first parameter is annotated ``Context`` (by name or
as ``x.Context``) or is unannotated and named ``ctx`` or ``context``
(`LintConfig.context_names`); `lint_app` uses the job's own ``takes_context``. A job
without a context can record nothing, so its side effects and early returns are flagged
all the same, with that in the message.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from jobtrail.errors import ConfigurationError, LintError
from jobtrail.flows.declared import JobRegistry
from jobtrail.flows.suppress import SYNTAX, Directive, read_directives

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
#: The methods of `Context` that record a point of the path.
RECORDING_METHODS = frozenset({"step", "effect", "decide", "exit", "event", "enqueue"})
DEFAULT_SIDE_EFFECT_CALLS = frozenset({"send_email", "charge", "refund", "post", "publish"})
DEFAULT_CONTEXT_NAMES = frozenset({"ctx", "context"})

_FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_SHOWN = 70  # characters of code quoted in a message



@dataclass(frozen=True, slots=True)
class Finding:
    """One mistake: the rule, the job, where it is (a real line of *file*) and what to do."""

    rule: str
    job_name: str
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule}: {self.message}"


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A finding silenced by a ``# jobtrail: allow`` comment, with the reason it gives."""

    finding: Finding
    reason: str


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


def lint_function(
    fn: Callable[..., Any],
    *,
    job_name: str,
    ctx_name: str | None = None,
    config: LintConfig = DEFAULT_CONFIG,
) -> tuple[list[Finding], list[Suppressed]]:
    """Lint one job function; return its findings and its suppressed findings, each
    sorted by line.

    *ctx_name* is the name of its context parameter; ``None`` infers it from the first
    parameter (see the module docstring). Raise `LintError` when the source of *fn*
    cannot be read."""
    return _lint(fn, job_name, ctx_name, infer=ctx_name is None, config=config)


def lint_app(
    app: JobRegistry, config: LintConfig = DEFAULT_CONFIG
) -> tuple[list[Finding], list[Suppressed]]:
    """Lint every job of *app*'s registry; findings and suppressed findings come sorted
    by file, then line. Raise `LintError` naming a job whose source cannot be read."""
    findings: list[Finding] = []
    suppressed: list[Suppressed] = []
    for name, definition in app.registry.items():
        ctx_name = _first_parameter(definition.fn) if definition.takes_context else None
        found, silenced = _lint(definition.fn, name, ctx_name, infer=False, config=config)
        findings.extend(found)
        suppressed.extend(silenced)
    findings.sort(key=_order)
    suppressed.sort(key=lambda item: _order(item.finding))
    return findings, suppressed


# -- reading the source -------------------------------------------------------------------


def _lint(
    fn: Callable[..., Any], job_name: str, ctx_name: str | None, *, infer: bool,
    config: LintConfig,
) -> tuple[list[Finding], list[Suppressed]]:
    node, source, shift, file = _parse(fn, job_name)
    if infer:
        ctx_name = _context_parameter(node, config)
    checker = _Checker(node, job_name=job_name, file=file, shift=shift, ctx=ctx_name,
                       config=config)
    directives = read_directives(source, first_line=shift + 1, rules=RULES)
    findings: list[Finding] = []
    suppressed: list[Suppressed] = []
    for finding in checker.run():
        directive = _allowing(directives, finding)
        if directive is None:
            findings.append(finding)
        else:
            suppressed.append(Suppressed(finding, directive.reason))
    for directive in directives:
        if directive.problem is not None:
            findings.append(Finding(
                BAD_SUPPRESSION, job_name, file, directive.line,
                f"job {job_name!r}: `{_clip(directive.text)}` {directive.problem}, so it "
                f"silences nothing; write `{SYNTAX}`",
            ))
    findings.sort(key=_order)
    suppressed.sort(key=lambda item: _order(item.finding))
    return findings, suppressed


def _parse(fn: Callable[..., Any], job_name: str) -> tuple[_FunctionNode, str, int, str]:
    """The ``def`` node of *fn*, the source it was parsed from, the number to add to its
    line numbers to get file lines, and the file."""
    target = inspect.unwrap(fn)
    try:
        lines, start = inspect.getsourcelines(target)
        file = inspect.getsourcefile(target) or inspect.getfile(target)
    except (OSError, TypeError) as exc:
        raise LintError(
            f"job {job_name!r}: cannot read the source of {fn!r} ({exc}); the flow lint "
            "reads job functions from their source files"
        ) from exc
    raw = "".join(lines)
    source, shift = textwrap.dedent(raw), start - 1
    try:
        tree = ast.parse(source)
    except SyntaxError:
        # dedent gives up when a line (inside a string) is less indented than the def:
        # parse the indented source as the body of an ``if``, one line down.
        source, shift = "if 1:\n" + raw, start - 2
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            raise LintError(f"job {job_name!r}: cannot parse the source of {fn!r}: {exc}") \
                from exc
    node: ast.stmt | None = tree.body[0] if tree.body else None
    if isinstance(node, ast.If) and shift == start - 2:  # the fallback's ``if 1:``
        node = node.body[0]
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        raise LintError(
            f"job {job_name!r}: {fn!r} is not defined with `def`, so the flow lint cannot "
            "read it; define the job as a function"
        )
    return node, source, shift, file


def _context_parameter(node: _FunctionNode, config: LintConfig) -> str | None:
    params = [*node.args.posonlyargs, *node.args.args]
    if not params:
        return None
    first = params[0]
    annotation = first.annotation
    if annotation is None:
        return first.arg if first.arg in config.context_names else None
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        text = annotation.value
    else:
        text = ast.unparse(annotation)
    return first.arg if text.strip().rsplit(".", 1)[-1] == "Context" else None


def _first_parameter(fn: Callable[..., Any]) -> str | None:
    return next(iter(inspect.signature(fn).parameters), None)


def _allowing(directives: Sequence[Directive], finding: Finding) -> Directive | None:
    for directive in directives:
        if directive.allows(finding.rule, finding.line):
            return directive
    return None


def _order(finding: Finding) -> tuple[str, int, str, str, str]:
    return finding.file, finding.line, finding.rule, finding.job_name, finding.message


# -- the rules ----------------------------------------------------------------------------


class _Checker:
    """Runs every enabled rule over one job's ``def`` node."""

    def __init__(
        self, node: _FunctionNode, *, job_name: str, file: str, shift: int, ctx: str | None,
        config: LintConfig,
    ) -> None:
        self.node = node
        self.job = job_name
        self.file = file
        self.shift = shift
        self.ctx = ctx
        self.config = config
        self.findings: list[Finding] = []
        self._deferred_names: set[str] = set()

    def run(self) -> list[Finding]:
        rules = self.config.rules
        body = self.node.body
        if SILENT_EXIT in rules:
            self._returns(body, tail=True, loop=False)
        if UNKEYED_EFFECT in rules:
            self._effect_keys()
        if SWALLOWED_EXCEPTION in rules:
            self._handlers()
        if SIDE_EFFECT_OUTSIDE_EFFECT in rules:
            self._deferred_names = self._names_passed_to_effects()
            for statement in body:
                self._side_effects(statement, protected=False, effect=None)
        if UNREACHABLE in rules:
            self._unreachable(body)
        return self.findings

    # -- shared helpers ------------------------------------------------------------------
    def _add(self, rule: str, node: ast.AST, message: str) -> None:
        line = getattr(node, "lineno", 1) + self.shift
        self.findings.append(Finding(rule, self.job, self.file, line, message))

    def _is_ctx_call(self, node: ast.AST | None, method: str | None = None) -> bool:
        """True for ``ctx.<method>(...)``, or any recording call when *method* is None."""
        if self.ctx is None or not isinstance(node, ast.Call):
            return False
        func = node.func
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id == self.ctx):
            return False
        return func.attr in RECORDING_METHODS if method is None else func.attr == method

    def _label(self, call: ast.Call) -> str:
        """``ctx.effect('charge', ...)``: a recording call, quoted short."""
        assert isinstance(call.func, ast.Attribute)
        first = _clip(ast.unparse(call.args[0]), 30) + ", ..." if call.args else "..."
        return f"{self.ctx}.{call.func.attr}({first})"

    @property
    def _no_context(self) -> str:
        return "the job takes no Context, so it can record nothing"

    # -- silent-exit ---------------------------------------------------------------------
    def _returns(self, body: Sequence[ast.stmt], *, tail: bool, loop: bool) -> None:
        for index, statement in enumerate(body):
            at_end = tail and index == len(body) - 1
            match statement:
                case ast.Return(value=value):
                    if not at_end and not self._is_ctx_call(value, "exit"):
                        self._silent_exit(statement, loop)
                case ast.If() | ast.With() | ast.AsyncWith():
                    self._returns(statement.body, tail=at_end, loop=loop)
                    if isinstance(statement, ast.If):
                        self._returns(statement.orelse, tail=at_end, loop=loop)
                case ast.For() | ast.AsyncFor() | ast.While():
                    self._returns(statement.body, tail=False, loop=True)
                    self._returns(statement.orelse, tail=at_end, loop=loop)
                case ast.Try() | ast.TryStar():
                    self._returns(statement.body, tail=at_end and not statement.orelse,
                                  loop=loop)
                    for handler in statement.handlers:
                        self._returns(handler.body, tail=at_end, loop=loop)
                    self._returns(statement.orelse, tail=at_end, loop=loop)
                    self._returns(statement.finalbody, tail=at_end, loop=loop)
                case ast.Match():
                    for case in statement.cases:
                        self._returns(case.body, tail=at_end, loop=loop)
                case _:
                    pass  # nested functions and classes return for themselves

    def _silent_exit(self, statement: ast.Return, loop: bool) -> None:
        code = _clip(ast.unparse(statement))
        where = " from inside a loop, skipping its remaining iterations" if loop else ""
        if self.ctx is None:
            fix = (f"{self._no_context}: take `ctx: Context` first and write "
                   "`return ctx.exit(\"<reason>\")`")
        else:
            fix = f"write `return {self.ctx}.exit(\"<reason>\")` so the path shows why"
            if statement.value is not None:
                fix += (", or, if the value is the job's result, return it from the end "
                        "(an if/else whose branches all return)")
        self._add(SILENT_EXIT, statement,
                  f"job {self.job!r}: `{code}` ends the job early{where} without recording "
                  f"why; {fix}")

    # -- unkeyed-effect ------------------------------------------------------------------
    def _effect_keys(self) -> None:
        for node in ast.walk(self.node):
            if not self._is_ctx_call(node, "effect"):
                continue
            assert isinstance(node, ast.Call)
            keywords = {kw.arg: kw.value for kw in node.keywords}
            if None in keywords:  # **options may carry a key
                continue
            key = keywords.get("key")
            repeat_safe = keywords.get("repeat_safe")
            if isinstance(repeat_safe, ast.Constant) and repeat_safe.value is True:
                continue
            if (repeat_safe is not None and not isinstance(repeat_safe, ast.Constant)
                    and not self.config.strict_repeat_safe):
                continue
            if key is not None and not (isinstance(key, ast.Constant) and key.value is None):
                continue
            name = node.args[0] if node.args else None
            text = name.value if isinstance(name, ast.Constant) and isinstance(
                name.value, str) else "<name>"
            problem = "passes key=None" if key is not None else "has no key="
            safe = (f" (repeat_safe={_clip(ast.unparse(repeat_safe), 30)} is not a literal "
                    "True)") if repeat_safe is not None else ""
            self._add(UNKEYED_EFFECT, node,
                      f"job {self.job!r}: `{self._label(node)}` {problem}, so its key is the "
                      f"per-job default \"<job id>:{text}\", which does not stop a duplicate "
                      f"job from doing it again{safe}; pass a business key "
                      f"(key=f\"{text}-{{...}}\") or repeat_safe=True if doing it twice is "
                      "harmless")

    # -- swallowed-exception -------------------------------------------------------------
    def _handlers(self) -> None:
        for node in _walk_scope(self.node.body):
            if isinstance(node, ast.ExceptHandler):
                self._handler(node)
            elif isinstance(node, ast.With | ast.AsyncWith):
                for item in node.items:
                    call = item.context_expr
                    if isinstance(call, ast.Call) and _call_name(call) == "suppress":
                        self._add(SWALLOWED_EXCEPTION, call,
                                  f"job {self.job!r}: `with {_clip(ast.unparse(call))}:` "
                                  "swallows the exception without a trace on the job's "
                                  "path; use try/except and re-raise it or record it with "
                                  f"`{self.ctx or 'ctx'}.event(...)`")

    def _handler(self, handler: ast.ExceptHandler) -> None:
        others: list[str] = []
        for node in _walk_scope(handler.body):
            if isinstance(node, ast.Raise):
                return
            if self._is_ctx_call(node, "event") or self._is_ctx_call(node, "exit"):
                return
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                others.append(_clip(ast.unparse(node.value.func), 30))
        kind = f" {ast.unparse(handler.type)}" if handler.type is not None else ""
        bound = f" as {handler.name}" if handler.name else ""
        header = _clip(f"except{kind}{bound}:")
        calls = [f"{name}(...)" for name in dict.fromkeys(others)]
        verb = "leaves" if len(calls) == 1 else "leave"
        silent = f" ({', '.join(calls)} {verb} it silent)" if calls else ""
        also = (f"; it also swallows the JobExit that {self.ctx}.exit() raises"
                if kind in ("", " BaseException") and self.ctx else "")
        if self.ctx is None:
            fix = f"re-raise it ({self._no_context})"
        else:
            error = handler.name or "exc"
            fix = (f"re-raise it, or record it with `{self.ctx}.event(\"<what failed>\", "
                   f"error=repr({error}))` or `return {self.ctx}.exit(\"<reason>\")`")
            if not handler.name:
                fix += f" (catch it `as {error}`)"
        self._add(SWALLOWED_EXCEPTION, handler,
                  f"job {self.job!r}: `{header}` neither re-raises nor records the exception "
                  f"on the job's path{silent}{also}; {fix}")

    # -- side-effect-outside-effect ------------------------------------------------------
    def _names_passed_to_effects(self) -> set[str]:
        names: set[str] = set()
        for node in ast.walk(self.node):
            if self._is_ctx_call(node, "effect"):
                assert isinstance(node, ast.Call)
                for arg in [*node.args[1:], *(kw.value for kw in node.keywords)]:
                    if isinstance(arg, ast.Name):
                        names.add(arg.id)
        return names

    def _side_effects(self, node: ast.AST, *, protected: bool, effect: ast.Call | None) -> None:
        """Visit *node*: *protected* when the code runs inside an effect (deferred to it),
        *effect* the ``ctx.effect`` call whose arguments are being evaluated eagerly."""
        if isinstance(node, ast.Lambda):
            self._side_effects(node.body, protected=protected or effect is not None,
                               effect=None)
            return
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            inner = protected or node.name in self._deferred_names
            for statement in node.body:
                self._side_effects(statement, protected=inner, effect=None)
            return
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda)
                and any(isinstance(t, ast.Name) and t.id in self._deferred_names
                        for t in node.targets)):
            self._side_effects(node.value.body, protected=True, effect=None)
            return
        if isinstance(node, ast.Call):
            if self._is_ctx_call(node, "effect"):
                for arg in [*node.args, *(kw.value for kw in node.keywords)]:
                    self._side_effects(arg, protected=protected, effect=node)
                return
            if self._is_ctx_call(node, "step"):
                self._stepped_side_effect(node, protected)
            elif not self._is_ctx_call(node) and not protected:
                name = _call_name(node)
                if name in self.config.side_effect_calls:
                    self._unprotected_call(node, name, effect)
        for child in ast.iter_child_nodes(node):
            self._side_effects(child, protected=protected, effect=effect)

    def _stepped_side_effect(self, step: ast.Call, protected: bool) -> None:
        if protected or len(step.args) < 2:
            return
        fn = step.args[1]
        name = fn.id if isinstance(fn, ast.Name) else fn.attr \
            if isinstance(fn, ast.Attribute) else None
        if name not in self.config.side_effect_calls:
            return
        first = _clip(ast.unparse(step.args[0]), 30)
        self._add(SIDE_EFFECT_OUTSIDE_EFFECT, step,
                  f"job {self.job!r}: `{self._label(step)}` runs {name} as a step, which a "
                  "crash between the call and its record repeats on retry; run it as "
                  f"`{self.ctx}.effect({first}, {_clip(ast.unparse(fn), 30)}, ..., key=...)`")

    def _unprotected_call(self, call: ast.Call, name: str, effect: ast.Call | None) -> None:
        code = _clip(ast.unparse(call))
        func = _clip(ast.unparse(call.func), 30)
        args = ", ".join([func, *(_clip(ast.unparse(a), 20) for a in call.args),
                          *(_clip(ast.unparse(k), 20) for k in call.keywords)])
        if effect is not None:
            label = _clip(ast.unparse(effect.args[0]), 30) if effect.args else f"\"{name}\""
            message = (f"`{code}` is called in the arguments of `{self._label(effect)}`, so it "
                       "runs before the effect is recorded and is not protected by it; pass "
                       f"the function and its arguments: `{self.ctx}.effect({label}, {args})`")
        elif self.ctx is None:
            message = (f"`{code}` is a side effect outside any effect, which a retry repeats; "
                       f"{self._no_context}: take `ctx: Context` first and run it as "
                       f"`ctx.effect(\"{name}\", {args}, key=...)`")
        else:
            message = (f"`{code}` runs outside {self.ctx}.effect, so a retry or a duplicate "
                       f"job repeats it; run it as `{self.ctx}.effect(\"{name}\", {args}, "
                       "key=...)`")
        self._add(SIDE_EFFECT_OUTSIDE_EFFECT, call, f"job {self.job!r}: {message}")

    # -- unreachable ---------------------------------------------------------------------
    def _unreachable(self, body: Sequence[ast.stmt]) -> None:
        for index, statement in enumerate(body):
            self._unreachable_within(statement)
            ending = self._ends(statement)
            if ending is not None:
                self._never_runs(body[index + 1:], f"it comes after {ending}")
                return

    def _unreachable_within(self, statement: ast.stmt) -> None:
        match statement:
            case ast.If(test=ast.Constant(value=value)):
                dead, live = (statement.orelse, statement.body) if value else \
                    (statement.body, statement.orelse)
                where = "the else of" if value else "the body of"
                self._never_runs(dead, f"it is in {where} `if "
                                       f"{_clip(ast.unparse(statement.test))}:` on line "
                                       f"{self._line(statement)}")
                self._unreachable(live)
            case ast.While(test=ast.Constant(value=value)):
                dead, live = (statement.orelse, statement.body) if value else \
                    (statement.body, statement.orelse)
                where = "the else of" if value else "the body of"
                self._never_runs(dead, f"it is in {where} `while "
                                       f"{_clip(ast.unparse(statement.test))}:` on line "
                                       f"{self._line(statement)}")
                self._unreachable(live)
            case ast.If() | ast.For() | ast.AsyncFor() | ast.While():
                self._unreachable(statement.body)
                self._unreachable(statement.orelse)
            case ast.With() | ast.AsyncWith() | ast.FunctionDef() | ast.AsyncFunctionDef() \
                    | ast.ClassDef():
                self._unreachable(statement.body)
            case ast.Try() | ast.TryStar():
                self._unreachable(statement.body)
                for handler in statement.handlers:
                    self._unreachable(handler.body)
                self._unreachable(statement.orelse)
                self._unreachable(statement.finalbody)
            case ast.Match():
                for case in statement.cases:
                    self._unreachable(case.body)
            case _:
                pass

    def _ends(self, statement: ast.stmt) -> str | None:
        """How *statement* always ends the block it is in, or ``None`` when it may not."""
        line = self._line(statement)
        match statement:
            case ast.Return() | ast.Raise() | ast.Break() | ast.Continue():
                return f"`{_clip(ast.unparse(statement), 40)}` on line {line}"
            case ast.Expr(value=value) if self._is_ctx_call(value, "exit"):
                return f"`{_clip(ast.unparse(value), 40)}` on line {line}"
            case ast.If(test=ast.Constant(value=value)):
                return self._block_ends(statement.body if value else statement.orelse)
            case ast.If():
                if self._block_ends(statement.body) and self._block_ends(statement.orelse):
                    return f"the if/else on line {line}, whose every branch ends"
                return None
            case ast.While(test=ast.Constant(value=value)) if value and not _breaks(
                    statement.body):
                return f"`while {ast.unparse(statement.test)}:` on line {line}, which has no break"
            case _:
                return None

    def _block_ends(self, body: Sequence[ast.stmt]) -> str | None:
        for statement in body:
            ending = self._ends(statement)
            if ending is not None:
                return ending
        return None

    def _never_runs(self, statements: Sequence[ast.stmt], cause: str) -> None:
        for statement in statements:
            for node in ast.walk(statement):
                if self._is_ctx_call(node):
                    assert isinstance(node, ast.Call)
                    self._add(UNREACHABLE, node,
                              f"job {self.job!r}: `{self._label(node)}` can never run: "
                              f"{cause}; move it before that or remove it")

    def _line(self, node: ast.AST) -> int:
        return int(getattr(node, "lineno", 1)) + self.shift


def _walk_scope(nodes: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """Every node under *nodes* (and themselves), not entering nested functions, lambdas
    or classes."""
    stack = list(reversed(list(nodes)))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _SCOPES):
            stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _breaks(body: Sequence[ast.stmt]) -> bool:
    """True when a ``break`` in *body* leaves this loop (not a nested loop or function)."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Break):
            return True
        if isinstance(node, ast.For | ast.AsyncFor | ast.While):
            stack.extend(node.orelse)  # a break in a nested loop's else leaves this one
            continue
        if not isinstance(node, _SCOPES):
            stack.extend(ast.iter_child_nodes(node))
    return False


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _clip(text: str, limit: int = _SHOWN) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
