"""Admins manage tokens in the browser: list, create (the text shown once), revoke; nobody
else may, on both backends."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from jobtrail.records import Status
from tests.dashboard.conftest import Shop
from tests.dashboard.test_auth import HTML, bearer, csrf_of
from tests.support import rawsql


def access_actors(db_url: str) -> list[tuple[str, str, str]]:
    """(event, token name, actor) of every token event on the audit trail, oldest first."""
    rows = rawsql.fetch(db_url, "SELECT name, attrs FROM jobtrail_events WHERE kind = 'access' ORDER BY id")
    return [(name, json.loads(attrs)["name"], json.loads(attrs).get("actor")) for name, attrs in rows]


def test_only_admins_see_and_manage_tokens(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """A viewer's and an operator's list, create and revoke are 403 naming the admin role,
    and change nothing; only an admin's pages link to the tokens page."""
    admin = shop.app.tokens.create("boss", "admin")
    client = client_for(shop.app)
    for name, role in (("viewer1", "viewer"), ("operator1", "operator")):
        token = shop.app.tokens.create(name, role)
        answers = [client.get("/tokens", params={"format": "json"}, headers=bearer(token)),
                   client.get("/tokens", headers={**bearer(token), **HTML}),
                   client.post("/tokens", params={"format": "json"}, headers=bearer(token),
                               data={"name": "sneaky", "role": "admin"}),
                   client.post("/tokens/boss/revoke", params={"format": "json"}, headers=bearer(token))]
        for answer in answers:
            assert answer.status_code == 403, (role, answer.request.url)
        assert "needs the admin role" in answers[0].json()["message"]
        assert 'href="/tokens"' not in client.get("/", headers={**bearer(token), **HTML}).text
    assert [record.name for record in shop.app.tokens.list()] == ["boss", "viewer1", "operator1"]
    assert all(record.live for record in shop.app.tokens.list())
    assert 'href="/tokens"' in client.get("/", headers={**bearer(admin), **HTML}).text
    listed = client.get("/tokens", params={"format": "json"}, headers=bearer(admin))
    assert listed.status_code == 200
    assert [(t["name"], t["role"], t["live"]) for t in listed.json()["tokens"]] == [
        ("boss", "admin", True), ("viewer1", "viewer", True), ("operator1", "operator", True)]


def test_an_admin_creates_a_token_shown_once_that_then_authenticates(
        shop: Shop, client_for: Callable[..., TestClient], db_url: str) -> None:
    """Through the form (cookie and CSRF), an admin creates an operator token: its text is
    on the answer (201, no redirect) and nowhere after; it authenticates as token:<name>
    with its role; the token's row and event name the admin."""
    admin = shop.app.tokens.create("boss", "admin")
    client = client_for(shop.app)
    assert client.post("/login", data={"token": admin}, follow_redirects=False).status_code == 303
    listing = client.get("/tokens", headers=HTML)
    assert listing.status_code == 200 and "Create a token" in listing.text
    created = client.post("/tokens", headers=HTML, follow_redirects=False,
                          data={"csrf": csrf_of(listing.text), "name": "ci-bot", "role": "operator"})
    assert created.status_code == 201 and "location" not in created.headers
    assert created.headers["cache-control"] == "no-store"
    secret = created.text.split('<code class="secret" id="new-token">')[1].split("</code>")[0]
    assert secret.startswith("jt_") and len(secret) == 46
    assert "shown this once" in created.text
    assert secret not in client.get("/tokens", headers=HTML).text
    assert secret not in client.get("/tokens", params={"format": "json"}).text
    new = client_for(shop.app)
    done = new.post(f"/jobs/{shop.dead}/replay", params={"format": "json"}, headers=bearer(secret))
    assert done.status_code == 200 and done.json()["actor"] == "token:ci-bot"
    assert shop.app.get(shop.dead).status is Status.QUEUED
    assert new.get("/tokens", headers=bearer(secret)).status_code == 403
    record = next(r for r in shop.app.tokens.list() if r.name == "ci-bot")
    assert (record.role, record.created_by, record.live) == ("operator", "token:boss", True)
    assert access_actors(db_url)[-1] == ("token_created", "ci-bot", "token:boss")


