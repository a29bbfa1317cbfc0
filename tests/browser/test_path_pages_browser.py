"""The paths, divergences and rules pages in a real headless browser against ``jobtrail
dashboard`` running as its own process: they load without a console error, no script of a
hostile name runs, nothing violates the Content-Security-Policy, the graph is drawn, and
the hostile names show as text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser

from jobtrail import App
from tests.browser.test_dashboard_browser import VIEWER, Served, logged_in
from tests.browser.test_dashboard_browser import browser as browser  # the fixture
from tests.dashboard.billing import HOSTILE, run_billing
from tests.support.servers import dashboard_process

APP_SOURCE = '''
import os

from jobtrail import App
from tests.dashboard.billing import declare

app = App(os.environ["BILLING_URL"], code_version="v2")
declare(app, audited=True)
'''


@pytest.fixture
def billing_served(tmp_path: Path) -> Iterator[Served]:
    """Billing run under two versions, and its dashboard as a real server with a viewer's
    token."""
    url = f"sqlite:///{tmp_path / 'billing.db'}"
    (tmp_path / "billing_app.py").write_text(APP_SOURCE)
    apps: list[App] = []

    def make_app(**options: Any) -> App:
        app = App(url, **options)
        apps.append(app)
        return app

    billing = run_billing(make_app)
    try:
        with dashboard_process(tmp_path, "billing_app:app", BILLING_URL=url,
                               JOBTRAIL_DASHBOARD_TOKENS=f"viewer:{VIEWER}") as base:
            yield Served(base, billing.app, 0, billing.hostile)
    finally:
        for app in apps:
            app.close()


def test_the_path_pages_load_draw_their_graph_and_keep_hostile_names_as_text(
        browser: Browser, billing_served: Served) -> None:
    """Paths, a job's paths (its graph drawn), divergences and rules load with no console
    error, no CSP violation and no hostile script running; the hostile names read as text."""
    watched = logged_in(browser, billing_served, VIEWER)
    page = watched.page
    hostile = f"/paths/{quote(HOSTILE)}"
    for path in ("/paths", "/paths/bill", hostile, "/divergences", "/rules"):
        response = page.goto(billing_served.base + path)
        assert response is not None and response.status == 200, path
        page.wait_for_load_state()
        assert page.locator("h1").first.is_visible(), path
        if path.startswith("/paths/"):
            drawing = page.locator("svg.flow").bounding_box()
            assert drawing is not None and drawing["height"] > 300, path
        if path != "/paths/bill":
            assert HOSTILE in page.locator("main").inner_text(), path
        assert watched.violations() == [], path
    page.goto(billing_served.base + "/paths/bill")
    assert page.locator("svg.flow g.node").count() == 9  # start, 7 points, end
    assert watched.problems == []
