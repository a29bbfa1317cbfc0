"""Variants, funnels and rule checks bounded to the newest runs and events, as pages make
them on stores of millions of runs — through a real worker, on both backends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from jobtrail import App, Context
from jobtrail.errors import ConfigurationError
from jobtrail.paths import rules
from jobtrail.paths.rules import Bound, enqueued, event, succeeded
from jobtrail.testing import run_until_idle

LATER = datetime.now(UTC) + timedelta(days=1)


def order_app(make_app: Callable[..., App]) -> App:
    """An app whose ``order`` job loads, then ships when told to; ``ship`` follows nothing."""
    app = make_app()

    @app.job(expect="load ship?")
    def order(ctx: Context, n: int, ship: bool = False) -> None:
        ctx.step("load", lambda: n)
        if ship:
            ctx.step("ship", lambda: n)

    @app.job
    def receipt(ctx: Context, n: int) -> None:
        ctx.event("receipted", order=n)

    return app


def test_variants_and_funnel_with_a_limit_count_only_the_newest_runs(
    make_app: Callable[..., App],
) -> None:
    """limit=2 groups and funnels the two runs that ended last, not the older ones."""
    app = order_app(make_app)
    for n in range(3):
        app.enqueue("order", n=n)
        run_until_idle(app)
    for n in range(2):
        app.enqueue("order", n=10 + n, ship=True)
        run_until_idle(app)
    assert [(v.path, v.count) for v in app.paths.variants("order")] == [
        ("load", 3), ("load ship", 2)]
    assert [(v.path, v.count) for v in app.paths.variants("order", limit=2)] == [("load ship", 2)]
    funnel = app.paths.funnel("order", limit=3)
    assert (funnel.started, [(s.point, s.reached) for s in funnel.stages]) == (
        3, [("load", 3), ("ship", 2)])
    assert [name for name, _ in app.paths.job_names()] == ["order"]
    with pytest.raises(ConfigurationError, match="limit must be a positive int"):
        app.paths.runs("order", limit=0)


def test_a_bounded_rule_check_judges_only_the_newest_triggers(
    make_app: Callable[..., App],
) -> None:
    """With Bound(runs=2), a rule triggered by a job's success judges its two newest runs
    and says it checked since the older of them; unbounded, every run."""
    app = order_app(make_app)
    app.paths.rule("orders get a receipt", when=succeeded("order"), then=enqueued("receipt"),
                   within=60)
    ids = []
    for n in range(4):
        ids.append(app.enqueue("order", n=n).id)
        run_until_idle(app)
    (whole,) = app.paths.check_rules()
    assert (whole.checked, whole.since) == (4, None)
    (bounded,) = rules.check(app.store, app.paths.rules.values(), now=LATER,
                             bound=Bound(runs=2, events=100))
    assert bounded.checked == 2
    assert sorted(b.job_id for b in bounded.broken) == ids[2:]
    assert bounded.since == app.get(ids[2]).finished_at


def test_a_bounded_milestone_rule_reads_only_the_newest_events(
    make_app: Callable[..., App],
) -> None:
    """With Bound(events=N) a milestone rule reads the newest N rows of events only, and
    says since when that covers every milestone."""
    app = order_app(make_app)
    app.paths.rule("receipts are filed", when=event("receipted", key="order"),
                   then=event("filed", key="order"), within=60)
    for n in range(3):
        app.enqueue("receipt", n=n)
        run_until_idle(app)
    (whole,) = app.paths.check_rules(bound=Bound(runs=10, events=100_000))
    assert (whole.checked, whole.since) == (3, None)
    # The newest 3 rows of events are the last receipt's: enqueued, claimed, and its
    # outcome, which holds its path.
    (newest,) = app.paths.check_rules(bound=Bound(runs=10, events=3))
    assert newest.checked == 1 and newest.since is not None
    finished = app.get(2).finished_at
    assert finished is not None and newest.since > finished
    with pytest.raises(ConfigurationError, match=r"bound\.events must be a positive int"):
        app.paths.check_rules(bound=Bound(runs=10, events=0))
