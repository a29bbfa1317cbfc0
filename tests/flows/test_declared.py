"""The flows take jobs and apps as plain values, and recorded runs as data: anything with
the declared shape will do, and a `JobDef` and an `App` have it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobtrail import App
from jobtrail.expect import Expectation, parse
from jobtrail.flows import DeclaredJob, build_flow, lock, to_text
from jobtrail.flows.coverage import check
from jobtrail.flows.lint import lint_app
from tests.flows import corpus

EXPECT = "load decide:is_paid=true exit:already_paid | load decide:is_paid=false effect:charge"


@dataclass(frozen=True)
class PlainJob:
    """A declared job written down by hand."""

    name: str
    fn: Callable[..., Any]
    takes_context: bool = True
    expectation: Expectation | None = None


@dataclass(frozen=True)
class PlainApp:
    """An app written down by hand: its jobs by name."""

    registry: dict[str, PlainJob]


def declare(tmp_path: Path) -> App:
    """An app (its store never opened) declaring corpus jobs, one without a context."""
    app = App("sqlite:///" + str(tmp_path / "never-opened.db"))
    app.job(name="bill", expect=EXPECT)(corpus.early_exit)
    app.job(name="orders.fulfil")(corpus.fulfil_order)
    app.job(name="receipts.send")(corpus.send_receipt.fn)
    return app


def test_a_job_def_is_a_declared_job_and_a_function_is_not(tmp_path: Path) -> None:
    """isinstance tells a declared job (a JobDef or a plain value) from a bare function."""
    app = declare(tmp_path)
    assert all(isinstance(job, DeclaredJob) for job in app.registry.values())
    assert isinstance(PlainJob("bill", corpus.early_exit), DeclaredJob)
    assert not isinstance(corpus.early_exit, DeclaredJob)


def test_plain_values_give_the_lock_graphs_and_lint_an_app_gives(tmp_path: Path) -> None:
    """An app written as plain values yields the same lock, graphs and lint as the App."""
    app = declare(tmp_path)
    plain = PlainApp({name: PlainJob(d.name, d.fn, d.takes_context, d.expectation)
                      for name, d in app.registry.items()})
    assert lock.snapshot(plain) == lock.snapshot(app)
    assert sorted(lock.snapshot(app)["jobs"]) == ["bill", "orders.fulfil", "receipts.send"]
    assert [to_text(g) for g in lock.graphs(plain).values()] == \
        [to_text(g) for g in lock.graphs(app).values()]
    assert lint_app(plain) == lint_app(app)


def test_a_declared_job_without_a_context_records_nothing() -> None:
    """A declared job that takes no context has an empty graph, whatever its first parameter."""
    graph = build_flow(PlainJob("bill", corpus.early_exit, takes_context=False), job_name="bill")
    assert {node.kind for node in graph.nodes.values()} == {"start", "end", "return"}
    assert "the function takes no context: it records nothing" in graph.notes


def test_coverage_reads_recorded_runs_given_as_variants() -> None:
    """check counts runs from their variants: observed, never observed, unexplained, notes."""
    job = PlainJob("bill", corpus.early_exit, expectation=parse(EXPECT))
    cut = "load " + "decide:is_paid=false " * 5 + "…"  # stored cut short
    variants = ["load decide:is_paid=true exit:already_paid"] * 2 + ["load skipped", cut]
    report = check(job, build_flow(job, job_name="bill"), variants)
    assert report.code_paths == ("load decide:is_paid=false effect:charge",
                                 "load decide:is_paid=true exit:already_paid")
    assert report.observed == ("load decide:is_paid=true exit:already_paid",)
    assert report.never_observed == ("load decide:is_paid=false effect:charge",)
    assert (report.runs, report.unexplained, report.coverage) == (4, {"load skipped": 1}, 0.5)
    assert report.notes == (f"a recorded path too long to check: {cut[:60]}…",)
    assert report.comparison is not None and report.comparison.agrees
