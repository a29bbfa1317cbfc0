"""The flow pages: each job type's flow graph from its code, drawn as SVG with what real
runs did on it (both backends)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from jobtrail import App, Context, Retry
from jobtrail.dashboard.flows import RECENT_RUNS
from jobtrail.testing import run_until_idle

HTML = {"accept": "text/html"}
HOSTILE_STEP = "<script>alert(1)</script>"
EXPECT = "load decide:paid=false decide:large review? effect:charge"

# mypy refuses a NoReturn value in a ``-> None`` function, so the documented
# ``return ctx.exit(...)`` of these jobs carries ``type: ignore[return-value]``.


def bill_before(ctx: Context, invoice: int) -> None:
    """The job as it was before a deploy: it saved after charging."""
    ctx.step("load", lambda: invoice)
    if ctx.decide("paid", invoice % 3 == 0):
        return ctx.exit("paid")  # type: ignore[return-value]
    ctx.effect("charge", lambda: "ch", key=f"charge-{invoice}")
    ctx.step("save", lambda: True)


def bill(ctx: Context, invoice: int) -> None:
    """The job as deployed: large invoices are reviewed; nothing is saved."""
    ctx.step("load", lambda: invoice)
    if ctx.decide("paid", invoice % 3 == 0):
        return ctx.exit("paid")  # type: ignore[return-value]
    if ctx.decide("large", invoice > 1000):
        ctx.step("review", lambda: invoice)
    ctx.effect("charge", lambda: "ch", key=f"charge-{invoice}")


def oddly_named(ctx: Context) -> None:
    """A job whose step has a hostile name (a literal, as the flow graph needs)."""
    ctx.step("<script>alert(1)</script>", lambda: 1)


@dataclass
class Billing:
    """A deployed app whose store holds runs of the old code (1 paid, 2 unpaid: saved) and
    of the new (1 paid, 2 unpaid: no large invoice)."""

    app: App
    client: TestClient


@pytest.fixture
def billing(make_app: Callable[..., App]) -> Iterator[Billing]:
    """Runs of `bill_before`, then of `bill` as deployed, and the dashboard of the latter."""
    before = make_app()
    before.job(name="bill", retry=Retry(max_attempts=1))(bill_before).enqueue_many(
        [{"invoice": i} for i in (1, 2, 3)])
    run_until_idle(before)
    app = make_app()
    app.job(name="bill", expect=EXPECT, retry=Retry(max_attempts=1))(bill).enqueue_many(
        [{"invoice": i} for i in (4, 5, 6)])
    app.job(name="oddly_named")(oddly_named).enqueue()
    run_until_idle(app)
    namespace: dict[str, Any] = {}
    exec("def unreadable(ctx, n):\n    return n\n", namespace)  # no source file to read
    app.job(name="made_at_run_time")(namespace["unreadable"])
    from jobtrail.dashboard import create_app

    with TestClient(create_app(app, tokens=""), base_url="http://localhost") as client:
        yield Billing(app, client)


def svg_of(page: str) -> ET.Element:
    """The flow drawing of a page, parsed as XML (it must be well formed)."""
    found = re.search(r"<svg xmlns=.*?</svg>", page, re.S)
    assert found is not None, "no drawing on the page"
    return ET.fromstring(found.group(0))


def drawn_edges(svg: ET.Element) -> dict[tuple[str, str], tuple[int, str]]:
    """Each drawn edge (from, to) with its count of runs and its class."""
    ns = "{http://www.w3.org/2000/svg}"
    return {(g.attrib["data-from"], g.attrib["data-to"]): (int(g.attrib["data-runs"]),
                                                           g.attrib["class"])
            for g in svg.iter(f"{ns}g") if "data-from" in g.attrib}


def test_the_flow_is_drawn_as_well_formed_svg_with_the_codes_points(billing: Billing) -> None:
    """/flows/bill draws an SVG document, one node per point of the code with its label."""
    page = billing.client.get("/flows/bill", headers=HTML)
    assert page.status_code == 200
    svg = svg_of(page.text)
    ns = "{http://www.w3.org/2000/svg}"
    nodes = {g.attrib["data-node"] for g in svg.iter(f"{ns}g") if "data-node" in g.attrib}
    assert {"start", "step:load", "decide:paid", "exit:paid", "decide:large", "step:review",
            "effect:charge", "end"} <= nodes
    labels = {t.text for t in svg.iter(f"{ns}text") if t.attrib.get("class") == "label"}
    assert {"load", "paid?", "large?", "review", "exit:paid", "effect:charge"} <= labels


def test_edges_carry_the_runs_that_took_them_and_their_place_in_the_check(billing: Billing) -> None:
    """Each edge counts the recorded runs that took it; a branch no run took is untested,
    a branch only to paths expect= forbids is forbidden, whatever took it."""
    svg = svg_of(billing.client.get("/flows/bill", headers=HTML).text)
    edges = drawn_edges(svg)
    assert edges[("start", "step:load")] == (6, "edge edge-taken")
    assert edges[("decide:paid", "exit:paid")] == (2, "edge edge-forbidden")
    assert edges[("decide:paid", "decide:large")] == (2, "edge edge-taken")
    assert edges[("decide:large", "effect:charge")] == (2, "edge edge-taken")
    assert edges[("decide:large", "step:review")] == (0, "edge edge-untested")
    data = billing.client.get("/flows/bill", params={"format": "json"}).json()
    assert data["runs"] == {"read": 6, "limit": RECENT_RUNS, "more": False, "explained": 4, "stopped": 0, "unexplained": 2,
                            "unreadable": 0}
    assert "load decide:paid=false decide:large=true review effect:charge" in \
        data["coverage"]["never_observed"]


def test_recorded_paths_the_code_cannot_explain_are_marked(billing: Billing) -> None:
    """Runs of the old code, which saved, are drawn leaving the deployed code where they
    parted from it, and listed among the findings."""
    client = billing.client
    data = client.get("/flows/bill", params={"format": "json"}).json()
    assert data["departures"] == [{"after": "decide:paid", "point": "effect:charge", "runs": 2}]
    assert data["coverage"]["unexplained"] == {"load decide:paid=false effect:charge save": 2}
    page = client.get("/flows/bill", headers=HTML).text
    edges = drawn_edges(svg_of(page))
    assert edges[("decide:paid", "unexplained#1")] == (2, "edge edge-unexplained")
    assert "A recorded path the code cannot explain (2 runs)" in page


def test_hostile_names_in_the_code_are_text(billing: Billing) -> None:
    """A step named with a script tag is drawn, listed and written out as text: the
    drawing holds it as a text node, the page never as markup."""
    page = billing.client.get("/flows/oddly_named", headers=HTML)
    assert page.status_code == 200
    assert HOSTILE_STEP not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    ns = "{http://www.w3.org/2000/svg}"
    labels = [t.text for t in svg_of(page.text).iter(f"{ns}text")]
    assert HOSTILE_STEP in labels
    assert not list(svg_of(page.text).iter(f"{ns}script"))


def test_the_mermaid_and_dot_text_and_the_legend_are_on_the_page(billing: Billing) -> None:
    """The graph's Mermaid and DOT text are in collapsible sections; the legend names the
    four kinds of edge."""
    page = billing.client.get("/flows/bill", headers=HTML).text
    assert "<summary>Mermaid</summary>" in page and "flowchart TD" in page
    assert "<summary>Graphviz DOT</summary>" in page and "digraph &#34;bill&#34;" in page
    for words in ("taken by recorded runs", "untested", "forbids", "not explained by the code"):
        assert words in page


def test_the_flows_list_names_each_job_type(billing: Billing) -> None:
    """/flows lists every job type with its points and expect=, and its JSON twin the same."""
    client = billing.client
    data = client.get("/flows", params={"format": "json"}).json()
    rows = {row["job"]: row for row in data["jobs"]}
    assert set(rows) == {"bill", "oddly_named", "made_at_run_time"}
    assert rows["bill"]["points"] == {"step": 2, "effect": 1, "decide": 2, "exit": 1}
    assert rows["bill"]["expect"] == "load decide:paid=false decide:large review? effect:charge"
    assert rows["bill"]["links"]["flow"] == "/flows/bill"
    page = client.get("/flows", headers=HTML)
    assert page.status_code == 200 and 'href="/flows/bill"' in page.text


def test_a_job_whose_code_cannot_be_read_says_so(billing: Billing) -> None:
    """A job type made at run time has no source: its flow page says so, with no drawing."""
    page = billing.client.get("/flows/made_at_run_time", headers=HTML)
    assert page.status_code == 200
    assert "cannot be drawn" in page.text and "<svg xmlns" not in page.text
    data = billing.client.get("/flows/made_at_run_time", params={"format": "json"}).json()
    assert "cannot be read" in data["problem"]
    listed = billing.client.get("/flows", params={"format": "json"}).json()["jobs"]
    assert [row["problem"] for row in listed if row["job"] == "made_at_run_time"] == [
        data["problem"]]


def test_an_unknown_job_type_is_a_404(billing: Billing) -> None:
    """A flow page for a job type the app does not declare is a 404, as HTML and JSON."""
    client = billing.client
    assert client.get("/flows/nobody", headers=HTML).status_code == 404
    answer = client.get("/flows/nobody", params={"format": "json"})
    assert answer.status_code == 404 and "no job type named 'nobody'" in answer.json()["message"]
