"""Compensations: a job that ends dead undoes its completed effects newest first, each
once across replays, retried when it fails, listed when it stays failed (both backends)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jobtrail import App, Context, Permanent, Retry, Status, Transient
from jobtrail.testing import run_until_idle


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    return make_app()


def path_names(app: App, job_id: int) -> list[str]:
    return [f"{e.kind}:{e.name}" for e in app.events(job_id) if e.kind in ("effect", "lifecycle")
            and e.name not in ("claimed", "started", "enqueued")]


def test_a_dead_job_undoes_its_effects_newest_first_and_says_so(app: App) -> None:
    undone: list[str] = []

    @app.job(retry=Retry(max_attempts=1))
    def order(ctx: Context, n: int) -> None:
        reserved = ctx.effect("reserve", lambda: f"res-{n}", key=f"reserve-{n}",
                              compensate=lambda r: undone.append(f"release {r}"))
        ctx.effect("charge", lambda: f"ch-{n}", key=f"charge-{n}",
                   compensate=lambda: undone.append("refund"))
        ctx.effect("log", lambda: None, key=f"log-{n}")  # nothing to undo
        raise Permanent(f"cannot ship {reserved}")

    handle = order.enqueue(n=7)
    run_until_idle(app)
    job = app.get(handle.id)
    assert job.status is Status.DEAD
    assert undone == ["refund", "release res-7"]
    assert job.error is not None
    assert job.error.message == "cannot ship res-7 — compensations: undone charge, reserve"
    names = path_names(app, handle.id)
    assert names.index("effect:compensated:charge") < names.index("effect:compensated:reserve")
    [event] = [e for e in app.events(handle.id) if e.name == "compensated"]
    assert event.attrs == {"undone": ["charge", "reserve"], "not_undone": []}


def test_effects_of_earlier_attempts_are_undone_once(app: App) -> None:
    """Attempt 1 charges and fails; attempt 2 replays the charge, ships, and dies: the
    refund and the unship run once each."""
    calls: list[str] = []

    def charge() -> str:
        calls.append("charge")
        return "ch"

    @app.job(retry=Retry(max_attempts=2, base=0, jitter="none"))
    def order(ctx: Context) -> None:
        ctx.effect("charge", charge, key="c",
                   compensate=lambda r: calls.append(f"refund {r}"))
        if ctx.attempt == 1:
            raise Transient("warehouse busy")
        ctx.effect("ship", lambda: calls.append("ship"), key="s",
                   compensate=lambda: calls.append("unship"))
        raise Permanent("address invalid")

    handle = order.enqueue()
    run_until_idle(app)
    assert app.get(handle.id).status is Status.DEAD
    assert calls == ["charge", "ship", "unship", "refund ch"]


def test_a_failing_compensation_is_retried_then_listed_and_never_stops_the_others(
        app: App) -> None:
    tries: list[str] = []

    def flaky_refund(result: str) -> None:
        tries.append("refund")
        if len(tries) < 2:
            raise ConnectionError("gateway away")

    def broken_release() -> None:
        tries.append("release")
        raise RuntimeError("inventory down")

    @app.job(retry=Retry(max_attempts=3, base=0.01, cap=0.02, jitter="none",
                         give_up_on=(ValueError,)))
    def order(ctx: Context) -> None:
        ctx.effect("reserve", lambda: "r", key="r1", compensate=broken_release)
        ctx.effect("charge", lambda: "c", key="c1", compensate=flaky_refund)
        raise ValueError("bad order")

    handle = order.enqueue()
    run_until_idle(app)
    job = app.get(handle.id)
    assert job.status is Status.DEAD and job.attempts == 1
    assert tries == ["refund", "refund", "release", "release", "release"]
    assert job.error is not None and job.error.message == (
        "bad order — compensations: undone charge; NOT undone reserve "
        "(RuntimeError: inventory down)")


def test_compensate_must_be_callable(app: App) -> None:
    @app.job(retry=Retry(max_attempts=1))
    def order(ctx: Context) -> None:
        ctx.effect("charge", lambda: 1, key="k", compensate="refund")  # type: ignore[arg-type]

    handle = order.enqueue()
    run_until_idle(app)
    job = app.get(handle.id)
    assert job.status is Status.DEAD and job.error is not None
    assert "compensate must be a function" in job.error.message
    assert app.store.effects(handle.id) == []  # refused before anything was performed
