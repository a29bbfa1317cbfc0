"""A job's page: its parent and children, its type's catalog and flow, its trace in the
tracing UI, and a dead letter's runbook (both backends)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from jobtrail import App, Context, Permanent, Retry
from jobtrail.dashboard import create_app
from jobtrail.dashboard.links import TRACE_ENV, trace_link, trace_template
from jobtrail.dashboard.pages import CHILDREN
from jobtrail.store.base import NewJob
from jobtrail.testing import run_until_idle

HTML = {"accept": "text/html"}
TRACES = "https://tracing.example/trace/{trace_id}"
RUNBOOK = "https://runbooks.example/notify"


def declare(app: App, children: int) -> None:
    """A job that enqueues *children* children, one of which fails for good."""

    @app.job(runbook=RUNBOOK, retry=Retry(max_attempts=1))
    def notify(n: int) -> None:
        if n == 0:
            raise Permanent("the mail server refused")

    @app.job(runbook="javascript:alert(1)", retry=Retry(max_attempts=1))
    def sms(n: int) -> None:
        raise Permanent("no signal")

    @app.job
    def fan_out(ctx: Context, count: int) -> None:
        for n in range(count):
            ctx.enqueue(notify, n=n)
        ctx.enqueue(sms, n=0)


@pytest.fixture
def family(make_app: Callable[..., App]) -> tuple[App, int]:
    """An app whose `fan_out` job ran and enqueued three notifications and an sms."""
    app = make_app()
    declare(app, 3)
    parent = app.enqueue("fan_out", count=3).id
    run_until_idle(app)
    return app, parent


def test_a_job_links_its_children_and_each_child_its_parent(
    family: tuple[App, int], client_for: Callable[..., TestClient],
) -> None:
    """The parent's page lists its children, newest first, each a link; a child's page
    links its parent; /jobs?parent= lists them."""
    app, parent = family
    client = client_for(app)
    children = [job.id for job in app.jobs(job_name="notify")] + \
        [job.id for job in app.jobs(job_name="sms")]
    data = client.get(f"/jobs/{parent}", params={"format": "json"}).json()
    assert [child["id"] for child in data["children"]] == sorted(children, reverse=True)
    assert data["more_children"] is False and data["children_page"] == f"/jobs?parent={parent}"
    page = client.get(f"/jobs/{parent}", headers=HTML).text
    assert all(f'href="/jobs/{child}"' in page for child in children)
    child = client.get(f"/jobs/{children[0]}", headers=HTML).text
    assert f'href="/jobs/{parent}">#{parent}</a>' in child
    listed = client.get("/jobs", params={"parent": str(parent), "format": "json"}).json()
    assert sorted(job["id"] for job in listed["jobs"]) == sorted(children)
    assert client.get("/jobs", params={"parent": "x", "format": "json"}).status_code == 400


def test_the_children_shown_are_bounded(make_app: Callable[..., App],
                                        client_for: Callable[..., TestClient]) -> None:
    """A job with more children than the page lists shows the newest and links to all."""
    app = make_app()
    declare(app, CHILDREN + 1)
    parent = app.enqueue("fan_out", count=CHILDREN + 1).id
    run_until_idle(app)
    client = client_for(app)
    data = client.get(f"/jobs/{parent}", params={"format": "json"}).json()
    assert len(data["children"]) == CHILDREN and data["more_children"] is True
    newest = max(job.id for job in app.jobs(parent_id=parent, limit=CHILDREN + 2))
    assert data["children"][0]["id"] == newest
    page = client.get(f"/jobs/{parent}", headers=HTML).text
    assert f'href="/jobs?parent={parent}">all of them</a>' in page


def test_the_job_type_links_to_its_catalog_entry_and_flow(
    family: tuple[App, int], client_for: Callable[..., TestClient],
) -> None:
    """The job page links its type's catalog entry and flow page."""
    app, parent = family
    client = client_for(app)
    page = client.get(f"/jobs/{parent}", headers=HTML).text
    assert 'href="/catalog/fan_out">catalog</a>' in page and 'href="/flows/fan_out">flow</a>' in page
    data = client.get(f"/jobs/{parent}", params={"format": "json"}).json()
    assert data["job_type"]["catalog"] == "/catalog/fan_out"


