"""The paths pages — the job types with runs, and one job's variants, new paths, graph and
funnel — as HTML and as their JSON twins, from real runs on both backends."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from jobtrail import App
from jobtrail.dashboard import path_pages
from tests.dashboard.billing import (
    EXPECT,
    HOSTILE,
    NEW_PATH,
    PAID_PATH,
    USUAL_PATH,
    Billing,
    run_billing,
)
from tests.dashboard.test_assets import elements

HTML = {"accept": "text/html"}
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def billing(make_app: Callable[..., App]) -> Billing:
    """Billing run under two versions, with a hostile job, on the backend under test."""
    return run_billing(make_app)


def json_of(client: TestClient, path: str, **params: str) -> dict:  # type: ignore[type-arg]
    """The JSON twin of *path*, which must answer 200."""
    answer = client.get(path, params={**params, "format": "json"})
    assert answer.status_code == 200, answer.text
    data: dict = answer.json()  # type: ignore[type-arg]
    return data


def test_the_paths_page_lists_the_job_types_with_runs(
        billing: Billing, client_for: Callable[..., TestClient]) -> None:
    """/paths lists each job type with when its newest run ended and its expected path,
    linking to its page."""
    client = client_for(billing.app)
    jobs = {job["job_name"]: job for job in json_of(client, "/paths")["jobs"]}
    assert set(jobs) == {"bill", "receipt", HOSTILE}
    newest = billing.app.get(billing.bills[12]).finished_at
    assert newest is not None and jobs["bill"]["newest_run"] == newest.isoformat()
    assert jobs["bill"]["expect"] == billing.app.registry["bill"].expectation.text  # type: ignore[union-attr]
    page = client.get("/paths", headers=HTML).text
    assert 'href="/paths/bill"' in page and f'href="/paths/{quote(HOSTILE)}"' in page


def test_variants_show_counts_shares_and_durations_of_real_runs(
        billing: Billing, client_for: Callable[..., TestClient]) -> None:
    """A job's page groups its runs into variants, most common first, with their counts,
    shares, p50 and p95 durations and outcomes, and says how many runs it read."""
    client = client_for(billing.app)
    data = json_of(client, "/paths/bill")
    found = {v["path"]: v for v in data["variants"]}
    assert [v["path"] for v in data["variants"]] == [USUAL_PATH, NEW_PATH, PAID_PATH]
    assert [found[p]["count"] for p in (USUAL_PATH, NEW_PATH, PAID_PATH)] == [7, 3, 2]
    assert found[USUAL_PATH]["share"] == round(7 / 12, 6)
    assert found[PAID_PATH]["outcomes"] == {"exit:already_paid": 2}
    assert all(v["p50"] is not None and v["p95"] >= v["p50"] for v in data["variants"])
    assert data["runs"] | {"oldest": None, "newest": None} == {
        "read": 12, "limit": path_pages.RUNS, "whole": True, "since": None,
        "oldest": None, "newest": None}
    assert data["expect"] == billing.app.registry["bill"].expectation.text  # type: ignore[union-attr]
    page = client.get("/paths/bill", headers=HTML).text
    assert USUAL_PATH in page and "58.3%" in page and "All 12 runs" in page


def test_a_path_that_only_the_newest_version_took_is_flagged_new(
        billing: Billing, client_for: Callable[..., TestClient]) -> None:
    """By default the newest run's code version is the deploy compared with: the audited
    path, taken only under v2, is new; by time, a path first taken after the deploy is."""
    client = client_for(billing.app)
    data = json_of(client, "/paths/bill")
    assert data["new"] == {"since": None, "version": "v2", "chosen": "newest version",
                           "compared": True, "note": None, "count": 1}
    assert [v["path"] for v in data["variants"] if v["new"]] == [NEW_PATH]
    assert "NEW" in client.get("/paths/bill", headers=HTML).text
    by_time = json_of(client, "/paths/bill", new_since=billing.deployed.isoformat())
    assert [v["path"] for v in by_time["variants"] if v["new"]] == [NEW_PATH]
    older = json_of(client, "/paths/bill", version="v1")
    assert older["new"]["count"] == 0 and older["new"]["compared"]
    before_all = (billing.deployed - timedelta(days=1)).isoformat()
    blind = json_of(client, "/paths/bill", new_since=before_all)
    assert not blind["new"]["compared"] and "nothing to compare" in blind["new"]["note"]
    assert not any(v["new"] for v in blind["variants"])


def test_the_funnel_counts_the_runs_that_reached_each_point(
        billing: Billing, client_for: Callable[..., TestClient]) -> None:
    """The funnel starts with every run and counts those that reached each point of the
    path, in the expected order, then how the runs ended."""
    client = client_for(billing.app)
    funnel = json_of(client, "/paths/bill")["funnel"]
    assert funnel["started"] == 12
    assert [(s["point"], s["reached"]) for s in funnel["stages"]] == [
        ("load", 12), ("decide:is_paid", 12), ("effect:charge", 10), ("audit", 3),
        ("send_result", 10)]
    assert funnel["outcomes"] == {"completed": 10, "exit:already_paid": 2}
    assert funnel["exits"] == {"already_paid": 2}
    assert "12 started, 10 reached send_result." in client.get("/paths/bill", headers=HTML).text


def test_the_graph_is_well_formed_svg_naming_each_point_as_text(
        billing: Billing, client_for: Callable[..., TestClient]) -> None:
    """The page holds one SVG drawing that parses as XML, with a box per point and the
    hostile step's name and decision value as text, never as markup."""
    client = client_for(billing.app)
    page = client.get(f"/paths/{quote(HOSTILE)}", headers=HTML).text
    assert "<script>" not in page
    (drawing,) = re.findall(r"<svg .*?</svg>", page, re.DOTALL)
    root = ET.fromstring(drawing)
    labels = [title.text or "" for title in root.iter(f"{SVG}title")]
    assert any(label.startswith(f"{HOSTILE}:") for label in labels), labels
    assert any(HOSTILE in label and "decide:choice=" in label for label in labels), labels
    boxes = [g for g in root.iter(f"{SVG}g") if "node" in g.get("class", "").split()]
    assert len(boxes) == 4  # start, the step, the decision and end
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    bill = client.get("/paths/bill", headers=HTML).text
    (drawing,) = re.findall(r"<svg .*?</svg>", bill, re.DOTALL)
    texts = {t.text for t in ET.fromstring(drawing).iter(f"{SVG}text")}
    assert {"start", "load", "is_paid=false", "audit", "send_result", "end"} <= texts
    graph = json_of(client, "/paths/bill")["graph"]
    edges = {(e["source"], e["target"]): e["runs"] for e in graph["edges"]}
    assert edges[("effect:charge", "audit")] == 3 and edges[("(start)", "load")] == 12


