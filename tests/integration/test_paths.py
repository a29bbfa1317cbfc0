"""Execution paths through a real worker: decisions, exits, divergences of every kind,
alert sinks, variants and funnels, and redaction — on both backends."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jobtrail import App, Context, Permanent, Retry, Transient
from jobtrail.clock import ManualClock
from jobtrail.errors import ConfigurationError, JobDefinitionError
from jobtrail.paths import rules
from jobtrail.paths.rules import event as rules_event
from jobtrail.records import Divergence, Status
from jobtrail.testing import run_until_idle
from tests.support import rawsql

FAST = Retry(max_attempts=3, base=0, jitter="none")
EXPECT = ("load decide:is_paid=true exit:already_paid "
          "| load decide:is_paid=false effect:charge (mark_paid | mark_failed)")


def bill_app(make_app: Callable[..., App], **options: Any) -> tuple[App, Any]:
    """An app whose ``bill`` job takes the path *skip* names (or the expected one)."""
    app = make_app(**options)

    @app.job(expect=EXPECT, retry=FAST)
    def bill(ctx: Context, invoice: int, paid: bool = False, skip: str = "") -> str | None:
        if skip != "load":
            ctx.step("load", lambda: invoice)
        if ctx.decide("is_paid", paid):
            return ctx.exit("already_paid") if skip != "exit" else None
        if skip == "early_exit":
            return ctx.exit("no_card")
        if skip == "swap":
            ctx.step("mark_paid", lambda: True)
            ctx.effect("charge", lambda: "ch_1", key=f"charge-{invoice}")
            return "swapped"
        if skip != "charge":
            ctx.effect("charge", lambda: "ch_1", key=f"charge-{invoice}")
        if skip == "extra":
            ctx.step("audit", lambda: 1)
        if skip == "crash":
            raise Permanent("card network down")
        if skip != "mark":
            ctx.step("mark_paid", lambda: True)
        return "charged"

    return app, bill


def test_a_conforming_run_records_its_path_and_no_divergence(make_app: Callable[..., App]) -> None:
    """Steps, the decision with its value and the effect form the run's variant; nothing diverges."""
    app, bill = bill_app(make_app)
    handle = bill.enqueue(invoice=1)
    run_until_idle(app)
    job = app.get(handle.id)
    assert job.status is Status.SUCCEEDED
    assert job.variant == "load decide:is_paid=false effect:charge mark_paid"
    kinds = [(e.kind, e.name) for e in job.path]
    assert kinds == [
        ("lifecycle", "enqueued"), ("lifecycle", "claimed"), ("lifecycle", "started"),
        ("step", "load"), ("decide", "is_paid"), ("effect", "charge"), ("step", "mark_paid"),
        ("lifecycle", "succeeded"),
    ]
    decision = next(e for e in job.path if e.kind == "decide")
    assert decision.attrs == {"value": "false"}
    assert all(e.job_id == handle.id and e.trace_id == job.trace_id for e in job.path)
    assert app.paths.divergences(job_id=handle.id) == []


def test_an_intentional_exit_succeeds_with_its_reason(make_app: Callable[..., App]) -> None:
    """return ctx.exit(reason) ends the job succeeded with outcome exit:<reason>, recorded on its path."""
    app, bill = bill_app(make_app)
    handle = bill.enqueue(invoice=2, paid=True)
    run_until_idle(app)
    job = app.get(handle.id)
    assert (job.status, job.outcome, job.result) == (Status.SUCCEEDED, "exit:already_paid", None)
    assert job.variant == "load decide:is_paid=true exit:already_paid"
    assert app.paths.divergences(job_id=handle.id) == []


@pytest.mark.parametrize(("skip", "kind", "position", "expected"), [
    ("mark", "missing", 3, ("mark_failed", "mark_paid")),
    ("load", "missing", 0, ("load",)),
    ("extra", "unexpected", 3, ()),
    ("swap", "out_of_order", 2, ("effect:charge",)),
    ("early_exit", "unexpected_exit", 2, ()),
    ("crash", "incomplete", 3, ("mark_failed", "mark_paid")),
])
def test_each_divergence_kind_is_found_in_a_real_run(
    make_app: Callable[..., App], skip: str, kind: str, position: int, expected: tuple[str, ...]
) -> None:
    """A run that departs from expect= leaves a stored divergence of the right kind and position."""
    app, bill = bill_app(make_app)
    handle = bill.enqueue(invoice=3, skip=skip)
    run_until_idle(app)
    found = app.paths.divergences(job_id=handle.id)
    assert [d.kind for d in found] == [kind], [d.message for d in found]
    (divergence,) = found
    assert divergence.position == position
    assert divergence.job_name == "bill" and divergence.message
    if expected:  # what should have come there (one way to go on, when there are several)
        assert set(expected) & set(divergence.expected), divergence.expected
    assert app.paths.divergence_counts(job_name="bill") == {("bill", kind): 1}
    assert [d.id for d in app.paths.divergences(kind=kind)] == [divergence.id]


