"""A helper in another module than the corpus: the flow builder does not follow it."""

from __future__ import annotations

from jobtrail import Context


def remote_audit(ctx: Context, what: str) -> None:
    """Records a step the corpus's graphs cannot see."""
    ctx.step("remote_audit", print, what)
