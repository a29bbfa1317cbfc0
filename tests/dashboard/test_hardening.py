"""A dashboard without tokens answers only requests addressed to this machine (no DNS
rebinding), and an unexpected error is a generic 500 with the security headers, logged."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from markupsafe import escape
from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient

from jobtrail.dashboard import create_app
from jobtrail.dashboard.hosts import is_local
from jobtrail.dashboard.middleware import SECURITY_HEADERS, SERVER_ERROR
from jobtrail.records import Status
from tests.dashboard.conftest import Shop
from tests.dashboard.test_auth import HTML, bearer, csrf_of
from tests.support import rawsql

SECRET_DETAIL = "database password is hunter2"


@pytest.mark.parametrize("host", ["localhost", "LocalHost", "localhost:8000", "127.0.0.1",
                                  "127.0.0.1:1", "[::1]", "[::1]:8000"])
def test_this_machine_s_names_are_local(host: str) -> None:
    """localhost, 127.0.0.1 and [::1], with or without a port, name this machine."""
    assert is_local(host)


@pytest.mark.parametrize("host", [None, "", "evil.example", "evil.example:8000", "localhost.evil.example",
                                  "127.0.0.2", "0.0.0.0", "::1", "[::1", "[::2]:80", "localhost:",
                                  "localhost:80:80", "localhost:\uff18\uff10", "localhost:1234567",
                                  "127.0.0.1.nip.io", "[::1]x"])
def test_other_names_are_not_local(host: str | None) -> None:
    """Another name, another address, a bad port or a malformed address is not local."""
    assert not is_local(host)


def test_without_tokens_a_request_for_another_host_is_refused(
        shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """With no token, a page, a static file or a POST addressed to another name (as a
    rebound DNS name would be) is a 421 saying why, with the security headers, and changes
    nothing; addressed to localhost it is answered."""
    client = client_for(shop.app)
    csrf = csrf_of(client.get("/dead", headers=HTML).text)
    for host in ("evil.example", "evil.example:8000", "127.0.0.2"):
        evil = {"host": host}
        page = client.get("/dead", headers={**HTML, **evil})
        assert page.status_code == 421, host
        assert "answers only requests addressed to localhost, 127.0.0.1 or [::1]" in page.text
        assert str(escape(repr(host))) in page.text
        for name, value in SECURITY_HEADERS.items():
            assert page.headers[name] == value
        assert client.get("/static/dashboard.css", headers=evil).status_code == 421
        assert client.get("/jobs", params={"format": "json"}, headers=evil).json()["status"] == 421
        posted = client.post(f"/jobs/{shop.dead}/replay", data={"csrf": csrf}, headers=evil)
        assert posted.status_code == 421
    assert shop.app.get(shop.dead).status is Status.DEAD
    for host in ("localhost:8000", "127.0.0.1", "[::1]:9999"):
        assert client.get("/dead", headers={**HTML, "host": host}).status_code == 200, host


def test_with_a_token_any_host_is_answered(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """Once a token is required, the Host is the server's concern: a request with a token
    is answered whatever name it was addressed to."""
    token = shop.app.tokens.create("viewer1", "viewer")
    client = client_for(shop.app)
    answer = client.get("/dead", params={"format": "json"},
                        headers={**bearer(token), "host": "jobs.example.com"})
    assert answer.status_code == 200
    refused = client.get("/dead", params={"format": "json"}, headers={"host": "jobs.example.com"})
    assert refused.status_code == 401


def raising(request: Request) -> Response:
    """A page that fails unexpectedly, its message holding a secret."""
    raise RuntimeError(SECRET_DETAIL)


def test_an_unexpected_error_is_a_generic_500_with_the_headers(
        shop: Shop, caplog: pytest.LogCaptureFixture) -> None:
    """A page that raises answers 500 with the security headers and a page (or JSON) that
    says nothing of the error; the error and its traceback go to the log."""
    web = create_app(shop.app, tokens="")
    web.add_route("/boom", raising)
    with TestClient(web, base_url="http://localhost") as client, \
            caplog.at_level(logging.ERROR, "jobtrail.dashboard"):
        page = client.get("/boom", headers=HTML)
        twin = client.get("/boom", params={"format": "json"})
    assert page.status_code == twin.status_code == 500
    for answer in (page, twin):
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers[name] == value, name
        assert SECRET_DETAIL not in answer.text and "Traceback" not in answer.text
        assert "RuntimeError" not in answer.text
    assert "<html" in page.text and str(escape(SERVER_ERROR)) in page.text
    assert twin.json() == {"error": "server error", "message": SERVER_ERROR, "status": 500}
    logged = [record for record in caplog.records if record.name == "jobtrail.dashboard"]
    assert len(logged) == 2 and "GET /boom failed" in logged[0].getMessage()
    assert logged[0].exc_info is not None and SECRET_DETAIL in str(logged[0].exc_info[1])


@contextmanager
def jobs_table_away(db_url: str) -> Iterator[None]:
    """The jobs table renamed for the block: every read of a job fails in the database."""
    rawsql.execute(db_url, "ALTER TABLE jobtrail_jobs RENAME TO jobtrail_jobs_away")
    try:
        yield
    finally:
        rawsql.execute(db_url, "ALTER TABLE jobtrail_jobs_away RENAME TO jobtrail_jobs")


def test_a_broken_database_is_a_500_with_the_headers(
        shop: Shop, client_for: Callable[..., TestClient], db_url: str,
        caplog: pytest.LogCaptureFixture) -> None:
    """With the jobs table gone, the jobs and dead-letter pages answer 500 with the
    security headers and no word of the database's error, which is logged; the pages
    answer again once the table is back."""
    client = client_for(shop.app)
    with jobs_table_away(db_url), caplog.at_level(logging.ERROR, "jobtrail.dashboard"):
        for path in ("/jobs", "/dead", f"/jobs/{shop.dead}"):
            answer = client.get(path, headers=HTML)
            assert answer.status_code == 500, path
            assert answer.headers["content-security-policy"] == SECURITY_HEADERS["content-security-policy"]
            assert answer.headers["cache-control"] == "no-store"
            assert "jobtrail_jobs" not in answer.text and "Traceback" not in answer.text
    logged = [r.exc_info[1] for r in caplog.records if r.name == "jobtrail.dashboard" and r.exc_info]
    assert len(logged) == 3
    assert all(error is not None and "jobtrail_jobs" in f"{error} {error.__cause__}" for error in logged)
    assert client.get("/dead", headers=HTML).status_code == 200