def test_a_repeat_safe_effect_run_again_after_a_crash_is_a_duplicate_effect(
    make_app: Callable[..., App],
) -> None:
    """An effect started by an attempt that never recorded its end and run again is flagged."""
    clock = ManualClock()
    app = make_app(store_options={"clock": clock})
    calls: list[int] = []

    @app.job(retry=FAST)
    def notify(ctx: Context) -> None:
        ctx.effect("ping", lambda: calls.append(ctx.attempt), key="ping-1", repeat_safe=True)

    handle = notify.enqueue()
    # Attempt 1 "crashed" between intent and completion: its intent is all that is stored.
    (job,) = app.store.claim("crashed-worker", None, 1, 30.0)
    app.store.begin_effect(job.id, job.claim, job.attempt, "ping", "ping-1", True)
    clock.advance(31)
    assert app.store.reap_expired() == [job.id]
    run_until_idle(app)
    assert calls == [2]
    (divergence,) = app.paths.divergences(job_id=handle.id)
    assert divergence.kind == "duplicate_effect" and "ping" in divergence.message


def test_a_step_far_slower_than_its_history_is_slow(make_app: Callable[..., App]) -> None:
    """Once a step has a history, a run far beyond its p99 is a slow divergence."""
    app = make_app(slow_factor=5.0)
    assert app.step_timings is not None
    for _ in range(200):
        app.step_timings.observe("sync", "fetch", 0.001)

    @app.job
    def sync(ctx: Context, pause: float) -> None:
        ctx.step("fetch", time.sleep, pause)

    fast, slow = sync.enqueue(pause=0.0), sync.enqueue(pause=0.05)
    run_until_idle(app)
    assert app.paths.divergences(job_id=fast.id) == []
    (divergence,) = app.paths.divergences(job_id=slow.id)
    assert (divergence.kind, divergence.found) == ("slow", "fetch")


def test_alert_sinks_receive_each_divergence_after_it_is_stored(
    make_app: Callable[..., App],
) -> None:
    """Every sink gets the divergence; a failing sink neither stops the others nor the worker."""
    received: list[Divergence] = []

    def broken_sink(alert: Divergence) -> None:
        raise RuntimeError("pager down")

    app, bill = bill_app(make_app, alert_sinks=[broken_sink])
    app.paths.on_divergence(received.append)
    bad, good = bill.enqueue(invoice=4, skip="mark"), bill.enqueue(invoice=5)
    run_until_idle(app)
    assert [(a.job_id, a.kind) for a in received] == [(bad.id, "missing")]
    assert app.get(good.id).status is Status.SUCCEEDED


def test_variants_and_funnel_count_thousands_of_runs(make_app: Callable[..., App]) -> None:
    """2,000 runs over three paths group into three variants with exact counts, and a funnel."""
    app, bill = bill_app(make_app)
    args = ([{"invoice": i, "paid": True} for i in range(600)]
            + [{"invoice": i} for i in range(600, 1900)]
            + [{"invoice": i, "skip": "mark"} for i in range(1900, 2000)])
    bill.enqueue_many(args)
    run_until_idle(app, concurrency=4)
    found = {v.path: v for v in app.paths.variants("bill")}
    assert {path: v.count for path, v in found.items()} == {
        "load decide:is_paid=false effect:charge mark_paid": 1300,
        "load decide:is_paid=true exit:already_paid": 600,
        "load decide:is_paid=false effect:charge": 100,
    }
    top = app.paths.variants("bill")[0]
    assert top.share == pytest.approx(0.65) and top.p50 is not None and top.p95 is not None
    assert top.p50 <= top.p95 and top.outcomes == {"succeeded": 1300}
    funnel = app.paths.funnel("bill")
    reached = {stage.point: stage.reached for stage in funnel.stages}
    assert funnel.started == 2000 and funnel.exits == {"already_paid": 600}
    assert reached == {"load": 2000, "decide:is_paid": 2000, "effect:charge": 1400,
                       "mark_paid": 1300, "mark_failed": 0}
    assert [s.point for s in funnel.stages][:3] == ["load", "decide:is_paid", "effect:charge"]
    assert app.paths.divergence_counts() == {("bill", "missing"): 100}


