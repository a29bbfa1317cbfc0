"""Replaying and discarding several dead letters at once from the dead-letter page, and
resolving an uncertain effect from a job's page, on both backends."""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.testclient import TestClient

from jobtrail import App
from jobtrail.dashboard.bulk import MAX_IDS
from jobtrail.records import Status
from tests.dashboard.conftest import Shop, begun, uncertain
from tests.dashboard.test_auth import HTML, bearer, csrf_of

HTMX = {"accept": "text/html", "hx-request": "true"}


def actors_of(app: App, job_id: int, name: str) -> list[str]:
    """The actors of the job's events called *name*."""
    return [str(event.attrs.get("actor")) for event in app.events(job_id) if event.name == name]


def logged_in(client: TestClient, token: str) -> str:
    """Log *client* in with *token*; the CSRF value of its session."""
    assert client.post("/login", data={"token": token}, follow_redirects=False).status_code == 303
    return csrf_of(client.get("/dead", headers=HTML).text)


def test_an_operator_replays_several_dead_letters_each_reported_and_audited(
        shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """Two dead letters and a succeeded job: the dead ones are queued again, each replayed
    event naming the operator; the succeeded one is refused, with why, and left as it is."""
    token = shop.app.tokens.create("alice", "operator")
    client = client_for(shop.app)
    answer = client.post("/dead/replay", params={"format": "json"}, headers=bearer(token),
                         data={"ids": [str(shop.dead), str(shop.succeeded), str(shop.hostile)]})
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert (data["action"], data["actor"], data["done"], data["refused"]) == (
        "replay", "token:alice", 2, 1)
    assert [(r["id"], r["result"], r["status"]) for r in data["results"]] == [
        (shop.dead, "done", "queued"), (shop.succeeded, "status", "succeeded"),
        (shop.hostile, "done", "queued")]
    refused = data["results"][1]
    assert refused["ok"] is False and f"cannot replay job {shop.succeeded}: it is succeeded" in refused["message"]
    for job_id in (shop.dead, shop.hostile):
        assert shop.app.get(job_id).status is Status.QUEUED
        assert actors_of(shop.app, job_id, "replayed") == ["token:alice"]
    assert shop.app.get(shop.succeeded).status is Status.SUCCEEDED
    assert actors_of(shop.app, shop.succeeded, "replayed") == []


def test_the_page_form_discards_the_jobs_checked(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """The dead-letter page has a checkbox per job (of the bulk form, outside the rows'
    own forms) and the two buttons; posting it with the session's CSRF value discards the
    jobs checked and answers with a page saying what became of each."""
    token = shop.app.tokens.create("bob", "operator")
    client = client_for(shop.app)
    csrf = logged_in(client, token)
    page = client.get("/dead", headers=HTML).text
    for job_id in (shop.dead, shop.hostile):
        assert f'<input type="checkbox" name="ids" value="{job_id}" form="bulk"' in page
    assert 'formaction="/dead/replay"' in page and 'formaction="/dead/discard"' in page
    bulk_form = re.search(r'<form method="post" action="/dead/replay" id="bulk".*?</form>', page, re.S)
    assert bulk_form is not None and "<form" not in bulk_form.group(0)[5:]
    answer = client.post("/dead/discard", data={"csrf": csrf, "ids": [str(shop.dead), str(shop.hostile)]},
                         headers=HTML)
    assert answer.status_code == 200 and "Discarded 2 of 2 jobs" in answer.text
    assert "<html" in answer.text and 'href="/dead"' in answer.text
    for job_id in (shop.dead, shop.hostile):
        assert shop.app.get(job_id).status is Status.CANCELLED
        assert actors_of(shop.app, job_id, "discarded") == ["token:bob"]
    assert client.get("/dead", params={"format": "json"}).json()["jobs"] == []


def test_a_job_with_an_uncertain_effect_is_refused_with_why(
        shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """Among the jobs replayed, one whose effect may have happened is refused (uncertain),
    its message naming the effect and the page pointing to where to resolve it; the other
    is replayed."""
    blocked = uncertain(shop.app)
    token = shop.app.tokens.create("alice", "operator")
    client = client_for(shop.app)
    data = client.post("/dead/replay", params={"format": "json"}, headers=bearer(token),
                       data={"ids": [str(blocked), str(shop.dead)]}).json()
    assert [(r["id"], r["result"]) for r in data["results"]] == [(blocked, "uncertain"), (shop.dead, "done")]
    assert "effect 'charge'" in data["results"][0]["message"]
    assert shop.app.get(blocked).status is Status.DEAD
    page = client.post("/dead/replay", headers={**bearer(token), **HTML},
                       data={"ids": [str(blocked)]}).text
    assert "Replayed 0 of 1 job; 1 refused" in page
    assert f'resolve it on <a href="/jobs/{blocked}">' in page


def test_a_viewer_cannot_act_on_several_jobs(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """A viewer's bulk replay and discard are 403 naming the role needed; the jobs stay
    dead and no event is written."""
    token = shop.app.tokens.create("viewer1", "viewer")
    client = client_for(shop.app)
    for verb in ("replay", "discard"):
        refused = client.post(f"/dead/{verb}", params={"format": "json"}, headers=bearer(token),
                              data={"ids": [str(shop.dead), str(shop.hostile)]})
        assert refused.status_code == 403 and "operator" in refused.json()["message"], verb
    for job_id in (shop.dead, shop.hostile):
        assert shop.app.get(job_id).status is Status.DEAD
        assert actors_of(shop.app, job_id, "replayed") == actors_of(shop.app, job_id, "discarded") == []


def test_bulk_actions_with_the_cookie_need_the_csrf_value(
        shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """With a session cookie, a bulk replay or discard without the CSRF value, or with a
    wrong one, is a 403 that changes nothing."""
    token = shop.app.tokens.create("bob", "operator")
    with_tokens = client_for(shop.app)
    logged_in(with_tokens, token)
    for verb in ("replay", "discard"):
        for data in ({"ids": str(shop.dead)}, {"ids": str(shop.dead), "csrf": "forged"}):
            assert with_tokens.post(f"/dead/{verb}", data=data).status_code == 403, (verb, data)
    assert shop.app.get(shop.dead).status is Status.DEAD


def test_bulk_actions_without_tokens_need_the_csrf_value(
        shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """With no token configured, a bulk POST from elsewhere (no CSRF value) is refused; the
    page's own form works and is recorded as the OS user."""
    client = client_for(shop.app)
    assert client.post("/dead/replay", data={"ids": str(shop.dead)}).status_code == 403
    assert shop.app.get(shop.dead).status is Status.DEAD
    csrf = csrf_of(client.get("/dead", headers=HTML).text)
    done = client.post("/dead/replay", data={"ids": str(shop.dead), "csrf": csrf}, headers=HTML)
    assert done.status_code == 200 and "Replayed 1 of 1 job." in done.text
    (actor,) = actors_of(shop.app, shop.dead, "replayed")
    assert actor.startswith("os:")


def test_at_most_500_ids_a_request(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """500 ids are acted on (the unknown ones reported not found); 501, or thousands, are a
    400 saying the limit, and nothing is replayed."""
    token = shop.app.tokens.create("alice", "operator")
    client = client_for(shop.app)
    unknown = [str(100_000 + n) for n in range(MAX_IDS + 1000)]
    for count in (MAX_IDS + 1, MAX_IDS + 1000):
        refused = client.post("/dead/replay", params={"format": "json"}, headers=bearer(token),
                              data={"ids": [str(shop.dead), *unknown[:count - 1]]})
        assert refused.status_code == 400, count
        assert f"at most {MAX_IDS} jobs a request" in refused.json()["message"]
    assert shop.app.get(shop.dead).status is Status.DEAD
    done = client.post("/dead/replay", params={"format": "json"}, headers=bearer(token),
                       data={"ids": [str(shop.dead), *unknown[:MAX_IDS - 1]]}).json()
    assert len(done["results"]) == MAX_IDS and done["done"] == 1
    assert {r["result"] for r in done["results"][1:]} == {"not_found"}
    assert shop.app.get(shop.dead).status is Status.QUEUED


def test_no_ids_or_a_bad_one_is_a_400(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """Nothing checked, or an id that is not one, is a 400 naming ids; nothing changes."""
    token = shop.app.tokens.create("alice", "operator")
    client = client_for(shop.app)
    for data, words in (({}, "select at least one job"),
                        ({"ids": [str(shop.dead), "1; DROP TABLE"]}, "is not a job id"),
                        ({"ids": ""}, "is not a job id")):
        answer = client.post("/dead/discard", params={"format": "json"}, headers=bearer(token), data=data)
        assert answer.status_code == 400 and words in answer.json()["message"], (data, answer.text)
    assert shop.app.get(shop.dead).status is Status.DEAD


def test_htmx_gets_the_result_as_a_fragment_and_the_list_reloads(
        shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """A bulk action made by htmx answers with the results alone (no page around them) and
    tells the page to reload its list; a refusal comes as a fragment too."""
    token = shop.app.tokens.create("alice", "operator")
    client = client_for(shop.app)
    answer = client.post("/dead/replay", headers={**bearer(token), **HTMX}, data={"ids": str(shop.dead)})
    assert answer.status_code == 200 and answer.headers["hx-trigger"] == "dead-changed"
    assert "<html" not in answer.text and "Replayed 1 of 1 job." in answer.text
    page = client.get("/dead", headers={**bearer(token), **HTML}).text
    assert 'hx-trigger="dead-changed from:body"' in page and 'hx-select="#dead-list"' in page
    viewer = shop.app.tokens.create("viewer1", "viewer")
    refused = client.post("/dead/replay", headers={**bearer(viewer), **HTMX}, data={"ids": str(shop.hostile)})
    assert refused.status_code == 403 and "<html" not in refused.text
    assert refused.text.startswith('<p class="problem">403: forbidden:')
    assert "hx-trigger" not in refused.headers


def test_an_operator_resolves_an_uncertain_effect_then_replays(
        shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """The job page offers the resolve form for the uncertain effect; resolving it as done
    with a result records the verdict and the operator on the trail, and the job may then
    be replayed."""
    blocked = uncertain(shop.app)
    token = shop.app.tokens.create("carol", "operator")
    client = client_for(shop.app)
    csrf = logged_in(client, token)
    data = client.get(f"/jobs/{blocked}", params={"format": "json"}).json()
    assert data["resolvable"] == ["charge"]
    page = client.get(f"/jobs/{blocked}", headers=HTML).text
    assert f'action="/jobs/{blocked}/effects/charge/resolve"' in page and "(uncertain)" in page
    assert client.get(f"/jobs/{shop.dead}", params={"format": "json"}).json()["resolvable"] == []
    done = client.post(f"/jobs/{blocked}/effects/charge/resolve", follow_redirects=False,
                       data={"csrf": csrf, "outcome": "done", "result": '{"charge_id": "ch_9"}'})
    assert done.status_code == 303 and done.headers["location"] == f"/jobs/{blocked}"
    (effect,) = shop.app.effects(blocked)
    assert (effect.status, effect.result) == ("done", '{"charge_id": "ch_9"}')
    assert actors_of(shop.app, blocked, "effect_resolved") == ["token:carol"]
    assert client.get(f"/jobs/{blocked}", params={"format": "json"}).json()["resolvable"] == []
    replayed = client.post("/dead/replay", params={"format": "json"},
                           data={"csrf": csrf, "ids": str(blocked)}).json()
    assert replayed["results"][0]["result"] == "done"


def test_resolving_is_refused_when_it_should_be(
        shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """A viewer (403), no CSRF value with the cookie (403), an unknown outcome, a result
    with not_done or one that is not JSON (400), an unknown effect (404), an effect already
    resolved or of a running job (409): each changes nothing."""
    blocked = uncertain(shop.app)
    running, _, _ = begun(shop.app, 8)
    viewer = shop.app.tokens.create("viewer1", "viewer")
    operator = shop.app.tokens.create("alice", "operator")
    client = client_for(shop.app)
    url = f"/jobs/{blocked}/effects/charge/resolve"

    def post(path: str, token: str, **form: str) -> tuple[int, str]:
        answer = client.post(path, params={"format": "json"}, headers=bearer(token), data=form)
        return answer.status_code, answer.json().get("message", "")

    assert post(url, viewer, outcome="done")[0] == 403
    assert post(url, operator, outcome="maybe") == (400, "outcome: 'done' (the effect happened) or 'not_done' (it did not)")
    assert post(url, operator, outcome="not_done", result="1")[0] == 400
    status, message = post(url, operator, outcome="done", result="{nope")
    assert status == 400 and message.startswith("result: not valid JSON")
    for hostile in ("NaN", "[Infinity]", "[" * 5000):  # not JSON; nested past the parser
        status, message = post(url, operator, outcome="done", result=hostile)
        assert status == 400 and message.startswith("result: not valid JSON"), hostile
    status, message = post(f"/jobs/{blocked}/effects/refund/resolve", operator, outcome="done")
    assert status == 404 and "has no effect named 'refund'" in message
    status, message = post(f"/jobs/{running}/effects/charge/resolve", operator, outcome="not_done")
    assert status == 409 and "is running" in message
    assert [e.status for e in shop.app.effects(blocked)] == ["started"]
    assert [e.status for e in shop.app.effects(running)] == ["started"]
    cookie = client_for(shop.app)
    logged_in(cookie, operator)
    assert cookie.post(url, data={"outcome": "not_done"}).status_code == 403
    assert [e.status for e in shop.app.effects(blocked)] == ["started"]
    assert post(url, operator, outcome="done", result='"ch_by_hand"')[0] == 200
    status, message = post(url, operator, outcome="not_done")
    assert status == 409 and "is already done" in message
    assert actors_of(shop.app, blocked, "effect_resolved") == ["token:alice"]
