"""The dashboard's static files: the vendored htmx and uPlot are the versions pinned, ship in
the wheel and load from the dashboard's own origin; the sparkline macro escapes its data."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hatchling.builders.wheel import WheelBuilder
from starlette.testclient import TestClient

from jobtrail.dashboard.middleware import SECURITY_HEADERS, STATIC_CACHE
from jobtrail.dashboard.rendering import HERE, environment, series
from jobtrail.dashboard.vendor import VENDOR, VENDORED, mismatches, sha256_of
from tests.dashboard.conftest import Shop

HTML = {"accept": "text/html"}
ROOT = Path(__file__).resolve().parents[2]
STRICT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              "frame-ancestors 'none'")


class Elements(HTMLParser):
    """Every start tag of a page with its attributes, and the text inside each script."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.script_text.append(data)


def elements(page: str) -> Elements:
    parsed = Elements()
    parsed.feed(page)
    return parsed


def test_every_vendored_file_is_the_one_pinned() -> None:
    """Each file in static/vendor has the SHA-256 its pinned version was published with, has
    a licence beside it, and no file there is unpinned."""
    assert mismatches() == []
    assert {entry.package: entry.version for entry in VENDORED} == {"htmx.org": "2.0.11",
                                                                     "uplot": "1.6.32"}
    for entry in VENDORED:
        assert (VENDOR / entry.license).is_file(), entry
        assert entry.source.startswith("https://registry.npmjs.org/"), entry
        assert entry.version in entry.source
    assert "Zero-Clause BSD" in (VENDOR / "htmx.LICENSE").read_text()
    assert "MIT License" in (VENDOR / "uPlot.LICENSE").read_text()


def test_the_checker_finds_a_changed_a_missing_and_an_unpinned_file(tmp_path: Path) -> None:
    """On a copy of static/vendor, one byte changed, one file removed and one added are each
    named by the check; the untouched copy passes."""
    copy = tmp_path / "vendor"
    shutil.copytree(VENDOR, copy)
    assert mismatches(copy) == []
    htmx = copy / "htmx.min.js"
    htmx.write_bytes(htmx.read_bytes().replace(b"htmx", b"htmX", 1))
    (copy / "uPlot.min.css").unlink()
    (copy / "extra.js").write_text("alert(1)")
    problems = mismatches(copy)
    assert len(problems) == 3, problems
    changed, missing, extra = problems
    assert changed.startswith("htmx.min.js is not htmx.org 2.0.11") and sha256_of(htmx) in changed
    assert missing == "uPlot.min.css (uplot 1.6.32) is missing"
    assert extra.startswith("extra.js is not pinned")


def test_the_wheel_holds_the_static_files_and_templates() -> None:
    """The wheel's file list (as hatchling would build it, building nothing) holds every
    vendored file, the dashboard's script and style sheet, and every template."""
    builder = WheelBuilder(str(ROOT))
    shipped = {included.distribution_path for included in builder.recurse_included_files()}
    package = "jobtrail/dashboard"
    wanted = {f"{package}/static/vendor/{entry.file}" for entry in VENDORED}
    wanted |= {f"{package}/static/dashboard.js", f"{package}/static/dashboard.css"}
    wanted |= {f"{package}/templates/{path.name}" for path in (HERE / "templates").iterdir()}
    assert wanted - shipped == set()


def test_pages_load_htmx_uplot_and_the_dashboard_script_from_their_own_origin(
        shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """Every page loads the three scripts by src from /static (each served, the vendored
    ones byte for byte), holds no inline script, and tells htmx not to add inline styles
    nor evaluate code."""
    client = client_for(shop.app)
    page = elements(client.get("/", headers=HTML).text)
    scripts = [attrs.get("src") for tag, attrs in page.tags if tag == "script"]
    assert scripts == ["/static/vendor/htmx.min.js", "/static/vendor/uPlot.iife.min.js",
                       "/static/dashboard.js"]
    assert page.script_text == []
    for src in scripts:
        assert src is not None
        served = client.get(src)
        assert served.status_code == 200, src
        assert served.content == (HERE / src.removeprefix("/")).read_bytes()
    (config,) = [attrs["content"] for tag, attrs in page.tags
                 if tag == "meta" and attrs.get("name") == "htmx-config"]
    assert config is not None
    settings = json.loads(config)
    assert settings["includeIndicatorStyles"] is False and settings["allowEval"] is False
    assert settings["allowScriptTags"] is False and settings["historyCacheSize"] == 0
    assert settings["disableInheritance"] is True and settings["selfRequestsOnly"] is True
    sheets = [attrs["href"] for tag, attrs in page.tags
              if tag == "link" and attrs.get("rel") == "stylesheet"]
    assert sheets == ["/static/vendor/uPlot.min.css", "/static/dashboard.css"]


def test_the_csp_stays_strict_and_static_files_are_revalidated(
        shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """Pages and static files carry the strict CSP (no unsafe-inline, no unsafe-eval);
    pages are never stored, static files are revalidated on each use (304 when unchanged)."""
    client = client_for(shop.app)
    assert SECURITY_HEADERS["content-security-policy"] == STRICT_CSP
    page = client.get("/jobs", headers=HTML)
    script = client.get("/static/vendor/htmx.min.js")
    for answer in (page, script):
        assert answer.headers["content-security-policy"] == STRICT_CSP
        assert "unsafe" not in answer.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert script.headers["cache-control"] == STATIC_CACHE == "no-cache"
    again = client.get("/static/vendor/htmx.min.js",
                       headers={"if-none-match": script.headers["etag"]})
    assert again.status_code == 304


def test_the_sparkline_macro_escapes_its_data_for_attributes() -> None:
    """A label that closes the attribute and opens a script, and points with a gap and a
    NaN, come out as attributes that parse back to the label and to JSON with nulls."""
    label = '"><script>alert(1)</script> dead/hour'
    template = environment().from_string(
        '{% from "macros.html" import sparkline %}{{ sparkline(points, label, times) }}')
    html = template.render(points=[1, None, 2.5, float("nan")], label=label,
                           times=[3600, 7200, 10800, 14400])
    assert "<script" not in html
    ((tag, attrs),) = elements(html).tags
    assert tag == "div" and attrs["class"] == "sparkline" and attrs["role"] == "img"
    assert attrs["data-label"] == label and attrs["aria-label"] == label
    assert json.loads(attrs["data-points"] or "") == [1, None, 2.5, None]
    assert json.loads(attrs["data-times"] or "") == [3600, 7200, 10800, 14400]
    plain = environment().from_string(
        '{% from "macros.html" import sparkline %}{{ sparkline([1, 2], "x") }}').render()
    assert "data-times" not in plain


def test_a_series_holds_numbers_only() -> None:
    """Text or a boolean among a sparkline's points is a TypeError at render time."""
    assert series([1, 2.0, None, float("inf")]) == "[1, 2.0, null, null]"
    for bad in (["1"], [True]):
        with pytest.raises(TypeError, match="a series holds numbers"):
            series(bad)  # type: ignore[arg-type]
