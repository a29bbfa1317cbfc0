"""Job functions for the flow-graph tests: read by `build_flow`, never run.

Each covers one construct; `fulfil_order` is a realistic job of about thirty points for
the renderings. The line numbers of this file do not matter to the tests: node ids are
keyed by names.
"""

from __future__ import annotations

import enum
from typing import Any

from jobtrail import App, Context
from tests.flows import external
from tests.flows.external import remote_audit

app = App("sqlite:///flows-corpus-never-opened.db")  # the store is opened on first use: never


def work(*args: Any, **kwargs: Any) -> Any:
    """Stands for whatever a step or an effect runs."""


class Tier(enum.Enum):
    GOLD = "gold"
    SILVER = "silver"


class Declined(Exception):
    """A payment was declined."""


@app.job(name="receipts.send")
def send_receipt(order_id: int) -> None:
    """A child job, enqueued by name."""


# -- helpers of this module: inlined where a job hands them ctx ----------------------------


def audit(ctx: Context, what: str) -> None:
    """Inlined at depth 1; its `return` continues after the call."""
    ctx.step("audit", work, what)
    if ctx.decide("needs_review", what == "big"):
        review(ctx)
        return
    ctx.event("audited")


def review(c: Context) -> None:
    """Inlined at depth 2, with its own name for the context."""
    c.step("review", work)
    deeper(c)


def deeper(c: Context) -> None:
    """Depth 3: beyond the default inline_depth of 2."""
    c.step("deeper", work)


def countdown(ctx: Context, n: int) -> None:
    """Recursive: the recursive call is not followed."""
    ctx.step("tick", work, n)
    if n:
        countdown(ctx, n - 1)


# -- the corpus -------------------------------------------------------------------------------


def straight_line(ctx: Context, order_id: int) -> None:
    order = ctx.step("load", work, order_id)
    ctx.effect("charge", work, order, key=f"charge-{order_id}")
    ctx.event("charged", order_id=order_id)
    ctx.enqueue(send_receipt, order_id)
    ctx.step("mark_paid", work, order)


def if_elif_else(ctx: Context, customer: Any) -> None:
    if ctx.decide("is_vip", customer.vip):
        ctx.step("vip_offer", work)
    elif ctx.decide("is_new", customer.new):
        ctx.step("welcome", work)
    else:
        ctx.step("standard", work)
    ctx.step("notify", work)


def not_decide(ctx: Context, items: list[Any]) -> None:
    if not ctx.decide("has_items", bool(items)):
        return  # a silent early return: no exit recorded
    ctx.step("process", work, items)


def compared(ctx: Context, tier: str, region: str, coupon: str | None) -> None:
    if ctx.decide("tier", tier) == "gold":
        ctx.step("upgrade", work)
    if ctx.decide("region", region) in ("eu", "uk"):
        ctx.step("gdpr_notice", work)
    if ctx.decide("coupon", coupon) is not None:
        ctx.step("apply_coupon", work)


def matched(ctx: Context, tier: str) -> None:
    match ctx.decide("tier", tier):
        case "gold":
            ctx.step("gold_perks", work)
        case "silver" | "bronze":
            ctx.step("metal_perks", work)
        case _:
            ctx.step("no_perks", work)
    ctx.step("done", work)


def matched_enum(ctx: Context, tier: Tier, paid: bool) -> None:
    match ctx.decide("tier", tier):
        case Tier.GOLD:
            ctx.step("gold", work)
        case Tier.SILVER:
            ctx.step("silver", work)
    match ctx.decide("paid", paid):
        case True:
            ctx.step("thank", work)


def for_loop(ctx: Context, items: list[Any]) -> None:
    ctx.step("fetch", work)
    for item in items:
        if ctx.decide("skip", item.skip):
            continue
        ctx.step("pack", work, item)
        if ctx.decide("full", item.full):
            break
    else:
        ctx.event("all_packed")
    ctx.step("close", work)


def while_loops(ctx: Context) -> None:
    while ctx.decide("more", work()):
        ctx.step("fetch_page", work)
    while True:
        ctx.step("poll", work)
        if ctx.decide("done", work()):
            break
    ctx.step("finish", work)


def try_blocks(ctx: Context, order: Any) -> None:
    try:
        ctx.effect("charge", work, order, key="charge")
    except Declined:
        ctx.step("mark_declined", work)
    except Exception:
        ctx.event("charge_failed")
        raise
    else:
        ctx.effect("send_receipt", work, key="receipt")
    finally:
        ctx.step("release", work)
    ctx.step("done", work)


def raising(ctx: Context, amount: int) -> None:
    try:
        if ctx.decide("too_large", amount > 100):
            raise Declined("too large")
        ctx.step("approve", work)
    except Declined:
        ctx.step("reject", work)
    if ctx.decide("suspicious", amount == 13):
        raise ValueError("unlucky")


