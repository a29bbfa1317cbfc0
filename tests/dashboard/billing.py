"""The app of the path pages' tests: billing runs under two code versions, a job whose
names and values are hostile, and two rules — all run by a real worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from jobtrail import App, Context, Retry
from jobtrail.paths.rules import enqueued, event, succeeded
from jobtrail.testing import run_until_idle

HOSTILE = "<script>alert(1)</script>"
EXPECT = ("load decide:is_paid=false effect:charge send_result "
          "| load decide:is_paid=true exit:already_paid")
#: The path version 2 brought: an audit step before the result, on even invoices.
NEW_PATH = "load decide:is_paid=false effect:charge audit send_result"
USUAL_PATH = "load decide:is_paid=false effect:charge send_result"
PAID_PATH = "load decide:is_paid=true exit:already_paid"


@dataclass
class Billing:
    """The app of version 2 after both versions ran: ``bill`` ran for invoices 1 to 6 under
    v1 and 7 to 12 under v2 (5 and 11 already paid; 8, 10 and 12 audited under v2; 3, 6, 9
    and 12 enqueued their receipt), and the hostile job once; ``deployed`` is a time
    between the versions' runs."""

    app: App
    bills: dict[int, int]
    hostile: int
    deployed: datetime


def declare(app: App, *, audited: bool) -> None:
    """The job types and rules of both versions (*audited*: version 2's new step)."""

    @app.job(expect=EXPECT, retry=Retry(max_attempts=1))
    def bill(ctx: Context, invoice: int, paid: bool = False) -> None:
        ctx.step("load", lambda: invoice)
        if ctx.decide("is_paid", paid):
            ctx.exit("already_paid")
        ctx.effect("charge", lambda: invoice, key=f"charge-{invoice}")
        if audited and invoice % 2 == 0:
            ctx.step("audit", lambda: invoice)
        ctx.step("send_result", lambda: invoice)
        if invoice % 3 == 0:
            ctx.enqueue("receipt", invoice=invoice)

    @app.job
    def receipt(ctx: Context, invoice: int) -> None:
        ctx.event("receipted", invoice=invoice)

    @app.job(name=HOSTILE, expect="load", retry=Retry(max_attempts=1))
    def hostile(ctx: Context, note: str) -> None:
        ctx.step(HOSTILE, lambda: note)
        ctx.decide("choice", HOSTILE)
        ctx.event("opened", who=HOSTILE)

    app.paths.rule("bills are receipted", when=succeeded("bill"), then=enqueued("receipt"),
                   within=0.001)
    app.paths.rule(f"{HOSTILE} is closed", when=event("opened", key="who"),
                   then=event("closed", key="who"), within=0.001)


def run_billing(make_app: Callable[..., App]) -> Billing:
    """Run version 1, then version 2 with the hostile job, on the backend under test."""
    first = make_app(code_version="v1")
    declare(first, audited=False)
    bills = {n: first.enqueue("bill", invoice=n, paid=n == 5).id for n in range(1, 7)}
    run_until_idle(first)
    time.sleep(0.01)
    deployed = datetime.now(UTC)
    second = make_app(code_version="v2")
    declare(second, audited=True)
    bills |= {n: second.enqueue("bill", invoice=n, paid=n == 11).id for n in range(7, 13)}
    hostile = second.enqueue(HOSTILE, note=HOSTILE).id
    run_until_idle(second)
    time.sleep(0.01)  # every rule's window (a millisecond) has passed
    return Billing(second, bills, hostile, deployed)