def test_a_dead_letter_links_its_runbook(family: tuple[App, int],
                                         client_for: Callable[..., TestClient]) -> None:
    """A dead job's page links the runbook of its type; one that is not an http(s)
    address is text; a job that succeeded shows none."""
    app, _ = family
    client = client_for(app)
    (dead,) = [job.id for job in app.dead_letters(job_name="notify")]
    page = client.get(f"/jobs/{dead}", headers=HTML).text
    assert f'<a href="{RUNBOOK}" rel="noopener noreferrer">{RUNBOOK}</a>' in page
    (sms,) = [job.id for job in app.dead_letters(job_name="sms")]
    data = client.get(f"/jobs/{sms}", params={"format": "json"}).json()
    assert data["runbook"] == {"text": "javascript:alert(1)", "link": None}
    assert 'href="javascript:' not in client.get(f"/jobs/{sms}", headers=HTML).text
    succeeded = next(job.id for job in app.jobs(job_name="notify", status="succeeded"))
    assert client.get(f"/jobs/{succeeded}", params={"format": "json"}).json()["runbook"] is None


def test_the_trace_id_links_to_the_tracing_ui_quoted(make_app: Callable[..., App]) -> None:
    """With a trace link template, the trace id is a link to it, the id URL-quoted."""
    app = make_app()
    odd = "a b/c?d=<e>"
    (job_id,) = app.store.enqueue([NewJob("gone", "default", "{}", 1, trace_id=odd)])
    with TestClient(create_app(app, tokens="", trace_url=TRACES),
                    base_url="http://localhost") as client:
        data = client.get(f"/jobs/{job_id}", params={"format": "json"}).json()
        page = client.get(f"/jobs/{job_id}", headers=HTML).text
    link = "https://tracing.example/trace/" + quote(odd, safe="")
    assert data["trace_link"] == link == "https://tracing.example/trace/a%20b%2Fc%3Fd%3D%3Ce%3E"
    assert f'<a href="{link}" rel="noopener noreferrer">a b/c?d=&lt;e&gt;</a>' in page
    assert data["job_type"] is None  # a type this app does not declare: no links


def test_the_trace_link_template_comes_from_the_environment(
    make_app: Callable[..., App], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without trace_url, $JOBTRAIL_TRACE_URL is the template; with neither, no link."""
    app = make_app()
    (job_id,) = app.store.enqueue([NewJob("gone", "default", "{}", 1, trace_id="abc")])
    monkeypatch.setenv(TRACE_ENV, "http://traces.local/{trace_id}/view")
    with TestClient(create_app(app, tokens=""), base_url="http://localhost") as client:
        assert client.get(f"/jobs/{job_id}", params={"format": "json"}).json()["trace_link"] \
            == "http://traces.local/abc/view"
    monkeypatch.delenv(TRACE_ENV)
    with TestClient(create_app(app, tokens=""), base_url="http://localhost") as client:
        data = client.get(f"/jobs/{job_id}", params={"format": "json"}).json()
        assert data["trace_link"] is None and data["job"]["trace_id"] == "abc"


@pytest.mark.parametrize("template", [
    "javascript:alert(1)//{trace_id}", "data:text/html,{trace_id}", "ftp://files.example/{trace_id}",
    "/trace/{trace_id}", "https://tracing.example/trace", "https:///{trace_id}",
    "https://tracing.example/ {trace_id}",
])
def test_a_trace_url_that_is_not_an_http_template_is_refused(
    make_app: Callable[..., App], monkeypatch: pytest.MonkeyPatch, template: str,
) -> None:
    """Only an http(s) address holding {trace_id} is a trace link template: any other is
    a ValueError, given or from the environment."""
    app = make_app()
    with pytest.raises(ValueError, match="trace URL"):
        create_app(app, trace_url=template)
    monkeypatch.setenv(TRACE_ENV, template)
    with pytest.raises(ValueError, match="trace URL"):
        create_app(app)


def test_no_trace_link_without_a_template_or_a_trace_id() -> None:
    """A job with no trace id, or a dashboard with no template, shows no link."""
    assert trace_link(None, "abc") is None and trace_link(TRACES, None) is None
    assert trace_template("") is None
