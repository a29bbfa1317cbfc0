"""The dashboard in a real headless browser (Debian's chromium, driven by Playwright) against
``jobtrail dashboard`` running as its own process: every page loads without a console
error or a script of a hostile payload running, a flow is drawn, an operator replays a
dead letter from its page, and a viewer cannot."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Route, sync_playwright

from jobtrail import App
from jobtrail.dashboard.middleware import SECURITY_HEADERS
from jobtrail.dashboard.rendering import environment
from jobtrail.records import Status
from jobtrail.testing import run_until_idle
from tests.dashboard.conftest import CARD, HOSTILE_NOTE, declare
from tests.support.servers import dashboard_process

#: Run in every page before its own scripts: each Content-Security-Policy violation is kept
#: in window.cspViolations (the browser reports them on the console too).
WATCH_CSP = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""

OPERATOR = "operator-token-0123456789"
VIEWER = "viewer-token-0123456789ab"
ADMIN = "admin-token-0123456789abcd"

APP_SOURCE = '''
import os

from jobtrail import App
from tests.dashboard.conftest import declare

app = App(os.environ["SHOP_URL"])
declare(app)
'''


def chromium() -> str:
    """The system's chromium (Debian's package), rather than a browser Playwright downloads."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (the Debian package chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


@dataclass
class Served:
    """The dashboard's address, its app (read directly by the tests), the dead job."""

    base: str
    app: App
    dead: int
    hostile: int


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A shop whose worker has run, and its dashboard as a real server, with an operator's,
    a viewer's and an admin's token."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    (tmp_path / "shop.py").write_text(APP_SOURCE)
    app = App(url)
    declare(app)
    app.enqueue("charge", invoice=1, card=CARD)
    dead = app.enqueue("charge", invoice=2, card=CARD, note=HOSTILE_NOTE).id
    hostile = app.enqueue("strange", note=HOSTILE_NOTE).id
    run_until_idle(app)
    tokens = f"operator:{OPERATOR},viewer:{VIEWER},admin:{ADMIN}"
    try:
        with dashboard_process(tmp_path, "shop:app", SHOP_URL=url,
                               JOBTRAIL_DASHBOARD_TOKENS=tokens) as base:
            yield Served(base, app, dead, hostile)
    finally:
        app.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    """A headless chromium."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), headless=True)
        yield launched
        launched.close()


@dataclass
class Watched:
    """A page and what went wrong on it: console errors, uncaught errors, dialogs."""

    page: Page
    problems: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        """The Content-Security-Policy violations of the page shown now."""
        found: list[str] = self.page.evaluate("window.cspViolations")
        return found


def logged_in(browser: Browser, served: Served, token: str, javascript: bool = True) -> Watched:
    """A new browser context (with JavaScript on or off) logged in with *token* through the
    login form."""
    page = browser.new_context(java_script_enabled=javascript).new_page()
    watched = Watched(page)

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.problems.append(f"console: {message.text}")

    def dialog(opened: Dialog) -> None:
        watched.problems.append(f"a dialog opened: {opened.message}")
        opened.dismiss()

    page.add_init_script(WATCH_CSP)
    page.on("console", console)
    page.on("pageerror", lambda error: watched.problems.append(f"error: {error}"))
    page.on("dialog", dialog)
    refused = page.goto(served.base + "/")
    assert refused is not None and refused.status == 401  # the login form, in place
    assert [problem for problem in watched.problems if "401" not in problem] == []
    watched.problems.clear()  # the browser reports the 401 itself as an error
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#token").count() == 0, "still on the login form"
    return watched


def test_every_page_loads_without_errors_and_hostile_text_stays_text(
        browser: Browser, served: Served) -> None:
    """Overview, jobs, a job, dead letters, audit, flows and the catalog load with no
    console error and no script of a hostile payload running; the payload shows as text."""
    watched = logged_in(browser, served, VIEWER)
    page = watched.page
    for path in ("/", "/jobs", f"/jobs/{served.hostile}", f"/jobs/{served.dead}", "/dead",
                 "/audit", "/flows", "/catalog", "/catalog/strange"):
        response = page.goto(served.base + path)
        assert response is not None and response.status == 200, path
        page.wait_for_load_state()
        assert page.locator("h1").first.is_visible(), path
    page.goto(served.base + f"/jobs/{served.hostile}")
    assert HOSTILE_NOTE in page.locator("body").inner_text()
    assert CARD not in page.content()
    assert watched.problems == []


def test_an_operator_replays_a_dead_letter_from_its_page(browser: Browser,
                                                         served: Served) -> None:
    """The operator's Replay button on the dead-letter page requeues the job, and the
    trail names the operator's token."""
    page = logged_in(browser, served, OPERATOR).page
    page.goto(served.base + "/dead")
    row = page.locator("tr", has=page.locator(f"a[href$='/jobs/{served.dead}']"))
    row.locator("button", has_text="Replay").click()
    page.wait_for_load_state()
    job = served.app.get(served.dead)
    assert job.status == Status.QUEUED
    replayed = [event for event in job.path if event.name == "replayed"]
    assert replayed and "token:env-operator" in str(replayed[-1].attrs)


