"""What a run's path says, on both backends: milestones and outcomes in funnels, the
summary of a run whose worker died, an effect run twice that stays flagged, every view of
one run agreeing, and no operator view showing a redacted value."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from jobtrail import App, Context, Permanent, Retry, Transient
from jobtrail.clock import ManualClock
from jobtrail.records import Divergence, Status
from jobtrail.redaction import MASK
from jobtrail.store.base import PathEvent, PathSegment
from jobtrail.testing import run_until_idle

FAST = Retry(max_attempts=3, base=0, jitter="none")
CARD = "4111111111111111"


def test_a_funnel_counts_milestones_and_how_runs_ended_in_path_order(
    make_app: Callable[..., App],
) -> None:
    """100 onboardings: 98 reach send_welcome, 96 complete, 2 exit, 2 die: the funnel shows
    the milestones where runs reached them, and the outcomes after the path."""
    app = make_app()

    @app.job(retry=Retry(max_attempts=1))
    def onboard(ctx: Context, user: int) -> None:
        ctx.step("create_account", lambda: user)
        ctx.event("account_ready")
        if user < 2:
            ctx.exit("duplicate_signup")
        if user < 4:
            raise Permanent("mail server refused the address")
        ctx.step("send_welcome", lambda: True)
        ctx.event("onboarding_complete")

    onboard.enqueue_many([{"user": n} for n in range(100)])
    run_until_idle(app)
    funnel = app.paths.funnel("onboard")
    assert funnel.started == 100
    assert [(s.point, s.reached) for s in funnel.stages] == [
        ("create_account", 100), ("event:account_ready", 100), ("send_welcome", 96),
        ("event:onboarding_complete", 96)]
    assert funnel.outcomes == {"completed": 96, "exit:duplicate_signup": 2, "dead": 2}
    assert funnel.exits == {"duplicate_signup": 2}


def test_a_run_whose_worker_died_on_its_last_attempt_is_summarised_from_what_it_saved(
    make_app: Callable[..., App],
) -> None:
    """The worker died after `a` (saved with the effect's intent) of `expect="a effect:e b"`:
    the reaper's worker writes its variant and an incomplete divergence, and alerts."""
    clock = ManualClock()
    alerts: list[Divergence] = []
    app = make_app(store_options={"clock": clock}, alert_sinks=[alerts.append])

    @app.job(retry=Retry(max_attempts=1), expect="a effect:e b")
    def fragile(ctx: Context) -> None:
        ctx.step("a", lambda: 1)
        ctx.event("begun")
        ctx.effect("e", lambda: None)
        ctx.step("b", lambda: 2)

    handle = fragile.enqueue()
    (job,) = app.store.claim("doomed-worker", None, 1, 30.0)
    # What the dead worker did: step a and a milestone, then the effect's intent with them.
    saved = [PathEvent("step", "a", 1.0, 0.001, None, "1"), PathEvent("event", "begun", 1.1)]
    app.store.begin_effect(job.id, job.claim, 1, "e", f"{job.id}:e", False, saved)
    clock.advance(31)
    run_until_idle(app)  # its reaper takes the lease back; the job is dead
    record = app.get(handle.id)
    assert record.status is Status.DEAD and record.error is not None
    assert record.variant == "a"
    (found,) = app.paths.divergences(job_id=handle.id)
    assert found.kind == "incomplete" and found.position == 1
    assert [(a.kind, a.job_id) for a in alerts] == [("incomplete", handle.id)]
    (run,) = app.store.runs("fragile", None)
    assert run.milestones == (("begun", 1),)
    assert [(s.point, s.reached) for s in app.paths.funnel("fragile").stages][:2] == [
        ("a", 1), ("event:begun", 1)]


def test_a_duplicate_effect_stays_flagged_when_a_later_attempt_replays_it(
    make_app: Callable[..., App],
) -> None:
    """Attempt 2 re-runs the repeat-safe effect attempt 1 left started, then fails; attempt 3
    replays the effect: the run still reports that it may have happened twice."""
    clock = ManualClock()
    app = make_app(store_options={"clock": clock})
    calls: list[int] = []

    @app.job(retry=FAST)
    def notify(ctx: Context) -> None:
        ctx.effect("ping", lambda: calls.append(ctx.attempt), key="ping-1", repeat_safe=True)
        if ctx.attempt == 2:
            raise Transient("the step after the ping failed")

    handle = notify.enqueue()
    (job,) = app.store.claim("crashed-worker", None, 1, 30.0)
    app.store.begin_effect(job.id, job.claim, job.attempt, "ping", "ping-1", True)
    clock.advance(31)
    run_until_idle(app)
    assert handle.get().status is Status.SUCCEEDED and calls == [2]
    (divergence,) = app.paths.divergences(job_id=handle.id)
    assert divergence.kind == "duplicate_effect"
    (effect,) = app.effects(handle.id)
    assert effect.repeated and effect.status == "done"


def test_every_view_of_one_run_agrees(make_app: Callable[..., App]) -> None:
    """get, events, the runs and the variant tell the same story, trace id included, and
    each attempt's steps come after its start, even after a lease expiry."""
    clock = ManualClock()
    app = make_app(store_options={"clock": clock})

    @app.job(retry=FAST)
    def staged(ctx: Context) -> None:
        ctx.event("hello")
        ctx.step("one", lambda: 1)

    handle = staged.enqueue()
    (job,) = app.store.claim("lost-worker", None, 1, 30.0)
    app.store.checkpoint("lost-worker", [PathSegment(
        job.id, job.attempt, [PathEvent("event", "hello", time.time())], job.claim)])
    clock.advance(31)
    run_until_idle(app)
    record = app.get(handle.id)
    assert record.status is Status.SUCCEEDED and record.attempts == 2
    assert app.events(handle.id) == list(record.path)
    assert {e.trace_id for e in app.events(handle.id)} == {record.trace_id}
    # Attempt 1 was claimed by a worker that died before it called the job (no `started`);
    # attempt 2's clock runs behind the database's, yet its entries follow its start.
    first = [(e.kind, e.name) for e in record.path if e.attempt == 1]
    assert first == [("lifecycle", "claimed"), ("event", "hello"), ("lifecycle", "lease_expired")]
    second = [(e.kind, e.name) for e in record.path if e.attempt == 2]
    assert second == [("lifecycle", "claimed"), ("lifecycle", "started"), ("event", "hello"),
                      ("step", "one"), ("lifecycle", "succeeded")]
    assert record.variant == "one"


def test_no_view_shows_a_redacted_value(make_app: Callable[..., App]) -> None:
    """The card given as a redacted argument is masked in the job, its result, its path,
    its effects' keys and results, whether read with the job declared or not."""
    app = make_app()

    @app.job(redact=["card"], retry=Retry(max_attempts=1))
    def charge(ctx: Context, invoice: int, card: str) -> dict[str, str]:
        receipt = ctx.effect("charge", lambda: {"card": card, "ok": "yes"},
                             key=f"charge-{invoice}-{card}")
        ctx.event("charged", last4=card[-4:], card=card)
        if invoice == 2:
            raise Permanent(f"card {card} declined after charging")
        return {"paid_with": card, "receipt": receipt["ok"]}

    good, bad = charge.enqueue(1, CARD), charge.enqueue(2, CARD)
    run_until_idle(app)
    readers = [app, App(app.url)]  # the second declares no job: the stored fields mask
    try:
        for reader in readers:
            for handle in (good, bad):
                job = reader.get(handle.id)
                assert job.args is not None and job.args["card"] == MASK
                shown = json.dumps([job.args, job.raw_payload, job.result, str(job.error),
                                    [(e.name, e.attrs) for e in job.path]])
                assert CARD not in shown, shown
                effects = reader.effects(handle.id)
                assert [e.key for e in effects] == [f"charge-{job.args['invoice']}-{MASK}"]
                assert all(CARD not in (e.result or "") for e in effects)
            assert reader.get(good.id).result == {"paid_with": MASK, "receipt": "yes"}
            listed = reader.jobs() + reader.dead_letters()
            assert listed and all(CARD not in j.raw_payload and j.args["card"] == MASK  # type: ignore[index]
                                  for j in listed)
    finally:
        readers[1].close()
