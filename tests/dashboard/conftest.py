"""Fixtures of the dashboard's tests: an app with jobs run by a real worker, and a test
client on its dashboard."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from jobtrail import App, Context, Permanent, Retry
from jobtrail.dashboard import create_app
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
    """Test clients on dashboards of apps, with the tokens given (none by default)."""
    clients: list[TestClient] = []

    def make(app: App, tokens: str = "") -> TestClient:
        client = TestClient(create_app(app, tokens=tokens))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