def test_a_viewer_cannot_replay(browser: Browser, served: Served) -> None:
    """A viewer pressing Replay is refused (403) and the job stays dead."""
    page = logged_in(browser, served, VIEWER).page
    page.goto(served.base + "/dead")
    row = page.locator("tr", has=page.locator(f"a[href$='/jobs/{served.dead}']"))
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        row.locator("button", has_text="Replay").click()
    assert answer.value.status == 403
    assert served.app.get(served.dead).status == Status.DEAD


def test_htmx_and_uplot_load_with_no_csp_violation(browser: Browser, served: Served) -> None:
    """On every page htmx and uPlot load from the dashboard, htmx adds no style element (its
    indicator styles are off), and nothing violates the Content-Security-Policy."""
    watched = logged_in(browser, served, VIEWER)
    page = watched.page
    for path in ("/", "/jobs", f"/jobs/{served.dead}", "/dead", "/audit", "/flows/charge",
                 "/catalog"):
        page.goto(served.base + path)
        page.wait_for_load_state("load")
        loaded = page.evaluate("""() => [typeof window.htmx, typeof window.uPlot,
            window.htmx && window.htmx.config.includeIndicatorStyles,
            window.htmx && window.htmx.config.allowEval,
            document.querySelectorAll("style").length]""")
        assert loaded == ["object", "function", False, False, 0], path
        assert watched.violations() == [], path
    assert watched.problems == []


def test_a_sparkline_is_drawn_under_the_csp(browser: Browser, served: Served) -> None:
    """The sparkline macro's element, on a page of the dashboard's origin with its
    headers and scripts, becomes a uPlot canvas with no console error nor CSP violation."""
    watched = logged_in(browser, served, VIEWER)
    page = watched.page
    html = environment().from_string(
        '{% extends "base.html" %}{% from "macros.html" import sparkline %}'
        '{% block content %}<h1>Sparkline</h1>'
        '{{ sparkline([3, 1, 4, 1, 5, None, 9, 2], "dead letters per hour") }}'
        '{{ sparkline([1, 2], "timed", times=[1700000000, 1700003600]) }}'
        '{% endblock %}').render(data={}, visit=None, root="", csrf="", can=lambda _: False)

    def fulfil(route: Route) -> None:
        route.fulfill(status=200, body=html, content_type="text/html; charset=utf-8",
                      headers=dict(SECURITY_HEADERS))

    page.route(served.base + "/sparkline-check", fulfil)
    page.goto(served.base + "/sparkline-check")
    page.wait_for_selector(".sparkline canvas")
    assert page.locator(".sparkline canvas").count() == 2
    assert page.locator(".sparkline[data-drawn]").count() == 2
    assert page.locator(".sparkline").first.get_attribute("aria-label") == "dead letters per hour"
    assert watched.violations() == []
    assert watched.problems == []