def test_the_json_twin_of_create_holds_the_token_once(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """With a bearer token, ?format=json creates and answers as `jobtrail tokens create
    --json` does: the text and the record; the list never holds a text."""
    admin = shop.app.tokens.create("boss", "admin")
    client = client_for(shop.app)
    created = client.post("/tokens", params={"format": "json"}, headers=bearer(admin),
                          data={"name": "reader", "role": "viewer"})
    assert created.status_code == 201
    data = created.json()
    assert (data["name"], data["role"], data["live"], data["created_by"]) == ("reader", "viewer", True, "token:boss")
    assert client.get("/", params={"format": "json"}, headers=bearer(data["token"])).status_code == 200
    listed = client.get("/tokens", params={"format": "json"}, headers=bearer(admin)).json()
    assert all(set(token) == set(data) - {"token", "now_required"} for token in listed["tokens"])
    assert data["token"] not in json.dumps(listed)


def test_a_revoked_token_stops_working(shop: Shop, client_for: Callable[..., TestClient], db_url: str) -> None:
    """The admin's Revoke form revokes the token (303 back to the list): it no longer
    authenticates, nor do the sessions opened with it; revoking it again is a 404."""
    admin = shop.app.tokens.create("boss", "admin")
    victim = shop.app.tokens.create("old-bot", "operator")
    session = client_for(shop.app)
    assert session.post("/login", data={"token": victim}, follow_redirects=False).status_code == 303
    assert session.get("/", params={"format": "json"}).status_code == 200
    client = client_for(shop.app)
    assert client.post("/login", data={"token": admin}, follow_redirects=False).status_code == 303
    page = client.get("/tokens", headers=HTML).text
    assert 'action="/tokens/old-bot/revoke"' in page
    revoked = client.post("/tokens/old-bot/revoke", data={"csrf": csrf_of(page)}, follow_redirects=False)
    assert revoked.status_code == 303 and revoked.headers["location"] == "/tokens"
    assert client_for(shop.app).get("/", headers=bearer(victim)).status_code == 401
    assert session.get("/", params={"format": "json"}).status_code == 401
    record = next(r for r in shop.app.tokens.list() if r.name == "old-bot")
    assert (record.live, record.revoked_by) == (False, "token:boss")
    assert access_actors(db_url)[-1] == ("token_revoked", "old-bot", "token:boss")
    again = client.post("/tokens/old-bot/revoke", params={"format": "json"}, headers=bearer(admin))
    assert again.status_code == 404 and "already revoked" in again.json()["message"]


def test_token_forms_need_the_csrf_value(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """With the admin's session cookie, creating or revoking without the CSRF value, or
    with a wrong one, is a 403 that changes nothing."""
    admin = shop.app.tokens.create("boss", "admin")
    shop.app.tokens.create("keep-me", "viewer")
    client = client_for(shop.app)
    assert client.post("/login", data={"token": admin}, follow_redirects=False).status_code == 303
    for extra in ({}, {"csrf": "forged"}):
        assert client.post("/tokens", data={"name": "forged", "role": "admin", **extra}).status_code == 403
        assert client.post("/tokens/keep-me/revoke", data=extra).status_code == 403
    assert [(r.name, r.live) for r in shop.app.tokens.list()] == [("boss", True), ("keep-me", True)]


def test_bad_names_roles_and_taken_names_are_refused(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """A name with a space, a role that does not exist, a live token's name: a 400 saying
    what is wrong (the page keeps what was typed); nothing is created."""
    admin = shop.app.tokens.create("boss", "admin")
    client = client_for(shop.app)
    page = client.post("/tokens", headers={**bearer(admin), **HTML}, data={"name": "bad name", "role": "viewer"})
    assert page.status_code == 400 and "cannot be used" in page.text and 'value="bad name"' in page.text
    for form, words in (({"name": "ok", "role": "boss"}, "role 'boss' does not exist"),
                        ({"name": "boss", "role": "viewer"}, "a live token is already named 'boss'"),
                        ({"name": "", "role": "viewer"}, "token name '': empty")):
        answer = client.post("/tokens", params={"format": "json"}, headers=bearer(admin), data=form)
        assert answer.status_code == 400 and words in answer.json()["message"], form
    assert [r.name for r in shop.app.tokens.list()] == ["boss"]


def test_the_new_token_is_never_logged(shop: Shop, client_for: Callable[..., TestClient],
                                       caplog: pytest.LogCaptureFixture) -> None:
    """Creating a token logs nothing that holds its text, at any level."""
    admin = shop.app.tokens.create("boss", "admin")
    client = client_for(shop.app)
    with caplog.at_level(logging.DEBUG):
        created = client.post("/tokens", params={"format": "json"}, headers=bearer(admin),
                              data={"name": "quiet", "role": "viewer"})
    secret = created.json()["token"]
    assert all(secret not in record.getMessage() for record in caplog.records)


def test_the_first_token_closes_an_open_dashboard(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """Without tokens, the local user (an admin) creates the first one from the page: the
    answer says the dashboard now needs a token, and it does."""
    client = client_for(shop.app)
    listing = client.get("/tokens", headers=HTML)
    assert listing.status_code == 200 and "No token is stored yet." in listing.text
    created = client.post("/tokens", headers=HTML,
                          data={"csrf": csrf_of(listing.text), "name": "first", "role": "admin"})
    assert created.status_code == 201 and "from now on, every request needs one" in created.text
    assert client.get("/", params={"format": "json"}).status_code == 401
