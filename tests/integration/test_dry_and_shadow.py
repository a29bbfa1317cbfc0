"""Dry runs capture effects instead of performing them; shadow runs compare a candidate
implementation with the real one — through a real worker, on both backends."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from jobtrail import App, Context, JobDef, Permanent, Retry
from jobtrail.errors import ArgumentError, ConfigurationError
from jobtrail.records import Status
from jobtrail.testing import run_until_idle

EXPECT = "load decide:big=true effect:charge notify | load decide:big=false exit:small"


def billing_app(make_app: Callable[..., App], performed: list[str]) -> tuple[App, JobDef[..., str]]:
    app = make_app()

    @app.job(name="receipt")
    def receipt(invoice: int) -> None:
        performed.append(f"receipt {invoice}")

    @app.job(expect=EXPECT, retry=Retry(max_attempts=1))
    def bill(ctx: Context, invoice: int, amount: int) -> str:
        ctx.step("load", lambda: invoice)
        if not ctx.decide("big", amount >= 100):
            return ctx.exit("small")
        charge = ctx.effect("charge", lambda: performed.append(f"charge {invoice}") or "ch_1",  # type: ignore[func-returns-value]
                            key=f"charge-{invoice}")
        ctx.enqueue(receipt, invoice=invoice)
        ctx.step("notify", lambda: True)
        return f"charged {charge}"

    return app, bill


def test_a_dry_run_captures_effects_and_child_jobs_and_stores_nothing(
    make_app: Callable[..., App],
) -> None:
    """The path, captured effect (name, key, arguments) and child job come back; nothing ran or was stored."""
    performed: list[str] = []
    app, bill = billing_app(make_app, performed)
    done = bill.dry_run(invoice=7, amount=500, effect_results={"charge": "ch_test"})
    assert performed == [] and app.counts() == {}
    assert done.variant == "load decide:big=true effect:charge notify" and done.divergences == ()
    (effect,) = done.effects
    assert (effect.name, effect.key, effect.repeat_safe) == ("charge", "charge-7", False)
    assert [(e.job_name, e.args) for e in done.enqueued] == [("receipt", {"invoice": 7})]
    assert done.result == "charged ch_test" and done.succeeded
    small = bill.dry_run(invoice=8, amount=5)
    assert (small.variant, small.exit_reason, small.effects) == ("load decide:big=false exit:small", "small", ())
    with pytest.raises(ArgumentError):
        bill.dry_run(invoice="x", amount=5)


def test_a_dry_run_reports_the_error_and_the_divergence_of_a_failing_job(
    make_app: Callable[..., App],
) -> None:
    """A job that raises in a dry run returns its error and the incomplete path, not an exception."""
    app = make_app()

    @app.job(expect="a b")
    def broken(ctx: Context) -> None:
        ctx.step("a", lambda: 1)
        raise Permanent("no b today")

    done = broken.dry_run()
    assert not done.succeeded and done.error is not None and "no b today" in done.error.message
    assert [d.kind for d in done.divergences] == ["incomplete"]


def test_a_shadow_candidate_that_skips_a_step_is_reported_different(
    make_app: Callable[..., App],
) -> None:
    """Each real run enqueues a lower-priority shadow; the candidate's skipped step shows as a path difference."""
    performed: list[str] = []
    app, bill = billing_app(make_app, performed)

    def bill_v2(ctx: Context, invoice: int, amount: int) -> str:
        ctx.step("load", lambda: invoice)
        if not ctx.decide("big", amount >= 100):
            return ctx.exit("small")
        charge = ctx.effect("charge", lambda: performed.append("SHADOW CHARGED") or "ch_1",  # type: ignore[func-returns-value]
                            key=f"charge-{invoice}")
        return f"charged {charge}"  # forgot to notify

    app.paths.shadow(bill, bill_v2)
    bill.enqueue_many([{"invoice": 1, "amount": 500}, {"invoice": 2, "amount": 5}])
    run_until_idle(app)
    assert "SHADOW CHARGED" not in performed and performed.count("charge 1") == 1
    shadows = app.jobs(job_name="bill.shadow")
    assert len(shadows) == 2 and all(j.status is Status.SUCCEEDED for j in shadows)
    assert all(j.priority < 0 for j in shadows)
    reports = {r.real_job_id: r for r in app.paths.shadow_reports("bill")}
    big, small = reports[1], reports[2]
    assert (big.same_path, big.real_path, big.shadow_path) == (
        False, "load decide:big=true effect:charge notify", "load decide:big=true effect:charge")
    assert big.same_result is False  # the stand-in effect result differs from the real charge
    assert small.same and small.shadow_path == "load decide:big=false exit:small"


def test_shadow_declarations_are_checked(make_app: Callable[..., App]) -> None:
    """A shadow needs a callable, a sample in (0, 1], and one per job."""
    app, bill = billing_app(make_app, [])
    with pytest.raises(ConfigurationError, match="callable"):
        app.paths.shadow(bill, "nope")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="sample"):
        app.paths.shadow(bill, lambda ctx, **kw: None, sample=0)
    app.paths.shadow(bill, lambda ctx, **kw: None, sample=0.5)
    with pytest.raises(ConfigurationError, match="already has a shadow"):
        app.paths.shadow(bill, lambda ctx, **kw: None)


def test_a_shadow_of_a_failed_run_reports_the_real_error_as_stored(
    make_app: Callable[..., App],
) -> None:
    """A real run that failed is compared by its error class, and the report carries the real
    run's error, class and message, redacted as its job stored it."""
    app = make_app()

    @app.job(retry=Retry(max_attempts=1), redact=["card"])
    def charge(ctx: Context, order: int, card: str) -> str:
        ctx.step("load", lambda: order)
        raise Permanent(f"card {card} declined for order {order}")

    def charge_v2(ctx: Context, order: int, card: str) -> str:
        ctx.step("load", lambda: order)
        if order == 1:
            raise Permanent(f"card {card} still declined")
        return "charged"

    app.paths.shadow(charge, charge_v2)
    charge.enqueue_many([{"order": 1, "card": "4000-0002"}, {"order": 2, "card": "4000-0003"}])
    run_until_idle(app)
    reports = {r.real_job_id: r for r in app.paths.shadow_reports("charge")}
    same, differs = reports[1], reports[2]
    assert same.same and same.real_error == "jobtrail.errors.Permanent: card [redacted] declined for order 1"
    assert same.shadow_error == "jobtrail.errors.Permanent: card [redacted] still declined"
    assert (differs.same_path, differs.same_result) == (True, False)
    assert differs.real_error == "jobtrail.errors.Permanent: card [redacted] declined for order 2"
    assert (differs.real_result, differs.shadow_result, differs.shadow_error) == (None, "charged", None)
    for job in app.jobs(job_name="charge.shadow"):
        assert "4000-000" not in json.dumps(job.result)


def test_a_shadow_of_a_succeeded_run_has_no_real_error(make_app: Callable[..., App]) -> None:
    """A real run that succeeded leaves real_error empty: its result is what is compared."""
    app, bill = billing_app(make_app, [])

    def bill_v2(ctx: Context, invoice: int, amount: int) -> str:
        ctx.step("load", lambda: invoice)
        ctx.decide("big", amount >= 100)
        return ctx.exit("small")

    app.paths.shadow(bill, bill_v2)
    bill.enqueue(invoice=3, amount=5)
    run_until_idle(app)
    (report,) = app.paths.shadow_reports("bill")
    assert report.same and (report.real_error, report.shadow_error) == (None, None)
