"""The demo's execution-paths scenario: a deploy that silently skips a step.

``sync_customer`` pushes changed customers to a CRM, and declares the path it must take::

    fetch decide:changed=true validate effect:push_crm | fetch decide:changed=false exit:unchanged

Release 2026.11 follows it. Release 2026.12 was "refactored" and no longer validates
before pushing, and nothing failed: every job still succeeds. jobtrail sees it anyway:
each 2026.12 run that pushes is a ``missing`` divergence naming ``validate``, and its path
is a variant first seen under 2026.12, flagged new.

The scenario runs the 2026.11 jobs at once on an app of that release (as the fleet did
before the deploy); the demo's own app is release 2026.12 and runs the rest.
"""

from __future__ import annotations

from jobtrail.app import App
from jobtrail.context import Context
from jobtrail.testing import run_until_idle

RELEASE_BEFORE = "2026.11"
RELEASE_AFTER = "2026.12"
EXPECT = ("fetch decide:changed=true validate effect:push_crm "
          "| fetch decide:changed=false exit:unchanged")
CUSTOMERS = 12


def _changed(customer_id: int) -> bool:
    return customer_id % 4 != 0


def sync_customer_2026_11(ctx: Context, customer_id: int) -> str | None:
    """Release 2026.11: fetch, validate, push the changes."""
    record = ctx.step("fetch", lambda: {"id": customer_id, "changed": _changed(customer_id)})
    if not ctx.decide("changed", record["changed"]):
        return ctx.exit("unchanged")
    ctx.step("validate", lambda: True)
    return ctx.effect("push_crm", lambda: f"crm-{customer_id}", key=f"crm-{customer_id}")


def sync_customer(ctx: Context, customer_id: int) -> str | None:
    """Release 2026.12: the validation step was lost in a refactoring."""
    record = ctx.step("fetch", lambda: {"id": customer_id, "changed": _changed(customer_id)})
    if not ctx.decide("changed", record["changed"]):
        return ctx.exit("unchanged")
    return ctx.effect("push_crm", lambda: f"crm-{customer_id}", key=f"crm-{customer_id}")


def register(demo: App) -> None:
    """Declare the current release of ``sync_customer`` on *demo*."""
    demo.job(queue="sync", expect=EXPECT)(sync_customer)


def before_the_deploy(url: str) -> int:
    """Run half the customers on release 2026.11, to completion; return how many."""
    previous = App(url, code_version=RELEASE_BEFORE)
    try:
        previous.job(name="sync_customer", queue="sync", expect=EXPECT)(sync_customer_2026_11)
        previous.job_named("sync_customer").enqueue_many(
            {"customer_id": n} for n in range(1, CUSTOMERS // 2 + 1))
        run_until_idle(previous, queues=["sync"])
    finally:
        previous.close()
    return CUSTOMERS // 2


def after_the_deploy(demo: App) -> int:
    """Enqueue the other half for the current release; return how many."""
    demo.job_named("sync_customer").enqueue_many(
        {"customer_id": n} for n in range(CUSTOMERS // 2 + 1, CUSTOMERS + 1))
    return CUSTOMERS - CUSTOMERS // 2