def exit_in_try(ctx: Context) -> None:
    try:
        ctx.exit("early")
    except Exception:
        ctx.step("not_for_exits", work)
    except BaseException:
        ctx.step("catches_exits", work)


def finally_ways(ctx: Context, items: list[Any]) -> None:
    for item in items:
        try:
            if ctx.decide("stop", item.stop):
                break
            if ctx.decide("done", item.done):
                return
            ctx.step("handle", work, item)
        finally:
            ctx.step("cleanup", work)
    ctx.step("after_loop", work)


def nested_try(ctx: Context) -> None:
    try:
        try:
            ctx.step("attempt", work)
        except KeyError:
            ctx.step("key_error", work)
        finally:
            ctx.step("inner_cleanup", work)
    except Exception:
        ctx.step("outer_handler", work)


def helper_raises(ctx: Context) -> None:
    try:
        audit(ctx, "order")
    except ValueError:
        ctx.step("handled", work)


def case_guard(ctx: Context, tier: str, amount: int) -> None:
    match ctx.decide("tier", tier):
        case "gold" if amount > 100:
            ctx.step("big_gold", work)
        case "gold":
            ctx.step("gold", work)


def with_block(ctx: Context) -> None:
    with work() as lock:
        ctx.step("locked_work", work, lock)
    ctx.step("after", work)


def early_exit(ctx: Context, invoice_id: int) -> str:
    invoice = ctx.step("load", work, invoice_id)
    if ctx.decide("is_paid", invoice.paid):
        return ctx.exit("already_paid")
    ctx.effect("charge", work, invoice, key=f"charge-{invoice_id}")
    return "charged"


def bare_exit(ctx: Context, batch: list[Any]) -> None:
    if ctx.decide("empty", not batch):
        ctx.exit("nothing_to_do")
    ctx.step("process", work, batch)


def uses_helpers(ctx: Context) -> None:
    audit(ctx, "order")
    countdown(ctx, 3)
    ctx.step("done", work)


def imported_helpers(ctx: Context) -> None:
    ctx.step("begin", work)
    external.remote_audit(ctx, "x")
    remote_audit(ctx, "y")
    ctx.step("finish", work)


async def async_job(ctx: Context, url: str) -> None:
    page = ctx.step("fetch", work, url)
    async with work() as session:
        await session.send(ctx.step("render", work, page))
    async for _chunk in work():
        ctx.event("chunk")
    if ctx.decide("notify", bool(page)):
        ctx.effect("email", work, key="email")


def dynamic_names(ctx: Context, batch: list[str]) -> None:
    for name in batch:
        ctx.step(f"send-{name}", work, name)
    ctx.step("summary", work)


def expressions(ctx: Context, orders: list[Any]) -> Any:
    totals = [ctx.step("price", work, order) for order in orders]
    label = "rush" if ctx.decide("rush", bool(totals)) else ctx.step("standard_label", work)
    return ctx.decide("big", len(totals) > 3) and ctx.step("bulk_discount", work, label)


def not_followed(ctx: Context) -> None:
    def inner() -> None:
        ctx.step("hidden", work)

    ctx.step("visible", work, inner)
    ctx.step("later", work, lambda: ctx.event("in_lambda"))
    return
    ctx.step("never", work)


def fulfil_order(ctx: Context, order_id: int) -> str:
    order = ctx.step("load_order", work, order_id)
    customer = ctx.step("load_customer", work, order)
    if ctx.decide("cancelled", order.cancelled):
        return ctx.exit("cancelled")
    if not ctx.decide("in_stock", order.in_stock):
        ctx.enqueue(send_receipt, order_id)
        return ctx.exit("backordered")
    match ctx.decide("shipping", order.shipping):
        case "express":
            ctx.step("book_courier", work)
        case "standard":
            ctx.step("book_post", work)
        case _:
            ctx.step("book_pickup", work)
    try:
        ctx.effect("charge", work, order, key=f"charge-{order_id}")
    except Declined:
        ctx.event("declined")
        ctx.step("release_stock", work)
        return ctx.exit("payment_declined")
    for line in order.lines:
        if ctx.decide("gift", line.gift):
            ctx.step("wrap", work, line)
    ctx.step("pack", work)
    audit(ctx, "order")
    if ctx.decide("notify", customer.opted_in):
        ctx.effect("email", work, key=f"mail-{order_id}")
        ctx.event("emailed")
    ctx.enqueue(send_receipt, order_id)
    ctx.step("mark_shipped", work)
    return "shipped"


@app.job
def registered(ctx: Context, order_id: int) -> None:
    """A job as `@app.job` leaves it: a `JobDef`, unwrapped by `build_flow`."""
    ctx.step("load", work, order_id)


def context_by_name(order_id: int, context: Context) -> None:
    """The context is not the first parameter: ``build_flow(..., ctx_name="context")``."""
    context.step("load", work, order_id)
