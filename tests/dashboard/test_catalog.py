"""The job catalog pages: every job type as ``jobtrail describe`` describes it, with its
runbook as a link only when it is an http(s) address (both backends)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from jobtrail import App, Context, Retry
from jobtrail.cli.describe import job_description

HTML = {"accept": "text/html"}
RUNBOOK = "https://runbooks.example/billing#charge"
HOSTILE_RUNBOOK = "javascript:alert(document.cookie)"


@pytest.fixture
def shop(make_app: Callable[..., App], client_for: Callable[..., TestClient]
         ) -> Iterator[tuple[App, TestClient]]:
    """An app declaring job types with and without catalog metadata, and its dashboard."""
    app = make_app()

    @app.job(owner="billing-team", runbook=RUNBOOK, queue="payments",
             retry=Retry(max_attempts=4, base=2, cap=60), expect="load effect:charge",
             concurrency_limit=2, rate_limit="100/m")
    def charge(ctx: Context, invoice: int, amount: float, note: str = "") -> str:
        """Charge an invoice's card.

        Only once: the charge is keyed by the invoice."""
        ctx.step("load", lambda: invoice)
        ctx.effect("charge", lambda: "ch", key=f"charge-{invoice}")
        return "charged"

    @app.job(runbook=HOSTILE_RUNBOOK, description="<b>Sends</b> the receipt",
             every=3600)
    def receipt(ctx: Context) -> None:
        ctx.step("send", lambda: None)

    yield app, client_for(app)


def test_the_catalog_lists_every_job_type_with_its_metadata(shop: tuple[App, TestClient]) -> None:
    """/catalog shows each job type's owner, description, queue, guarantee, retry policy,
    expected path, schedule, limits and runbook; its JSON twin is describe's JSON."""
    app, client = shop
    data = client.get("/catalog", params={"format": "json"}).json()
    entries = {entry["describe"]["name"]: entry for entry in data["jobs"]}
    assert sorted(entries) == ["charge", "receipt"]
    for name, entry in entries.items():
        assert entry["describe"] == job_description(app.registry[name], app.queues)
    charge = entries["charge"]["describe"]
    assert (charge["owner"], charge["description"], charge["queue"]) == (
        "billing-team", "Charge an invoice's card.", "payments")
    assert charge["expect"] == "load effect:charge"
    assert entries["charge"]["limits"] == "2 at once; at most 100/m"
    assert entries["receipt"]["describe"]["schedule"]["every"] == 3600
    page = client.get("/catalog", headers=HTML).text
    for shown in ("billing-team", "Charge an invoice&#39;s card.", "payments",
                  charge["retry"]["text"], charge["guarantee"], "load effect:charge",
                  "2 at once; at most 100/m", entries["receipt"]["describe"]["schedule"]["text"],
                  f'<a href="{RUNBOOK}" rel="noopener noreferrer">{RUNBOOK}</a>',
                  'href="/catalog/charge"', 'href="/flows/charge"'):
        assert shown in page, shown


def test_a_runbook_that_is_not_an_http_address_is_text_not_a_link(
    shop: tuple[App, TestClient],
) -> None:
    """A javascript: runbook is shown as text on both catalog pages, never as an href."""
    _, client = shop
    data = client.get("/catalog/receipt", params={"format": "json"}).json()
    assert data["describe"]["runbook"] == HOSTILE_RUNBOOK and data["runbook_link"] is None
    for path in ("/catalog", "/catalog/receipt"):
        page = client.get(path, headers=HTML).text
        assert HOSTILE_RUNBOOK in page
        assert 'href="javascript:' not in page.lower() and "<b>Sends" not in page
    assert "&lt;b&gt;Sends&lt;/b&gt; the receipt" in client.get("/catalog/receipt",
                                                               headers=HTML).text


def test_one_job_type_is_shown_whole(shop: tuple[App, TestClient]) -> None:
    """/catalog/{job} shows its inputs from type hints, its effects from its code and its
    flow graph, its policies, and links to its flow and jobs."""
    _, client = shop
    data = client.get("/catalog/charge", params={"format": "json"}).json()
    assert [(a["name"], a["type"], a["required"]) for a in data["describe"]["arguments"]] == [
        ("invoice", "int", True), ("amount", "float", True), ("note", "str", False)]
    assert [effect["name"] for effect in data["describe"]["effects"]] == ["charge"]
    assert [effect["name"] for effect in data["flow_effects"]] == ["charge"]
    assert data["links"]["flow"] == "/flows/charge" and data["links"]["jobs"] == "/jobs?job=charge"
    assert data["links"]["paths"] == "/paths/charge"
    page = client.get("/catalog/charge", headers=HTML).text
    for shown in ("<code>invoice</code>", "<code>float</code>", "keyed", "4 attempts",
                  'href="/flows/charge"', 'href="/jobs?job=charge"', RUNBOOK):
        assert shown in page, shown


def test_an_unknown_job_type_is_a_404(shop: tuple[App, TestClient]) -> None:
    """The catalog entry of a job type the app does not declare is a 404."""
    _, client = shop
    assert client.get("/catalog/nobody", headers=HTML).status_code == 404
    assert client.get("/catalog/nobody", params={"format": "json"}).status_code == 404
