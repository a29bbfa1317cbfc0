"""What a worker records of the code it runs (`jobtrail.audit.versions`): a version of
each job's expectation and flow that changes when they change, and not otherwise."""

from __future__ import annotations

import json

from jobtrail import App, Context
from jobtrail.audit.versions import versions_in_use


def versions(app: App) -> dict[str, dict[str, str | None]]:
    attrs = json.loads(versions_in_use(app, worker_id="w", code_version="v1"))
    assert attrs["worker"] == "w" and attrs["code_version"] == "v1"
    jobs: dict[str, dict[str, str | None]] = attrs["jobs"]
    return jobs


def bill(ctx: Context, n: int) -> None:
    ctx.step("load", lambda: n)


def bill_and_mark(ctx: Context, n: int) -> None:
    ctx.step("load", lambda: n)
    ctx.step("mark_paid", lambda: n)


def make(file: str, *, expect: str, extra_step: bool) -> App:
    """An app (never opened) with one job, ``bill``, of one of two flows."""
    app = App(f"sqlite:///{file}")
    app.job(name="bill", expect=expect)(bill_and_mark if extra_step else bill)
    return app


def test_versions_follow_the_expectation_and_the_flow() -> None:
    """The same code gives the same versions; another expectation changes only its
    version; another step changes only the flow's."""
    base = versions(make("a.db", expect="step:load", extra_step=False))["bill"]
    assert base == versions(make("b.db", expect="step:load", extra_step=False))["bill"]
    assert base["expect"] is not None and base["flow"] is not None
    other_expect = versions(make("c.db", expect="step:load step:load?", extra_step=False))["bill"]
    assert other_expect["expect"] != base["expect"] and other_expect["flow"] == base["flow"]
    other_flow = versions(make("d.db", expect="step:load", extra_step=True))["bill"]
    assert other_flow["flow"] != base["flow"] and other_flow["expect"] == base["expect"]