def test_a_page_reading_the_newest_runs_says_it_covers_only_those(
        billing: Billing, client_for: Callable[..., TestClient],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With fewer runs read than stored, the figures cover the newest ones and the page
    says so."""
    monkeypatch.setattr(path_pages, "RUNS", 4)
    client = client_for(billing.app)
    data = json_of(client, "/paths/bill")
    assert data["runs"]["read"] == 4 and not data["runs"]["whole"]
    assert sum(v["count"] for v in data["variants"]) == 4 == data["funnel"]["started"]
    assert "The newest 4 runs" in client.get("/paths/bill", headers=HTML).text


def test_bad_queries_are_a_400_and_an_unknown_job_a_404(
        billing: Billing, client_for: Callable[..., TestClient]) -> None:
    """A time that is not one, both new_since and version, or a name too long is a 400
    naming the parameter; a job neither declared nor run is a 404, a declared one that
    never ran a page saying so."""
    client = client_for(billing.app)
    for path, params, words in (
            ("/paths/bill", {"new_since": "last tuesday"}, "new_since: 'last tuesday' is not a time"),
            ("/paths/bill", {"since": "2026-13-45"}, "since: '2026-13-45' is not a time"),
            ("/paths/bill", {"new_since": "0001-01-01T00:00+14:00"}, "out of the range of times"),
            ("/paths/bill", {"since": "99999999999d"}, "reaches back before the year 1"),
            ("/paths/bill", {"new_since": "1h", "version": "v2"}, "give one of them, not both"),
            ("/paths/bill", {"version": "v" * 201}, "version: at most 200 characters"),
            ("/paths/" + "j" * 201, {}, "job: at most 200 characters")):
        answer = client.get(path, params={**params, "format": "json"})
        assert answer.status_code == 400 and words in answer.json()["message"], answer.text
        assert client.get(path, params=params, headers=HTML).status_code == 400
    missing = client.get("/paths/nothing", params={"format": "json"})
    assert missing.status_code == 404 and "no job type 'nothing'" in missing.json()["message"]
    assert client.get("/paths/nothing", headers=HTML).status_code == 404
    billing.app.job(name="idle")(lambda: None)
    declared = json_of(client, "/paths/idle")
    assert declared["declared"] and declared["runs"]["read"] == 0 and declared["variants"] == []
    assert "No run of idle has finished" in client.get("/paths/idle", headers=HTML).text


def test_a_viewer_reads_the_paths_pages_and_no_one_without_a_token(
        billing: Billing, client_for: Callable[..., TestClient]) -> None:
    """With tokens configured, a viewer's token reads every path page; none reads without."""
    token = billing.app.tokens.create("reader", "viewer")
    client = client_for(billing.app)
    for path in ("/paths", "/paths/bill", "/divergences", "/rules"):
        assert client.get(path, params={"format": "json"}).status_code == 401, path
        answer = client.get(path, headers={**HTML, "authorization": f"Bearer {token}"})
        assert answer.status_code == 200, path
        assert 'href="/paths"' in answer.text  # in the nav


def test_the_expected_path_and_pages_hold_no_inline_script_or_style(
        billing: Billing, client_for: Callable[..., TestClient]) -> None:
    """The path pages and their drawings hold no inline script, event handler attribute,
    style element or style attribute (the CSP forbids them), only the scripts every page
    loads from /static, and show the expected path as text."""
    client = client_for(billing.app)
    for path in ("/paths", "/paths/bill", f"/paths/{quote(HOSTILE)}", "/divergences", "/rules"):
        text = client.get(path, headers=HTML).text
        page = elements(text)
        assert page.script_text == [], path
        for tag, attrs in page.tags:
            assert tag != "style" and "style" not in attrs, (path, tag)
            assert not [name for name in attrs if name.startswith("on")], (path, tag)
            if tag == "script":
                assert str(attrs.get("src")).startswith("/static/"), (path, attrs)
        assert text.lower().count("<script") == 3, path
    assert EXPECT.split(" | ")[0] in client.get("/paths/bill", headers=HTML).text
