"""The three-way check — code, expect= and recorded runs — on real runs, both backends."""

from __future__ import annotations

from collections.abc import Callable

from jobtrail import App, Context, Permanent, Retry
from jobtrail.flows import build_flow
from jobtrail.flows.coverage import check, split_runs
from jobtrail.testing import run_until_idle

EXPECT = "load decide:paid=true exit:paid | load decide:paid=false effect:charge save"

# mypy refuses a NoReturn value in a ``-> None`` function, so the documented
# ``return ctx.exit(...)`` of these jobs carries ``type: ignore[return-value]``.


def bill(ctx: Context, invoice: int) -> None:
    ctx.step("load", lambda: invoice)
    if ctx.decide("paid", invoice % 3 == 0):
        return ctx.exit("paid")  # type: ignore[return-value]
    ctx.effect("charge", lambda: "ch", key=f"charge-{invoice}")
    if invoice % 5 == 0:
        raise ValueError("card declined")
    ctx.step("save", lambda: True)


def bill_without_save(ctx: Context, invoice: int) -> None:
    ctx.step("load", lambda: invoice)
    if ctx.decide("paid", invoice % 3 == 0):
        return ctx.exit("paid")  # type: ignore[return-value]
    ctx.effect("charge", lambda: "ch", key=f"charge-{invoice}")


def ship(ctx: Context, parcel: int) -> None:
    ctx.step("pack", lambda: parcel)
    ctx.step("weigh", lambda: weigh(parcel))
    ctx.effect("post", lambda: "posted", key=f"post-{parcel}")


def weigh(parcel: int) -> int:
    if parcel == 2:
        raise Permanent("the scale is broken")
    return parcel


def variants(app: App, job_name: str) -> list[str]:
    """The recorded path of each finished run of *job_name*, as the CLI hands them to check."""
    return [run.variant for run in app.store.runs(job_name)]


def test_coverage_counts_observed_and_untested_paths(make_app: Callable[..., App]) -> None:
    """Only unpaid invoices ran: one of the two code paths is observed, the other untested."""
    app = make_app()
    job = app.job(name="bill", expect=EXPECT)(bill)
    job.enqueue_many([{"invoice": i} for i in (1, 2, 4)])
    run_until_idle(app)
    report = check(job, build_flow(job, job_name="bill"), variants(app, "bill"))
    assert set(report.code_paths) == {"load decide:paid=false effect:charge save",
                                      "load decide:paid=true exit:paid"}
    assert report.observed == ("load decide:paid=false effect:charge save",)
    assert report.never_observed == ("load decide:paid=true exit:paid",)
    assert (report.coverage, report.runs, report.unexplained) == (0.5, 3, {})
    assert report.comparison is not None and report.comparison.agrees


def test_recorded_paths_the_changed_code_cannot_explain_are_listed(
    make_app: Callable[..., App],
) -> None:
    """After a deploy drops a step, old runs' paths are unexplained and code and intent disagree."""
    app = make_app()
    old = app.job(name="bill", expect=EXPECT)(bill)
    old.enqueue_many([{"invoice": i} for i in (1, 2, 3)])
    run_until_idle(app)
    deployed = make_app()
    job = deployed.job(name="bill", expect=EXPECT)(bill_without_save)
    report = check(job, build_flow(job, job_name="bill"), variants(deployed, "bill"))
    assert report.unexplained == {"load decide:paid=false effect:charge save": 2}
    assert report.observed == ("load decide:paid=true exit:paid",)
    assert report.comparison is not None
    assert report.comparison.code_not_expected == (("load", "decide:paid=false", "effect:charge"),)
    assert report.comparison.expected_not_in_code == (
        ("load", "decide:paid=false", "effect:charge", "save"),)


def test_a_run_that_died_inside_a_step_is_explained_as_stopped_partway(
    make_app: Callable[..., App],
) -> None:
    """A dead run recorded how a code path begins: passed as stopped, it is explained and
    observes no whole path; passed as completed, it is a path the code cannot explain."""
    app = make_app()
    job = app.job(name="ship", retry=Retry(max_attempts=1))(ship)
    job.enqueue_many([{"parcel": 1}, {"parcel": 2}])
    run_until_idle(app)
    completed, stopped = split_runs(app.store.runs("ship"))
    assert (completed, stopped) == (["pack weigh effect:post"], ["pack"])
    graph = build_flow(job, job_name="ship")
    report = check(job, graph, completed, stopped=stopped)
    assert (report.runs, report.unexplained, report.coverage) == (2, {}, 1.0)
    assert check(job, graph, completed + stopped).unexplained == {"pack": 1}
