"""Job functions for the flow lint tests: read by the lint, never run.

Each job shows one rule firing (``*_bad``) or its good twin (``*_good``); the
``suppressed_*`` jobs carry ``# jobtrail: allow`` comments. Tests find lines by their
text, so edit a line and its test together.

The jobs are type-checked too; a ``# type: ignore`` keeps a line as the lint must see it
(a mistake on purpose, or ``return ctx.exit(...)`` in a ``-> None`` job, whose ``NoReturn``
value mypy refuses).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from jobtrail import Context

logger = logging.getLogger(__name__)
SAFE = True


def load(value: Any) -> Any:
    return value


def charge(value: Any) -> Any:
    return value


def refund(value: Any) -> Any:
    return value


def send_email(value: Any) -> None:
    return None


def publish(value: Any) -> None:
    return None


class _Mailer:
    def send_email(self, value: Any) -> None:
        return None


class _Http:
    def post(self, url: str, body: Any) -> None:
        return None


mailer = _Mailer()
http = _Http()


# -- silent-exit ------------------------------------------------------------------------


def silent_exit_bad(ctx: Context, invoice_id: int) -> None:
    invoice = ctx.step("load", load, invoice_id)
    if invoice["paid"]:
        return
    ctx.effect("charge", charge, invoice, key=f"charge-{invoice_id}")


def silent_exit_good(ctx: Context, invoice_id: int) -> None:
    invoice = ctx.step("load", load, invoice_id)
    if invoice["paid"]:
        return ctx.exit("already_paid")  # type: ignore[return-value]
    ctx.effect("charge", charge, invoice, key=f"charge-{invoice_id}")


def silent_exit_value_bad(ctx: Context, invoice_id: int) -> str:
    cached = ctx.step("cache", load, invoice_id)
    if cached:
        return cached  # type: ignore[no-any-return]
    return str(ctx.step("compute", load, invoice_id))


def silent_exit_in_loop_bad(ctx: Context, items: list[str]) -> None:
    for item in items:
        ctx.step(f"process-{item}", load, item)
        if item == "stop":
            return


def silent_exit_tail_good(ctx: Context, invoice_id: int) -> str | None:  # type: ignore[return]
    def helper(value: int) -> int:
        if value:
            return 1
        return 2

    invoice = ctx.step("load", load, helper(invoice_id))
    if invoice["paid"]:
        return "paid"
    elif invoice["void"]:
        return "void"
    else:
        with contextlib.nullcontext():
            try:
                result = ctx.step("finish", load, invoice_id)
            except KeyError as exc:
                ctx.event("finish_failed", error=repr(exc))
                return "failed"
            else:
                if result:
                    return "done"


def silent_exit_match_good(ctx: Context, kind: str) -> str:
    ctx.event("started")
    match kind:
        case "quick":
            return "quick"
        case _:
            for attempt in range(3):
                if ctx.step(f"try-{attempt}", load, attempt):
                    break
            else:
                return ctx.exit("gave_up")
            return "slow"


def silent_exit_without_context_bad(invoice_id: int) -> int:
    if invoice_id < 0:
        return 0
    return invoice_id


# -- unkeyed-effect ---------------------------------------------------------------------


def unkeyed_effect_bad(ctx: Context, invoice_id: int) -> None:
    ctx.effect("charge", charge, invoice_id)
    ctx.effect("refund", refund, invoice_id, key=None)
    ctx.effect("publish", publish, invoice_id, repeat_safe=False)


def unkeyed_effect_good(ctx: Context, invoice_id: int) -> None:
    ctx.effect("charge", charge, invoice_id, key=f"charge-{invoice_id}")
    ctx.effect("notify", send_email, invoice_id, repeat_safe=True)
    ctx.effect("publish", publish, invoice_id, repeat_safe=SAFE)


# -- swallowed-exception ----------------------------------------------------------------


def swallowed_exception_bad(ctx: Context, user_id: int) -> None:
    try:
        ctx.step("fetch", load, user_id)
    except TimeoutError:
        logger.warning("fetch timed out")
    with contextlib.suppress(KeyError):
        ctx.step("parse", load, user_id)


def swallowed_exception_good(ctx: Context, user_id: int) -> None:
    try:
        ctx.step("fetch", load, user_id)
    except TimeoutError as exc:
        ctx.event("fetch_timed_out", error=repr(exc))
    try:
        ctx.step("parse", load, user_id)
    except KeyError:
        logger.warning("no key")
        raise
    try:
        ctx.step("store", load, user_id)
    except ValueError as exc:
        raise RuntimeError("store failed") from exc
    try:
        ctx.step("find", load, user_id)
    except LookupError:
        return ctx.exit("not_found")  # type: ignore[return-value]

    def helper() -> None:
        try:
            load(user_id)
        except Exception:
            logger.exception("helper")

    ctx.step("helper", helper)


# -- side-effect-outside-effect ---------------------------------------------------------


def side_effect_bad(ctx: Context, user: str) -> None:
    send_email(user)
    mailer.send_email(user)
    ctx.effect("mail", send_email(user), key=f"mail-{user}")  # type: ignore[arg-type,func-returns-value]
    ctx.step("charge", charge, user)


def side_effect_good(ctx: Context, user: str) -> None:
    ctx.effect("mail", send_email, user, key=f"mail-{user}")
    ctx.effect("mail-again", lambda: mailer.send_email(user), key=f"mail2-{user}")

    def post_it() -> None:
        http.post("/users", user)

    ctx.effect("post", post_it, key=f"post-{user}")
    announce = lambda: publish(user)  # noqa: E731
    ctx.effect("publish", announce, repeat_safe=True)


def side_effect_without_context_bad(user: str) -> None:
    publish(user)


# -- unreachable ------------------------------------------------------------------------


def unreachable_bad(ctx: Context, order_id: int) -> None:
    ctx.step("load", load, order_id)
    if False:
        ctx.step("never", load, order_id)
    for attempt in range(3):
        continue
        ctx.event("skipped", attempt=attempt)
    if order_id > 0:
        raise ValueError(order_id)
    else:
        ctx.exit("no_order")
    ctx.event("after_exit")


def unreachable_good(ctx: Context, order_id: int) -> None:
    if order_id < 0:
        return ctx.exit("bad_id")  # type: ignore[return-value]
    while True:
        if ctx.step("poll", load, order_id):
            break
    ctx.event("polled")
    try:
        raise LookupError(order_id)
    except LookupError as exc:
        ctx.event("missing", error=repr(exc))
    ctx.event("after_try")
    if order_id:
        return ctx.exit("has_id")  # type: ignore[return-value]
    ctx.event("no_id")


# -- suppression comments ---------------------------------------------------------------


def suppressed_good(ctx: Context, invoice_id: int) -> None:
    if invoice_id < 0:
        return  # jobtrail: allow silent-exit — negative ids are test fixtures
    # jobtrail: allow unkeyed-effect -- the gateway dedupes charges by invoice
    ctx.effect("charge", charge, invoice_id)
    ctx.effect("refund", refund, invoice_id)  # jobtrail: allow unkeyed-effect: refunds are idempotent
    # a note between the directive and the line it silences is fine:
    # jobtrail: allow side-effect-outside-effect, unkeyed-effect - audit ping, best effort
    # (stacked comment lines stay attached to the next line of code)
    ctx.effect("audit", publish, publish(invoice_id))  # type: ignore[func-returns-value]


def suppressed_bad(ctx: Context, invoice_id: int) -> None:
    ctx.effect("charge", charge, invoice_id)  # jobtrail: allow unkeyed-effect
    ctx.effect("refund", refund, invoice_id)  # jobtrail: allow unkeyd-effect — a typo in the rule
    ctx.effect("notify", send_email, invoice_id)  # jobtrail: allow unkeyed-effect —
    ctx.effect("publish", publish, invoice_id)  # jobtrail: ignore unkeyed-effect — wrong verb
    ctx.effect("audit", publish, invoice_id)  # jobtrail: allow unkeyed-effect because no separator
    note = "# jobtrail: allow unkeyed-effect — a string, not a comment"
    ctx.effect("log", publish, note)
    # jobtrail: allow unkeyed-effect — a blank line below detaches this comment

    ctx.effect("last", publish, invoice_id)