def test_a_path_that_appears_with_a_new_code_version_is_flagged_new(
    make_app: Callable[..., App], db_url: str,
) -> None:
    """After a deploy that silently skips a step, its variant is new and runs diverge."""
    app, bill = bill_app(make_app, code_version="v1")
    bill.enqueue_many([{"invoice": i} for i in range(5)])
    run_until_idle(app)
    deployed, bill2 = bill_app(make_app, code_version="v2")
    bill2.enqueue_many([{"invoice": i, "skip": "mark"} for i in range(5, 8)])
    run_until_idle(deployed)
    flagged = {v.path: v.new for v in deployed.paths.variants("bill", new_in_version="v2")}
    assert flagged == {"load decide:is_paid=false effect:charge mark_paid": False,
                       "load decide:is_paid=false effect:charge": True}
    assert deployed.paths.divergence_counts() == {("bill", "missing"): 3}


def test_sensitive_fields_never_reach_the_stored_path(make_app: Callable[..., App], db_url: str) -> None:
    """A value declared in redact= is masked in events, effects, decisions, errors and variants."""
    app = make_app()
    secret = "ada@example.com"

    @app.job(redact=["email"], retry=Retry(max_attempts=1))
    def welcome(ctx: Context, user: int, email: str) -> None:
        ctx.step("profile", lambda: {"email": email, "user": user})
        ctx.event("sending", email=email, note=f"to {email}")
        ctx.decide("email", email)
        ctx.effect("send", lambda: f"sent to {email}", key=f"welcome-{email}")
        raise Permanent(f"bounced: {email}")

    handle = welcome.enqueue(user=1, email=secret)
    run_until_idle(app)
    job = app.get(handle.id)
    assert job.status is Status.DEAD and secret not in str(job.error)
    assert secret not in repr(job.path) and "[redacted]" in repr(job.path)
    assert secret not in (job.variant or "")
    stored = rawsql.fetch(db_url, "SELECT coalesce(attrs, '') || coalesce(path, '') FROM jobtrail_events")
    stored += rawsql.fetch(db_url, "SELECT coalesce(error, '') || coalesce(variant, '') FROM jobtrail_jobs")
    stored += rawsql.fetch(db_url, "SELECT message || coalesce(found, '') || coalesce(expected, '') FROM jobtrail_divergences")
    assert stored and not [text for (text,) in stored if secret in text]


def test_a_masked_step_result_is_run_again_rather_than_resumed(make_app: Callable[..., App]) -> None:
    """A step whose result held a sensitive value is not a checkpoint: the retry runs it again."""
    app = make_app()
    calls: list[int] = []

    @app.job(redact=["email"], retry=FAST)
    def welcome(ctx: Context, email: str) -> str:
        got = ctx.step("profile", lambda: calls.append(ctx.attempt) or {"email": email})  # type: ignore[func-returns-value]
        if ctx.attempt == 1:
            raise Transient("try again")
        return str(got["email"])

    handle = welcome.enqueue(email="bob@example.com")
    run_until_idle(app)
    assert calls == [1, 2]  # the masked result was not replayed: the step ran again
    assert app.get(handle.id).result == "[redacted]"  # and the job's result is stored masked


def test_recording_mistakes_are_clear_errors(make_app: Callable[..., App]) -> None:
    """A malformed expect= fails at declaration naming the column; an odd decision value fails the run."""
    app = make_app()
    with pytest.raises(JobDefinitionError, match=r"job 'broken'.*column 6"):
        app.job(name="broken", expect="load |")(lambda: None)

    @app.job(retry=Retry(max_attempts=1))
    def odd(ctx: Context) -> None:
        ctx.decide("items", [1, 2])

    handle = odd.enqueue()
    run_until_idle(app)
    assert "decide on a bool, int, str" in str(app.get(handle.id).error)


