"""Hostile values are shown as text, redacted values never shown, and every answer carries
the security headers."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from jobtrail.dashboard.app import SECURITY_HEADERS
from jobtrail.dashboard.middleware import STATIC_CACHE
from tests.dashboard.conftest import CARD, HOSTILE_ERROR, HOSTILE_NOTE, HOSTILE_QUEUE, Shop
from tests.dashboard.test_assets import elements

HTML = {"accept": "text/html"}
RAW = ("<script>", "<img src=x", '"><b>')


def test_hostile_payload_error_and_queue_are_shown_as_text(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """A payload with a script tag, an error with an img tag and a queue name that closes
    an attribute appear escaped on every page, never as markup."""
    client = client_for(shop.app)
    for path in ("/", "/jobs", f"/jobs/{shop.dead}", f"/jobs/{shop.hostile}", "/dead",
                 f"/jobs?queue={HOSTILE_QUEUE}", "/catalog", "/catalog/strange",
                 "/flows/strange"):
        page = client.get(path, headers=HTML)
        assert page.status_code == 200, path
        for raw in RAW:
            assert raw not in page.text, (path, raw)
    hostile = client.get(f"/jobs/{shop.hostile}", headers=HTML).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile
    assert "&lt;img src=x onerror=alert(1)&gt;" in hostile
    assert "q&#34;&gt;&lt;b&gt;bold" in hostile
    assert "q&#34;&gt;&lt;b&gt;bold" in client.get("/", headers=HTML).text
    data = client.get(f"/jobs/{shop.hostile}", params={"format": "json"}).json()
    assert data["job"]["args"]["note"] == HOSTILE_NOTE
    assert HOSTILE_ERROR in data["job"]["error"]["message"]


def test_redacted_values_show_as_redacted(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """The card a job declares sensitive shows as [redacted] in its arguments, result,
    error and effect keys, on every page and in JSON; never its value."""
    client = client_for(shop.app)
    for path in ("/", "/jobs", f"/jobs/{shop.succeeded}", f"/jobs/{shop.dead}", "/dead"):
        for params in ({}, {"format": "json"}):
            answer = client.get(path, params=params, headers=HTML)
            assert CARD not in answer.text, (path, params)
    data = client.get(f"/jobs/{shop.succeeded}", params={"format": "json"}).json()
    assert data["job"]["args"]["card"] == "[redacted]"
    assert data["job"]["result"] == {"paid_with": "[redacted]"}
    assert "[redacted]" in client.get(f"/jobs/{shop.dead}", headers=HTML).text


def test_every_answer_carries_the_security_headers(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """Pages, JSON, errors, redirects, the login form, static files and refusals all carry
    the Content-Security-Policy, nosniff and no-referrer headers (static files may be
    cached, revalidated on each use)."""
    client = client_for(shop.app)
    answers = [client.get(path, headers=HTML, follow_redirects=False) for path in (
        "/", "/jobs?format=json", "/jobs/999", "/jobs?status=bad", "/jobs?id=1", "/login",
        "/static/dashboard.css", "/nowhere")]
    answers.append(client.post(f"/jobs/{shop.dead}/replay", data={"csrf": "wrong"}))
    for answer in answers:
        static = answer.request.url.path.startswith("/static/")
        for name, value in SECURITY_HEADERS.items():
            wanted = STATIC_CACHE if static and name == "cache-control" else value
            assert answer.headers.get(name) == wanted, (answer.request.url, name)
    assert "default-src 'self'" in answers[0].headers["content-security-policy"]
    assert answers[-1].status_code == 403


def test_templates_hold_no_inline_script_or_style(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """No page holds an inline script, an event handler attribute, a style element or a
    style attribute (the CSP forbids them): scripts come by src from /static only."""
    client = client_for(shop.app)
    for path in ("/", "/jobs", f"/jobs/{shop.dead}", "/dead", "/audit", "/login", "/flows",
                 "/flows/charge", "/catalog", "/catalog/charge"):
        text = client.get(path, headers=HTML).text
        page = elements(text)
        assert page.script_text == [], path
        for tag, attrs in page.tags:
            assert tag != "style", path
            assert "style" not in attrs, (path, tag)
            assert not [name for name in attrs if name.startswith("on")], (path, tag)
            if tag == "script":
                assert str(attrs.get("src")).startswith("/static/"), (path, attrs)
        assert text.lower().count("<script") == 3, path
