"""Loops of steps and effects through a real worker, on both backends: repeated names,
resuming inside a loop, a replay that meets other arguments, folded variants, and the
flow graph's view of the same loop."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jobtrail import App, Context, Retry, Transient
from jobtrail.flows import build_flow
from jobtrail.flows.coverage import check as coverage
from jobtrail.records import Status
from jobtrail.testing import run_until_idle

FAST = Retry(max_attempts=3, base=0, jitter="none")


def crawl_app(make_app: Callable[..., App], fetched: list[int], *, fail_at: int = 0,
              pages_of: Callable[[Context, int], list[int]] | None = None) -> tuple[App, object]:
    """An app whose ``crawl`` job fetches *pages* in a loop then stores them; its first
    attempt fails on page *fail_at*."""
    app = make_app()

    def fetch(page: int) -> str:
        fetched.append(page)
        if page == fail_at and len([p for p in fetched if p == page]) == 1:
            raise Transient(f"page {page} timed out")
        return f"body-{page}"

    @app.job(expect="fetch+ store", retry=FAST)
    def crawl(ctx: Context, pages: int) -> list[str]:
        listed = pages_of(ctx, pages) if pages_of else list(range(1, pages + 1))
        bodies = [ctx.step("fetch", fetch, page) for page in listed]
        ctx.step("store", len, bodies)
        return bodies

    return app, crawl


def test_a_loop_of_steps_records_each_call_and_conforms_for_any_number_of_pages(
    make_app: Callable[..., App],
) -> None:
    """One name in a loop is one checkpoint per call: `fetch+ store` accepts 1, 3 and 40
    pages, and the variants fold the loop so runs over 3 or 40 pages share one."""
    fetched: list[int] = []
    app, crawl = crawl_app(make_app, fetched)
    handles = {n: crawl.enqueue(pages=n) for n in (1, 3, 40, 40)}  # type: ignore[attr-defined]
    run_until_idle(app)
    for n, handle in handles.items():
        job = app.get(handle.id)
        assert job.status is Status.SUCCEEDED and job.result == [f"body-{p}" for p in range(1, n + 1)]
        assert [e.name for e in job.path if e.kind == "step"] == ["fetch"] * n + ["store"]
        assert app.paths.divergences(job_id=handle.id) == []
    assert app.get(handles[1].id).variant == "fetch store"
    assert app.get(handles[40].id).variant == "fetch+ store"
    assert {v.path: v.count for v in app.paths.variants("crawl")} == {
        "fetch+ store": 3, "fetch store": 1}
    funnel = app.paths.funnel("crawl")
    assert [(s.point, s.reached) for s in funnel.stages] == [("fetch", 4), ("store", 4)]
    assert funnel.outcomes == {"completed": 4}


def test_a_retried_job_resumes_inside_its_loop(make_app: Callable[..., App]) -> None:
    """Attempt 1 fails on page 3: attempt 2 replays pages 1 and 2 and fetches the rest."""
    fetched: list[int] = []
    app, crawl = crawl_app(make_app, fetched, fail_at=3)
    handle = crawl.enqueue(pages=5)  # type: ignore[attr-defined]
    run_until_idle(app)
    job = app.get(handle.id)
    assert job.status is Status.SUCCEEDED and job.attempts == 2
    assert fetched == [1, 2, 3, 3, 4, 5]
    assert job.result == [f"body-{p}" for p in range(1, 6)]
    second = [(e.name, bool(e.attrs.get("replayed"))) for e in job.path
              if e.kind == "step" and e.attempt == 2]
    assert second == [("fetch", True), ("fetch", True), ("fetch", False), ("fetch", False),
                      ("fetch", False), ("store", False)]
    assert job.variant == "fetch+ store"
    assert app.paths.divergences(job_id=handle.id) == []


def test_a_replay_that_meets_other_arguments_runs_again_and_says_so(
    make_app: Callable[..., App],
) -> None:
    """The pages changed between attempts: the occurrence called with another page is not
    given the recorded result of the page it replaced, it and the rest run again, and the
    run is flagged nondeterministic."""
    fetched: list[int] = []

    def pages_of(ctx: Context, pages: int) -> list[int]:
        return [1, 2, 3, 4] if ctx.attempt == 1 else [1, 3, 4]  # page 2 was removed

    app, crawl = crawl_app(make_app, fetched, fail_at=4, pages_of=pages_of)
    handle = crawl.enqueue(pages=4)  # type: ignore[attr-defined]
    run_until_idle(app)
    job = app.get(handle.id)
    assert job.status is Status.SUCCEEDED and job.attempts == 2
    assert job.result == ["body-1", "body-3", "body-4"]  # never page 2's body for page 3
    assert fetched == [1, 2, 3, 4, 3, 4]
    (found,) = app.paths.divergences(job_id=handle.id)
    assert found.kind == "nondeterministic" and found.position == 1
    assert "step fetch (call 2 of that name)" in found.message


def test_arguments_that_are_not_json_still_replay_by_occurrence(
    make_app: Callable[..., App],
) -> None:
    """Objects cannot be compared across attempts: their calls replay by name and place."""
    app = make_app()
    calls: list[int] = []

    class Page:
        def __init__(self, n: int) -> None:
            self.n = n

    def read(page: Page) -> int:
        calls.append(page.n)
        return page.n

    @app.job(retry=FAST)
    def objects(ctx: Context) -> int:
        total = 0
        for n in (1, 2):
            total += ctx.step("read", read, Page(n))
        if ctx.attempt == 1:
            raise Transient("again")
        return total

    handle = objects.enqueue()
    run_until_idle(app)
    assert handle.get().result == 3 and calls == [1, 2]
    assert app.paths.divergences(job_id=handle.id) == []


def test_effects_in_a_loop_happen_once_per_call_across_retries(
    make_app: Callable[..., App],
) -> None:
    """Unkeyed effects in a loop get a key per call; keyed ones are their key: none is
    performed twice when the job is retried, and none is confused with another."""
    app = make_app()
    sent: list[str] = []

    def send(what: str) -> str:
        sent.append(what)
        return f"sent-{what}"

    @app.job(retry=FAST)
    def notify(ctx: Context, users: list[str]) -> list[str]:
        receipts = [ctx.effect("notify", send, u, key=f"notify-{u}") for u in users]
        pings = [ctx.effect("ping", send, f"ping{i}") for i in range(3)]
        if ctx.attempt == 1:
            raise Transient("mail server said try again")
        return receipts + pings

    handle = notify.enqueue(users=["ann", "bob"])
    run_until_idle(app)
    job = handle.get()
    assert job.status is Status.SUCCEEDED and job.attempts == 2
    assert sent == ["ann", "bob", "ping0", "ping1", "ping2"]
    assert job.result == ["sent-ann", "sent-bob", "sent-ping0", "sent-ping1", "sent-ping2"]
    keys = sorted(e.key for e in app.effects(handle.id))
    assert keys == sorted(["notify-ann", "notify-bob", f"{handle.id}:ping",
                           f"{handle.id}:ping#2", f"{handle.id}:ping#3"])
    assert job.variant == "effect:notify+ effect:ping+"


def test_the_flow_graph_sees_a_loop_as_one_node_and_coverage_reads_folded_variants(
    make_app: Callable[..., App],
) -> None:
    """The loop is one node with a back edge; the code can produce every path `fetch+
    store` accepts; the stored folded variants count as the code paths they took."""
    fetched: list[int] = []
    app, crawl = crawl_app(make_app, fetched)
    graph = build_flow(crawl.fn, job_name="crawl")  # type: ignore[attr-defined]
    assert ("step:fetch", "step:fetch") in {(e.src, e.dst) for e in graph.edges}
    for n in (1, 5):
        crawl.enqueue(pages=n)  # type: ignore[attr-defined]
    run_until_idle(app)
    report = coverage(crawl, graph, [run.variant for run in app.store.runs("crawl", None)])  # type: ignore[arg-type]
    assert report.unexplained == {}
    # The code may also store no page at all, which `fetch+` does not allow: said so.
    assert report.comparison is not None
    assert report.comparison.code_not_expected == (("store",),)
    assert report.comparison.expected_not_in_code == ()
    assert set(report.observed) == {"fetch store", "fetch fetch store"}
    assert report.never_observed == ("store",)


@pytest.mark.parametrize("name", ["", "  ", 7, "a\x00b", "bad\ud800"])
def test_a_bad_name_in_a_loop_fails_the_job_with_a_clear_error(
    make_app: Callable[..., App], name: object
) -> None:
    """A bad step name is a ValueError naming the job and the call, raised in the job."""
    app = make_app()

    @app.job(retry=Retry(max_attempts=1))
    def looped(ctx: Context) -> None:
        for i in range(2):
            ctx.step(name, lambda i=i: i)  # type: ignore[arg-type]

    handle = looped.enqueue()
    run_until_idle(app)
    job = handle.get()
    assert job.status is Status.DEAD and job.error is not None
    assert job.error.type == "ValueError"
    assert "job 'looped': the step name" in job.error.message
