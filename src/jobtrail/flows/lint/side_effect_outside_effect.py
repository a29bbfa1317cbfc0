"""``side-effect-outside-effect``: a side effect that no ``ctx.effect`` guards.

A call whose name (``send_email(...)``, ``mailer.send_email(...)``: the bare name or the
last attribute) is in `LintConfig.side_effect_calls`, made where no ``ctx.effect``
defers it. Deferred: passing the function itself (``ctx.effect("mail", send_email,
user)``), calling it in a lambda among the effect's arguments, or in a nested function
(or a lambda assigned to a name) that is passed to ``ctx.effect`` by name. A call
written *in* the effect's arguments (``ctx.effect("mail", send_email(user))``) runs
before the effect starts and is flagged, and so is passing the function to
``ctx.step``, which is no at-most-once guard. Calls on ``ctx`` itself are never side
effects.
"""

from __future__ import annotations

import ast

from jobtrail.flows.lint.config import SIDE_EFFECT_OUTSIDE_EFFECT
from jobtrail.flows.lint.subject import NO_CONTEXT, Subject, call_name, clip


def check(subject: Subject) -> None:
    """Report every configured side-effect call of the job that no effect defers."""
    visit = _Visit(subject, _names_passed_to_effects(subject))
    for statement in subject.node.body:
        visit.node(statement, protected=False, effect=None)


def _names_passed_to_effects(subject: Subject) -> set[str]:
    """The names passed as arguments (after the first) to some ``ctx.effect``."""
    names: set[str] = set()
    for node in ast.walk(subject.node):
        if subject.is_ctx_call(node, "effect"):
            assert isinstance(node, ast.Call)
            for arg in [*node.args[1:], *(kw.value for kw in node.keywords)]:
                if isinstance(arg, ast.Name):
                    names.add(arg.id)
    return names


class _Visit:
    """The walk over one job; *deferred* are the names its effects are handed."""

    def __init__(self, subject: Subject, deferred: set[str]) -> None:
        self.subject = subject
        self.deferred = deferred

    def node(self, node: ast.AST, *, protected: bool, effect: ast.Call | None) -> None:
        """Visit *node*: *protected* when the code runs inside an effect (deferred to it),
        *effect* the ``ctx.effect`` call whose arguments are being evaluated eagerly."""
        subject = self.subject
        if isinstance(node, ast.Lambda):
            self.node(node.body, protected=protected or effect is not None, effect=None)
            return
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            inner = protected or node.name in self.deferred
            for statement in node.body:
                self.node(statement, protected=inner, effect=None)
            return
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda)
                and any(isinstance(t, ast.Name) and t.id in self.deferred
                        for t in node.targets)):
            self.node(node.value.body, protected=True, effect=None)
            return
        if isinstance(node, ast.Call):
            if subject.is_ctx_call(node, "effect"):
                for arg in [*node.args, *(kw.value for kw in node.keywords)]:
                    self.node(arg, protected=protected, effect=node)
                return
            if subject.is_ctx_call(node, "step"):
                self.stepped(node, protected)
            elif not subject.is_ctx_call(node) and not protected:
                name = call_name(node)
                if name in subject.config.side_effect_calls:
                    self.unprotected(node, name, effect)
        for child in ast.iter_child_nodes(node):
            self.node(child, protected=protected, effect=effect)

    def stepped(self, step: ast.Call, protected: bool) -> None:
        """Report a side-effect function run by ``ctx.step``."""
        subject = self.subject
        if protected or len(step.args) < 2:
            return
        fn = step.args[1]
        name = fn.id if isinstance(fn, ast.Name) else fn.attr \
            if isinstance(fn, ast.Attribute) else None
        if name not in subject.config.side_effect_calls:
            return
        first = clip(ast.unparse(step.args[0]), 30)
        subject.add(SIDE_EFFECT_OUTSIDE_EFFECT, step,
                    f"job {subject.job!r}: `{subject.label(step)}` runs {name} as a step, "
                    "which a crash between the call and its record repeats on retry; run it "
                    f"as `{subject.ctx}.effect({first}, {clip(ast.unparse(fn), 30)}, ..., "
                    "key=...)`")

    def unprotected(self, call: ast.Call, name: str, effect: ast.Call | None) -> None:
        """Report a side-effect call made outside any effect, or in an effect's arguments."""
        subject, ctx = self.subject, self.subject.ctx
        code = clip(ast.unparse(call))
        func = clip(ast.unparse(call.func), 30)
        args = ", ".join([func, *(clip(ast.unparse(a), 20) for a in call.args),
                          *(clip(ast.unparse(k), 20) for k in call.keywords)])
        if effect is not None:
            label = clip(ast.unparse(effect.args[0]), 30) if effect.args else f"\"{name}\""
            message = (f"`{code}` is called in the arguments of `{subject.label(effect)}`, so "
                       "it runs before the effect is recorded and is not protected by it; "
                       f"pass the function and its arguments: `{ctx}.effect({label}, {args})`")
        elif ctx is None:
            message = (f"`{code}` is a side effect outside any effect, which a retry repeats; "
                       f"{NO_CONTEXT}: take `ctx: Context` first and run it as "
                       f"`ctx.effect(\"{name}\", {args}, key=...)`")
        else:
            message = (f"`{code}` runs outside {ctx}.effect, so a retry or a duplicate "
                       f"job repeats it; run it as `{ctx}.effect(\"{name}\", {args}, "
                       "key=...)`")
        subject.add(SIDE_EFFECT_OUTSIDE_EFFECT, call, f"job {subject.job!r}: {message}")
