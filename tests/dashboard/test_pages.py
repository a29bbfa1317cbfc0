"""Each page of the dashboard, as HTML and as its JSON twin, on both backends."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from jobtrail import App
from jobtrail.dashboard.pages import PAGE_SIZE, RECENT_SEALS
from jobtrail.store.glance import HISTORY_BUCKETS
from tests.dashboard.conftest import HOSTILE_QUEUE, Shop
from tests.support import rawsql

HTML = {"accept": "text/html"}
PAGES = ["/", "/jobs", "/jobs/1", "/dead", "/audit", "/flows", "/flows/charge", "/catalog",
         "/catalog/charge"]


def test_every_page_renders_and_has_a_json_twin(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """Every page answers 200 with HTML, and ?format=json answers 200 with JSON."""
    client = client_for(shop.app)
    for path in PAGES:
        page = client.get(path, headers=HTML)
        assert page.status_code == 200, (path, page.text)
        assert page.headers["content-type"].startswith("text/html")
        twin = client.get(path, params={"format": "json"})
        assert twin.status_code == 200, (path, twin.text)
        assert twin.headers["content-type"] == "application/json"
        assert isinstance(twin.json(), dict)


def test_overview_shows_each_queue_at_a_glance(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """The overview shows each queue's jobs ended and failed, its dead letters and the
    health checks."""
    client = client_for(shop.app)
    data = client.get("/", params={"format": "json"}).json()
    queues = {queue["queue"]: queue for queue in data["queues"]}
    assert queues["default"]["window_ended"] == 2 and queues["default"]["window_failed"] == 1
    assert queues["default"]["dead"] == 1 and sum(queues["default"]["ended"]) == 2
    assert queues[HOSTILE_QUEUE]["dead"] == 1 and queues[HOSTILE_QUEUE]["ready"] == 0
    assert len(queues["default"]["ended"]) == HISTORY_BUCKETS and not data["truncated"]
    assert data["workers"] == [] and "healthy" in data["health"]
    assert len(data["times"]) == HISTORY_BUCKETS and data["times"] == sorted(data["times"])
    page = client.get("/", headers=HTML).text
    assert "default" in page and page.count('class="sparkline"') == 2 * len(queues)


def test_jobs_list_filters_by_status_queue_and_job(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """The jobs list narrows by status, queue and job type, newest first."""
    client = client_for(shop.app)

    def ids(**params: str) -> list[int]:
        answer = client.get("/jobs", params={**params, "format": "json"})
        assert answer.status_code == 200, answer.text
        return [job["id"] for job in answer.json()["jobs"]]

    assert ids() == [shop.hostile, shop.dead, shop.succeeded]
    assert ids(status="dead") == [shop.hostile, shop.dead]
    assert ids(queue=HOSTILE_QUEUE) == [shop.hostile]
    assert ids(job="charge", status="succeeded") == [shop.succeeded]
    assert ids(queue="nowhere") == []


def test_search_by_id_goes_to_the_job(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """?id=N on the jobs list sends the browser to job N's page."""
    client = client_for(shop.app)
    found = client.get("/jobs", params={"id": str(shop.dead)}, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == f"/jobs/{shop.dead}"


def test_search_by_idempotency_key_goes_to_the_job_that_holds_it(
        make_app: Callable[..., App], client_for: Callable[..., TestClient]) -> None:
    """?key=K sends the browser to the job holding idempotency key K, even a hostile key;
    a key no job holds is a 404 naming it as text, a key too long a 400."""
    app = make_app()
    job = app.job(name="noop")(lambda n: n)
    hostile = '<script>alert("k")</script>'
    held = job.enqueue(n=1, idempotency_key=hostile).id
    client = client_for(app)
    found = client.get("/jobs", params={"key": hostile}, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == f"/jobs/{held}"
    missing = client.get("/jobs", params={"key": "<b>nobody</b>"}, headers=HTML)
    assert missing.status_code == 404 and "&lt;b&gt;nobody&lt;/b&gt;" in missing.text
    assert "<b>nobody</b>" not in missing.text
    long = client.get("/jobs", params={"key": "k" * 256, "format": "json"})
    assert long.status_code == 400 and "idempotency key" in long.json()["message"]


def test_bad_filters_are_a_400_saying_what_is_wrong(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """An unknown status, a cursor or id that is not a job id: 400 naming the parameter."""
    client = client_for(shop.app)
    for params, words in (({"status": "sleeping"}, "status: 'sleeping' is not a status"),
                          ({"before": "abc"}, "before: 'abc' is not a job id"),
                          ({"before": "0"}, "before: '0' is not a job id"),
                          ({"id": "1; DROP"}, "id: '1; DROP' is not a job id")):
        answer = client.get("/jobs", params={**params, "format": "json"})
        assert answer.status_code == 400 and words in answer.json()["message"], answer.text
        page = client.get("/jobs", params=params, headers=HTML)
        assert page.status_code == 400 and "bad request" in page.text
    assert client.get("/jobs/abc", params={"format": "json"}).status_code == 400


def test_job_page_shows_timeline_error_and_effects(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """The job page shows its status, attempts, the path as a timeline, its error and its
    effects with key and state."""
    client = client_for(shop.app)
    data = client.get(f"/jobs/{shop.dead}", params={"format": "json"}).json()
    assert data["job"]["status"] == "dead" and data["job"]["attempts"] == 1
    kinds = [(event["kind"], event["name"]) for event in data["events"]]
    assert ("step", "check") in kinds and ("effect", "charge") in kinds
    assert ("lifecycle", "dead") in kinds
    assert [effect["key"] for effect in data["effects"]] == ["charge-2-[redacted]"]
    assert data["job"]["trace_id"]
    page = client.get(f"/jobs/{shop.dead}", headers=HTML).text
    for shown in ("Timeline", "check", "Effects", "charge-2-[redacted]", "Permanent",
                  data["job"]["trace_id"]):
        assert shown in page, shown


def test_unknown_job_is_a_404_page(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """A job id nobody has: 404, as a page and as JSON."""
    client = client_for(shop.app)
    page = client.get("/jobs/999", headers=HTML)
    assert page.status_code == 404 and "not found" in page.text
    assert client.get("/jobs/999", params={"format": "json"}).json()["status"] == 404
    assert client.get("/nowhere", headers=HTML).status_code == 404


def test_dead_letters_lists_dead_jobs_with_actions(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """The dead-letter page lists the dead jobs, each with replay and discard forms."""
    client = client_for(shop.app)
    data = client.get("/dead", params={"format": "json"}).json()
    assert [job["id"] for job in data["jobs"]] == [shop.hostile, shop.dead]
    page = client.get("/dead", headers=HTML).text
    assert f'action="/jobs/{shop.dead}/replay"' in page
    assert f'action="/jobs/{shop.dead}/discard"' in page


def test_audit_page_shows_the_head_and_the_verdict(shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """The audit page gives the head seal and says the sealed trail is intact."""
    from jobtrail.audit.sealing import seal_all

    seal_all(shop.app.store)
    client = client_for(shop.app)
    data = client.get("/audit", params={"format": "json"}).json()
    assert data["ok"] is True and data["problem"] is None
    assert data["head"]["seq"] >= 1 and data["events"] >= 1
    assert "Intact" in client.get("/audit", headers=HTML).text


def test_audit_page_verifies_the_newest_seals_only(
        make_app: Callable[..., App], client_for: Callable[..., TestClient], db_url: str) -> None:
    """On a trail of more seals than the page checks, an event altered in an old seal is
    left to ``jobtrail audit verify`` (the page says how far it looked), one altered in a
    new seal is named."""
    from jobtrail.audit.encoding import seal_from_row
    from jobtrail.audit.sealing import seal

    app = make_app()
    job = app.job(name="noop")(lambda n: n)
    for n in range(RECENT_SEALS + 5):
        job.enqueue(n=n)
        assert seal(app.store) is not None
    client = client_for(app)
    intact = client.get("/audit", params={"format": "json"}).json()
    assert intact["ok"] and not intact["whole"] and intact["seals"] == RECENT_SEALS
    old = seal_from_row(app.store.audit_seals(2, 1)[0]).covered[0][0]
    rawsql.execute(db_url, f"UPDATE jobtrail_events SET name = 'x' WHERE id = {old}")
    assert client.get("/audit", params={"format": "json"}).json()["ok"] is True
    new = seal_from_row(app.store.audit_seals(RECENT_SEALS + 4, 1)[0]).covered[0][0]
    rawsql.execute(db_url, f"UPDATE jobtrail_events SET name = 'x' WHERE id = {new}")
    broken = client.get("/audit", params={"format": "json"}).json()
    assert broken["ok"] is False and broken["problem"]["event"] == new


def test_keyset_pages_cover_every_job_once(make_app: Callable[..., App],
                                           client_for: Callable[..., TestClient]) -> None:
    """Three pages, followed by their cursors, hold every job once, newest first."""
    app = make_app()

    @app.job
    def noop(n: int) -> None:
        pass

    wanted = [app.enqueue("noop", n=n).id for n in range(2 * PAGE_SIZE + 7)]
    client = client_for(app)
    seen: list[int] = []
    pages = 0
    params: dict[str, str] = {"format": "json"}
    while True:
        data = client.get("/jobs", params=params).json()
        pages += 1
        seen += [job["id"] for job in data["jobs"]]
        if data["next_before"] is None:
            break
        assert data["next_page"].endswith(f"before={data['next_before']}")
        params = {"format": "json", "before": str(data["next_before"])}
    assert pages == 3
    assert seen == sorted(wanted, reverse=True)
    html = client.get("/jobs", params={"before": str(seen[PAGE_SIZE - 1])}, headers=HTML).text
    assert f"before={seen[2 * PAGE_SIZE - 1]}" in html and "Newest" in html


def test_jobs_narrowed_to_when_they_were_created(
        make_app: Callable[..., App], client_for: Callable[..., TestClient]) -> None:
    """?since= lists the jobs created at or after a time, ?until= those created before it,
    both with the other filters; a time after every job lists none; a bad time is a 400."""
    import time
    from datetime import UTC, datetime

    app = make_app()
    job = app.job(name="noop")(lambda n: n)
    older = [job.enqueue(n=n).id for n in range(3)]
    time.sleep(0.6)
    middle = datetime.now(UTC).isoformat()
    time.sleep(0.6)
    newer = [job.enqueue(n=n).id for n in range(2)]
    client = client_for(app)

    def ids(**params: str) -> list[int]:
        answer = client.get("/jobs", params={**params, "format": "json"})
        assert answer.status_code == 200, answer.text
        return [record["id"] for record in answer.json()["jobs"]]

    assert ids(since=middle) == newer[::-1]
    assert ids(until=middle) == older[::-1]
    assert ids(until=middle, before=str(older[-1])) == older[-2::-1]
    assert ids(since=middle, job="nobody") == [] and ids(since=middle, job="noop") == newer[::-1]
    assert ids(since=middle, until="2999-01-01") == newer[::-1]
    assert ids(since="2999-01-01T00:00:00+00:00") == []
    assert ids(since="1d") == (older + newer)[::-1]
    bad = client.get("/jobs", params={"since": "yesterday-ish", "format": "json"})
    assert bad.status_code == 400 and bad.json()["message"].startswith("since:")
