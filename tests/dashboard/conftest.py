"""Fixtures of the dashboard's tests: an app with jobs run by a real worker, and a test
client on its dashboard."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from jobtrail import App, Context, Permanent, Retry
from jobtrail.dashboard import create_app
from jobtrail.records import ErrorInfo, Status
from jobtrail.store.base import Outcome
from jobtrail.testing import run_until_idle

CARD = "4111111111111111"
HOSTILE_NOTE = "<script>alert(1)</script>"
HOSTILE_ERROR = "<img src=x onerror=alert(1)>"
HOSTILE_QUEUE = 'q"><b>bold'


@dataclass
class Shop:
    """An app whose worker has run: job 1 succeeded (with an effect), job 2 is dead (an
    error naming the card), job 3 is dead on a hostile queue with a hostile payload."""

    app: App
    succeeded: int
    dead: int
    hostile: int


def declare(app: App) -> None:
    """The job types of the tests' apps."""

    @app.job(redact=["card"], retry=Retry(max_attempts=1))
    def charge(ctx: Context, invoice: int, card: str, note: str = "") -> dict[str, str]:
        ctx.effect("charge", lambda: {"card": card}, key=f"charge-{invoice}-{card}")
        ctx.step("check", lambda: invoice)
        if invoice >= 2:
            raise Permanent(f"{HOSTILE_ERROR} card {card} declined")
        return {"paid_with": card}

    @app.job(queue=HOSTILE_QUEUE, retry=Retry(max_attempts=1))
    def strange(note: str) -> None:
        raise ValueError(f"{HOSTILE_ERROR} while handling {note}")


def begun(app: App, invoice: int) -> tuple[int, int, int]:
    """A new charge job claimed by a worker that began its effect ``charge`` and was never
    heard of again: the job is running, the effect uncertain. Its id, claim and attempt."""
    job_id = app.enqueue("charge", invoice=invoice, card=CARD).id
    claimed = app.store.claim_job("gone-worker", job_id, 30.0)
    assert claimed is not None
    assert app.store.begin_effect(job_id, claimed.claim, claimed.attempt, "charge",
                                  f"charge-{invoice}", False) is None
    return job_id, claimed.claim, claimed.attempt


def uncertain(app: App, invoice: int = 7) -> int:
    """A dead charge job whose effect ``charge`` began and never ended (its worker died
    within it): replaying it is refused until the effect is resolved."""
    job_id, claim, attempt = begun(app, invoice)
    app.store.finish("gone-worker", [Outcome(
        job_id, attempt, Status.DEAD, outcome="effect_uncertain",
        error=ErrorInfo("jobtrail.errors.EffectUncertain", "effect 'charge' may have happened"),
        claim=claim)])
    assert app.get(job_id).status is Status.DEAD
    return job_id


@pytest.fixture
def shop(make_app: Callable[..., App]) -> Shop:
    """A shop app on the backend under test, its jobs run to their end."""
    app = make_app()
    declare(app)
    first = app.enqueue("charge", invoice=1, card=CARD).id
    second = app.enqueue("charge", invoice=2, card=CARD, note=HOSTILE_NOTE).id
    third = app.enqueue("strange", note=HOSTILE_NOTE).id
    run_until_idle(app)
    return Shop(app, first, second, third)


@pytest.fixture
def client_for() -> Iterator[Callable[..., TestClient]]:
    """Test clients on dashboards of apps, with the tokens given (none by default), their
    requests addressed to localhost as a browser on this machine would."""
    clients: list[TestClient] = []

    def make(app: App, tokens: str = "") -> TestClient:
        client = TestClient(create_app(app, tokens=tokens), base_url="http://localhost")
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
