"""Who may read and act: tokens, roles, sessions and CSRF."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from jobtrail import App
from jobtrail.dashboard import create_app
from jobtrail.errors import ConfigurationError
from tests.dashboard.conftest import Shop

HTML = {"accept": "text/html"}
ENV_OPERATOR = "operator-secret-0123456789"


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def csrf_of(page: str) -> str:
    """The CSRF value of the first form of *page*."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)


def replayed_by(app: App, job_id: int) -> list[str]:
    """The actors of the job's ``replayed`` events."""
    return [str(event.attrs.get("actor")) for event in app.get(job_id).path
            if event.name == "replayed"]


def test_without_tokens_pages_are_open(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """With no token configured, every page answers without credentials and says it is
    unauthenticated."""
    client = client_for(shop.app)
    page = client.get("/", headers=HTML)
    assert page.status_code == 200 and "unauthenticated" in page.text


def test_with_a_token_every_request_needs_one(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """Once a token exists: 401 without one (the login form for a browser), 401 with a
    wrong or revoked one, 200 with a live one."""
    token = shop.app.tokens.create("viewer1", "viewer")
    client = client_for(shop.app)
    for path in ("/", "/jobs", f"/jobs/{shop.dead}", "/dead", "/audit"):
        refused = client.get(path, params={"format": "json"})
        assert refused.status_code == 401, path
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert client.get(path, headers=bearer(token)).status_code == 200, path
    login = client.get("/jobs", headers=HTML)
    assert login.status_code == 401 and 'name="token"' in login.text
    assert client.get("/", headers=bearer("jt_" + "x" * 43)).status_code == 401
    assert client.get("/", headers={"authorization": "Basic abc"}).status_code == 401
    shop.app.tokens.revoke("viewer1")
    assert client.get("/", headers=bearer(token)).status_code == 401
    assert client.get("/", params={"format": "json"}).status_code == 401  # still required


def test_a_viewer_may_not_replay(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """A viewer's replay is a 403 naming the role needed, and the job stays dead."""
    token = shop.app.tokens.create("viewer1", "viewer")
    client = client_for(shop.app)
    refused = client.post(f"/jobs/{shop.dead}/replay", params={"format": "json"},
                          headers=bearer(token))
    assert refused.status_code == 403 and "operator" in refused.json()["message"]
    assert shop.app.get(shop.dead).status.value == "dead"
    assert replayed_by(shop.app, shop.dead) == []


def test_an_operator_replays_and_the_trail_names_it(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """An operator's replay (bearer, no CSRF needed) requeues the job, and its replayed
    event names token:<name>."""
    token = shop.app.tokens.create("alice", "operator")
    client = client_for(shop.app)
    done = client.post(f"/jobs/{shop.dead}/replay", headers=bearer(token),
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/jobs/{shop.dead}"
    assert shop.app.get(shop.dead).status.value == "queued"
    assert replayed_by(shop.app, shop.dead) == ["token:alice"]
    discarded = client.post(f"/jobs/{shop.hostile}/discard", params={"format": "json"},
                            headers=bearer(token))
    assert discarded.status_code == 200 and discarded.json()["job"]["status"] == "cancelled"
    again = client.post(f"/jobs/{shop.succeeded}/replay", params={"format": "json"},
                        headers=bearer(token))
    assert again.status_code == 409


def test_cookie_session_needs_the_csrf_value(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """After logging in with the form, a POST without the CSRF value is a 403 and changes
    nothing; with it, the replay is done as the session's token."""
    token = shop.app.tokens.create("bob", "operator")
    client = client_for(shop.app)
    assert client.post("/login", data={"token": "jt_wrong"}).status_code == 401
    logged = client.post("/login", data={"token": token, "next": "/dead"},
                         follow_redirects=False)
    assert logged.status_code == 303 and logged.headers["location"] == "/dead"
    cookie = logged.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and token.lower() not in cookie
    page = client.get("/dead", headers=HTML)
    assert page.status_code == 200 and "token:bob" in page.text
    assert client.post(f"/jobs/{shop.dead}/replay").status_code == 403
    assert client.post(f"/jobs/{shop.dead}/replay", data={"csrf": "forged"}).status_code == 403
    assert shop.app.get(shop.dead).status.value == "dead"
    done = client.post(f"/jobs/{shop.dead}/replay", data={"csrf": csrf_of(page.text)},
                       follow_redirects=False)
    assert done.status_code == 303
    assert replayed_by(shop.app, shop.dead) == ["token:bob"]
    out = client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/dead", params={"format": "json"}).status_code == 401


def test_login_goes_only_to_a_page_of_the_dashboard(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """The page after logging in is a path of the dashboard, never another site."""
    token = shop.app.tokens.create("carol", "viewer")
    client = client_for(shop.app)
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        went = client.post("/login", data={"token": token, "next": target},
                           follow_redirects=False)
        assert went.headers["location"] == "/", target


def test_env_tokens_authenticate_with_their_role(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """role:token pairs given to the dashboard authenticate as token:env-<role>-<n>."""
    client = client_for(shop.app, tokens=f"viewer:viewer-secret-0123456789,operator:{ENV_OPERATOR}")
    assert client.get("/", params={"format": "json"}).status_code == 401
    assert client.post(f"/jobs/{shop.dead}/replay",
                       headers=bearer("viewer-secret-0123456789")).status_code == 403
    done = client.post(f"/jobs/{shop.dead}/replay", params={"format": "json"},
                       headers=bearer(ENV_OPERATOR))
    assert done.status_code == 200 and done.json()["actor"] == "token:env-operator-1"
    assert replayed_by(shop.app, shop.dead) == ["token:env-operator-1"]


def test_bad_env_tokens_are_refused(tmp_path: Path) -> None:
    """A malformed or short token in the environment's list is a configuration error that
    never quotes the token."""
    app = App(f"sqlite:///{tmp_path / 'jobs.db'}")
    try:
        for spec, words in (("operator:", "not role:token"),
                            ("boss:" + "x" * 20, "does not exist"),
                            ("viewer:tooshort", "at least 16")):
            with pytest.raises(ConfigurationError, match=words) as raised:
                create_app(app, tokens=spec)
            secret = spec.partition(":")[2]
            assert not secret or secret not in str(raised.value)
    finally:
        app.close()


def test_without_tokens_a_post_still_needs_the_csrf_value(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """With no token, a form posted from elsewhere (no CSRF value) is refused; the
    dashboard's own form works and is recorded as the OS user."""
    client = client_for(shop.app)
    assert client.post(f"/jobs/{shop.dead}/replay").status_code == 403
    page = client.get("/dead", headers=HTML)
    done = client.post(f"/jobs/{shop.dead}/replay", data={"csrf": csrf_of(page.text)},
                       follow_redirects=False)
    assert done.status_code == 303
    (actor,) = replayed_by(shop.app, shop.dead)
    assert actor.startswith("os:")