def test_an_operator_replays_the_checked_dead_letters_in_place(browser: Browser,
                                                               served: Served) -> None:
    """The "select all" box checks every dead letter and "Replay selected" replays them
    through htmx: the results appear on the page, the list reloads empty, each job's
    replayed event names the operator, and nothing goes wrong on the console."""
    watched = logged_in(browser, served, OPERATOR)
    page = watched.page
    page.goto(served.base + "/dead")
    select_all = page.locator("input[data-check-all]")
    assert select_all.is_visible()
    select_all.check()
    assert page.locator("input[name=ids]:checked").count() == 2
    with page.expect_response(lambda r: r.url.endswith("/dead/replay")) as answer:
        page.get_by_role("button", name="Replay selected").click()
    assert answer.value.status == 200
    page.locator("#bulk-result").get_by_text("Replayed 2 of 2 jobs").wait_for()
    page.get_by_text("The dead-letter queue is empty.").wait_for()
    assert page.url == served.base + "/dead"
    for job_id in (served.dead, served.hostile):
        job = served.app.get(job_id)
        assert job.status == Status.QUEUED
        (replayed,) = [event for event in job.path if event.name == "replayed"]
        assert replayed.attrs.get("actor") == "token:env-operator-1"
    assert watched.violations() == []
    assert watched.problems == []


def test_bulk_replay_works_without_javascript(browser: Browser, served: Served) -> None:
    """With JavaScript off, checking a dead letter and pressing "Replay selected" posts the
    plain form, and the answer is a page saying the job was replayed."""
    page = logged_in(browser, served, OPERATOR, javascript=False).page
    page.goto(served.base + "/dead")
    assert not page.locator("input[data-check-all]").is_visible()
    page.locator(f"input[name=ids][value='{served.dead}']").check()
    page.get_by_role("button", name="Replay selected").click()
    page.wait_for_load_state()
    assert page.url == served.base + "/dead/replay"
    assert "Replayed 1 of 1 job." in page.locator("main").inner_text()
    assert served.app.get(served.dead).status == Status.QUEUED
    assert served.app.get(served.hostile).status == Status.DEAD


def test_an_admin_creates_a_token_in_the_browser_and_it_logs_in(browser: Browser,
                                                                 served: Served) -> None:
    """An admin follows the Tokens link, fills the form and sees the new token once; that
    token then logs in as an operator; no console error on the way."""
    watched = logged_in(browser, served, ADMIN)
    page = watched.page
    page.goto(served.base + "/")
    page.get_by_role("link", name="Tokens").click()
    page.wait_for_load_state()
    assert page.url == served.base + "/tokens"
    page.fill("input[name=name]", "night-shift")
    page.select_option("select[name=role]", "operator")
    page.get_by_role("button", name="Create").click()
    page.wait_for_load_state()
    token = page.locator("#new-token").inner_text()
    assert token.startswith("jt_") and "night-shift" in page.url + page.content()
    assert token not in page.url
    assert watched.violations() == [] and watched.problems == []
    page.goto(served.base + "/tokens")
    assert token not in page.content()
    assert page.locator("tr", has_text="night-shift").locator("button", has_text="Revoke").is_visible()
    operator = logged_in(browser, served, token).page
    assert "token:night-shift (operator)" in operator.locator(".who").inner_text()
    assert operator.get_by_role("link", name="Tokens").count() == 0


def test_a_flow_page_draws_its_graph(browser: Browser, served: Served) -> None:
    """/flows/charge draws the job's flow as an SVG with a node per point of its code and
    edges counting its runs, with no console error nor CSP violation (the drawing needs no
    script, and has no style attribute)."""
    watched = logged_in(browser, served, VIEWER)
    page = watched.page
    response = page.goto(served.base + "/flows/charge")
    assert response is not None and response.status == 200
    drawing = page.locator("svg.flow")
    assert drawing.is_visible()
    box = drawing.bounding_box()
    assert box is not None and box["width"] > 50 and box["height"] > 100
    nodes = drawing.locator("g.node")
    assert nodes.count() >= 4
    labels = drawing.locator("g.node text.label").all_text_contents()
    assert "effect:charge" in labels and "check" in labels
    assert drawing.locator("g.edge-taken").count() >= 3
    assert watched.violations() == [] and watched.problems == []