def test_nothing_runs_after_an_exit_even_under_except_exception(make_app: Callable[..., App]) -> None:
    """ctx.exit ends the job like sys.exit: `except Exception` does not catch it."""
    app = make_app()
    ran_after: list[str] = []

    @app.job
    async def tidy(ctx: Context) -> None:
        try:
            ctx.exit("nothing_to_do")
        except Exception:
            ran_after.append("handler")
        ran_after.append("after")

    @app.job
    def plain(ctx: Context) -> str:
        try:
            return ctx.exit("nothing_to_do")
        except Exception:
            return "caught"

    a, b = tidy.enqueue(), plain.enqueue()
    run_until_idle(app)
    for handle in (a, b):
        job = app.get(handle.id)
        assert (job.status, job.outcome, job.result) == (Status.SUCCEEDED, "exit:nothing_to_do", None)
    assert ran_after == []


def test_a_milestone_rule_names_the_users_whose_follow_up_never_came(
    make_app: Callable[..., App],
) -> None:
    """Every onboarding_started is followed by onboarding_complete for the same user, or the user is named."""
    app = make_app()

    @app.job
    def start(ctx: Context, user: int) -> None:
        ctx.event("onboarding_started", user=user)

    @app.job
    def finish(ctx: Context, user: int) -> None:
        ctx.event("onboarding_complete", user=user)

    app.paths.rule("onboarding completes", within=60,
             when=rules_event("onboarding_started", key="user"),
             then=rules_event("onboarding_complete", key="user"))
    start.enqueue_many([{"user": u} for u in (1, 2, 3)])
    run_until_idle(app)
    finish.enqueue(user=1)
    run_until_idle(app)
    (pending,) = app.paths.check_rules()
    assert (pending.checked, pending.kept, pending.pending, pending.broken) == (3, 1, 2, ())
    later = datetime.now(UTC) + timedelta(minutes=2)
    (report,) = rules.check(app.store, app.paths.rules.values(), now=later)
    assert (report.checked, report.kept, report.pending) == (3, 1, 0)
    assert sorted(b.entity for b in report.broken) == ["2", "3"]
    with pytest.raises(ConfigurationError, match="two rules"):
        app.paths.rule("onboarding completes", within=1, when=rules_event("a"), then=rules_event("b"))


def test_a_replayed_run_leaves_variants_until_it_ends_again(make_app: Callable[..., App]) -> None:
    """Replaying a dead run clears its summary: while it waits, variants count only finished runs."""
    app, bill = bill_app(make_app)
    dead, ok = bill.enqueue(invoice=9, skip="crash"), bill.enqueue(invoice=10)
    run_until_idle(app)
    assert app.get(dead.id).status is Status.DEAD
    app.replay(dead.id)
    assert app.get(dead.id).variant is None
    assert [v.count for v in app.paths.variants("bill")] == [1] and app.paths.funnel("bill").started == 1
    assert app.get(ok.id).variant == "load decide:is_paid=false effect:charge mark_paid"


def test_redaction_covers_exit_reasons_keys_and_decisions_in_divergences(
    make_app: Callable[..., App], db_url: str,
) -> None:
    """A secret in an exit reason, a dict key, a set or a divergent decision is never stored."""
    app = make_app()
    secret = "eve@example.com"

    @app.job(redact=["email"], expect="decide:email=other exit:done")
    def odd(ctx: Context, email: str) -> None:
        ctx.event("sent", to={email: "ok"}, cc={email})
        ctx.decide("email", email.upper())
        ctx.decide("owner", email)
        return ctx.exit(f"done-{email}")  # type: ignore[return-value]  # a NoReturn value in a -> None job

    handle = odd.enqueue(email=secret)
    run_until_idle(app)
    assert app.get(handle.id).outcome == "exit:done-[redacted]"
    assert app.paths.divergences(job_id=handle.id)
    stored = rawsql.fetch(db_url, "SELECT coalesce(attrs, '') || coalesce(path, '') FROM jobtrail_events")
    stored += rawsql.fetch(db_url, "SELECT coalesce(outcome, '') || coalesce(variant, '') FROM jobtrail_jobs")
    stored += rawsql.fetch(db_url, "SELECT message || coalesce(found, '') || coalesce(expected, '') FROM jobtrail_divergences")
    texts = [text for (text,) in stored]
    assert not [t for t in texts if secret in t or secret.upper() in t], texts


def test_a_milestone_with_a_non_ascii_name_is_found(make_app: Callable[..., App]) -> None:
    """Milestones are matched on their stored spelling, accents included."""
    app = make_app()

    @app.job
    def greet(ctx: Context) -> None:
        ctx.event("café_opened", table=4)

    greet.enqueue()
    run_until_idle(app)
    (found,) = app.store.milestones("café_opened")
    assert found.attrs == {"table": 4}
