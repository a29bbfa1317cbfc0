"""``unkeyed-effect``: an effect a duplicate job would do again.

``ctx.effect(...)`` with neither ``key=`` nor ``repeat_safe=True`` (a literal), or with
``key=None`` (which is the per-job default). A call that passes ``**kwargs`` may carry a
key and is not flagged; a non-literal ``repeat_safe=`` is not flagged unless
`LintConfig.strict_repeat_safe`.
"""

from __future__ import annotations

import ast

from jobtrail.flows.lint.config import UNKEYED_EFFECT
from jobtrail.flows.lint.subject import Subject, clip


def check(subject: Subject) -> None:
    """Report every ``ctx.effect(...)`` whose key is the per-job default."""
    for node in ast.walk(subject.node):
        if not subject.is_ctx_call(node, "effect"):
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
                and not subject.config.strict_repeat_safe):
            continue
        if key is not None and not (isinstance(key, ast.Constant) and key.value is None):
            continue
        name = node.args[0] if node.args else None
        text = name.value if isinstance(name, ast.Constant) and isinstance(
            name.value, str) else "<name>"
        problem = "passes key=None" if key is not None else "has no key="
        safe = (f" (repeat_safe={clip(ast.unparse(repeat_safe), 30)} is not a literal "
                "True)") if repeat_safe is not None else ""
        subject.add(UNKEYED_EFFECT, node,
                    f"job {subject.job!r}: `{subject.label(node)}` {problem}, so its key is "
                    f"the per-job default \"<job id>:{text}\", which does not stop a "
                    f"duplicate job from doing it again{safe}; pass a business key "
                    f"(key=f\"{text}-{{...}}\") or repeat_safe=True if doing it twice is "
                    "harmless")
