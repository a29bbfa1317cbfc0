"""Circuit breakers: failures open one, jobs that need it wait without spending attempts,
one probe after the reset closes it again; per job and per effect; the state shared
through the store by two workers (both backends)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from jobtrail import App, Context, Retry, Status, Transient, Worker
from jobtrail.errors import ConfigurationError, JobDefinitionError
from jobtrail.store.breakers import BreakerRecord, BreakerSettings, apply, change_attrs
from tests.support.processes import start_worker, stop_workers, worker_errors

GUARDED = "tests.support.guarded:app"


class Gateway:
    """A dependency that is down until told otherwise, counting the calls it gets."""

    def __init__(self) -> None:
        self.up = False
        self.calls = 0
        self.calls_while_open: list[str] = []  # the breaker's state at each call

    def call(self, n: int) -> int:
        self.calls += 1
        if not self.up:
            raise Transient("gateway down")
        return n


def work_until(app: App, done: Callable[[], bool], timeout: float = 30.0,
               workers: int = 2) -> None:
    """Run *workers* workers in threads until *done*."""
    running = [Worker(app, concurrency=4, install_signals=False, scheduler=False)
               for _ in range(workers)]
    threads = [threading.Thread(target=w.run) for w in running]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, "not done in time"
            time.sleep(0.05)
    finally:
        for worker in running:
            worker.stop(now=True)
        for thread in threads:
            thread.join(10)


def test_failures_open_the_breaker_jobs_wait_uncounted_and_a_probe_closes_it(
        make_app: Callable[..., App]) -> None:
    app = make_app()
    gateway = Gateway()
    app.breaker("gateway", failures=2, window=60, reset_after=1.0)

    @app.job(breaker="gateway", retry=Retry(max_attempts=20, base=0.05, cap=0.05,
                                            jitter="none"))
    def charge(n: int) -> int:
        found = app.store.breakers(["gateway"]).get("gateway")
        gateway.calls_while_open.append(found.state if found else "closed")
        return gateway.call(n)

    handles = charge.enqueue_many([{"n": n} for n in range(6)])

    def opened_then_recovered() -> bool:
        if app.breakers()[0].state == "open" and not gateway.up:
            time.sleep(0.2)  # jobs keep being deferred meanwhile
            gateway.up = True
        return all(app.get(h.id).status is Status.SUCCEEDED for h in handles)

    work_until(app, opened_then_recovered)
    assert app.breakers()[0].state == "closed"
    # Calls under way as it opened (at most the 8 slots of the two workers) may see it
    # open; none starts after them while it is open, and while half-open only probes do.
    states = gateway.calls_while_open
    first_open = states.index("open") if "open" in states else len(states)
    probes = sum(1 for h in handles for e in app.events(h.id) if e.name == "breaker_half_open")
    assert "open" not in states[first_open + 8:], states
    assert probes >= 1 and states.count("half_open") <= probes
    deferred = [e for h in handles for e in app.events(h.id) if e.name == "deferred"]
    assert deferred, "no job was held back"
    for handle in handles:
        job = app.get(handle.id)
        failed = sum(1 for e in app.events(handle.id) if e.name == "retry_scheduled")
        assert job.attempts == failed + 1  # deferrals spent no attempt
    names = [e.name for h in handles for e in app.events(h.id)]
    assert names.count("breaker_open") == 1 and names.count("breaker_closed") == 1
    assert names.count("breaker_half_open") == probes >= 1


def test_an_effect_behind_an_open_breaker_stops_the_attempt_uncounted(
        make_app: Callable[..., App]) -> None:
    app = make_app()
    app.breaker("mailer", failures=1, window=60, reset_after=60)
    sent: list[int] = []

    @app.job(retry=Retry(max_attempts=5, base=0.01, cap=0.01))
    def notify(ctx: Context, n: int) -> None:
        ctx.step("prepare", lambda: n)
        ctx.effect("send", lambda: sent.append(n), key=f"send-{n}", breaker="mailer")

    app.breaker_registry.force("mailer", "open")
    handle = notify.enqueue(n=1)
    work_until(app, lambda: any(e.name == "deferred" for e in app.events(handle.id)),
               workers=1)
    job = app.get(handle.id)
    assert sent == [] and job.status is Status.RETRYING and job.attempts == 0
    assert job.error is not None and job.error.type == "jobtrail.breakers.BreakerOpen"
    app.breaker_registry.force("mailer", "closed")
    app.store.claim_job("x", handle.id, 1.0)  # (bring it forward: its wait is a minute)
    app.store.release("x", [handle.id])
    work_until(app, lambda: app.get(handle.id).status is Status.SUCCEEDED, workers=1)
    assert sent == [1] and app.get(handle.id).attempts == 1


def test_the_policy_counts_failures_in_the_window_and_lets_one_probe_through() -> None:
    settings = BreakerSettings(failures=3, window=10, reset_after=5, lease=2)
    record = BreakerRecord("b")
    for moment in (0.0, 1.0):
        record = apply(record, "failure", moment, settings)
    assert record.state == "closed"
    record = apply(record, "failure", 20.0, settings)  # the first two are out of the window
    assert record.state == "closed" and record.failures == (20.0,)
    for moment in (21.0, 22.0):
        record = apply(record, "failure", moment, settings)
    assert record.state == "open" and record.opened_at == 22.0
    assert not apply(record, "probe", 26.0, settings).granted  # before the reset time
    probing = apply(record, "probe", 27.0, settings)
    assert probing.granted and probing.state == "half_open" and probing.probe_until == 29.0
    assert not apply(probing, "probe", 28.0, settings).granted  # the probe holds it
    assert apply(probing, "probe", 29.5, settings).granted  # its probe's lease ran out
    assert apply(probing, "success", 28.0, settings).state == "closed"
    reopened = apply(probing, "failure", 28.0, settings)
    assert reopened.state == "open" and reopened.opened_at == 28.0


def test_breakers_that_cannot_work_are_refused_naming_them(make_app: Callable[..., App]) -> None:
    app = make_app()
    with pytest.raises(JobDefinitionError, match="job 'pay': no breaker named 'bank'"):
        app.job(name="pay", breaker="bank")(lambda: None)
    for options, message in (({"failures": 0}, "failures must be an int"),
                             ({"window": -1}, "window must be a positive number"),
                             ({"reset_after": "soon"}, "reset_after must be a positive")):
        with pytest.raises(ConfigurationError, match=f"breaker 'bank': {message}"):
            app.breaker("bank", **options)


def test_two_worker_processes_share_the_breaker(db_url: str, tmp_path: Path,
                                               make_app: Callable[..., App]) -> None:
    """Two `jobtrail worker` processes: the dependency fails, the breaker opens for both,
    no call goes through while it is open, and once the dependency is back one probe closes
    it and every job succeeds."""
    from tests.support import guarded

    app = make_app()
    app.breaker("gateway", failures=2, window=60, reset_after=0.5)
    job = app.job(name="call_gateway", breaker="gateway",
                  retry=guarded.call_gateway.retry)(guarded.call_gateway.fn)
    log, down = tmp_path / "calls.log", tmp_path / "down"
    down.touch()
    env = {"GATEWAY_DOWN": str(down)}
    workers = [start_worker(db_url, log, "--concurrency", "2", app=GUARDED, env=env)
               for _ in range(2)]
    handles = job.enqueue_many([{"n": n} for n in range(8)])
    try:
        deadline = time.monotonic() + 30
        while app.breakers()[0].state == "closed":
            assert time.monotonic() < deadline, worker_errors(log)
            time.sleep(0.05)
        time.sleep(1.0)  # open, then half-open probes that fail: jobs are held back
        down.unlink()
        while not all(app.get(h.id).status is Status.SUCCEEDED for h in handles):
            assert time.monotonic() < deadline, worker_errors(log)
            time.sleep(0.05)
    finally:
        stop_workers(workers, log)
    calls = [line.split() for line in log.read_text().splitlines()]
    states = [state for _, _, state, _ in calls]
    assert app.breakers()[0].state == "closed"
    first_open = states.index("open") if "open" in states else len(states)
    # Calls under way as it opened may still see it open; none starts after that.
    assert "open" not in states[first_open + 4:], states
    assert any(e.name == "deferred" for h in handles for e in app.events(h.id))


def test_only_a_change_of_state_or_an_operators_force_is_written_to_the_trail() -> None:
    """A failure counted changes nothing in the trail; the failure that opens the breaker
    is an event without an actor; an operator's force names the operator."""
    settings = BreakerSettings(failures=2, window=10, reset_after=5, lease=2)
    first = apply(BreakerRecord("b"), "failure", 0.0, settings)
    assert change_attrs("closed", first, "failure", "os:ann") is None
    opened = apply(first, "failure", 1.0, settings)
    assert json.loads(change_attrs("closed", opened, "failure", "os:ann") or "") == {
        "breaker": "b", "from": "closed", "to": "open", "action": "failure"}
    forced = apply(opened, "closed", 2.0, settings)
    assert json.loads(change_attrs("open", forced, "closed", "os:ann") or "")["actor"] == "os:ann"
