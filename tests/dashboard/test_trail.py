"""The audit page's entries of the trail: newest first, paged by id, masked as the jobs'
own views are."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from jobtrail import App
from jobtrail.audit.sealing import seal_all
from jobtrail.dashboard.trail import ENTRIES
from tests.dashboard.conftest import CARD, HOSTILE_NOTE, Shop
from tests.support import rawsql

HTML = {"accept": "text/html"}


def test_entries_are_the_trail_newest_first_with_their_jobs(
        shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """The sealed entries come newest first, each naming its job, its kind and name."""
    seal_all(shop.app.store)
    data = client_for(shop.app).get("/audit", params={"format": "json"}).json()
    ids = [entry["id"] for entry in data["entries"]]
    assert ids == sorted(ids, reverse=True) and ids[0] == int(data["head"]["through"])
    jobs = {entry["job_id"] for entry in data["entries"]}
    assert {shop.succeeded, shop.dead, shop.hostile} <= jobs
    assert any(entry["name"] == "enqueued" and entry["attrs"]["payload_sha256"]
               for entry in data["entries"])


def test_a_sensitive_value_is_masked_and_a_hostile_one_is_text(
        shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """The card of a job declaring it sensitive never shows; a hostile note shows as text."""
    seal_all(shop.app.store)
    client = client_for(shop.app)
    page = client.get("/audit", headers=HTML).text
    twin = client.get("/audit", params={"format": "json"}).text
    assert CARD not in page and CARD not in twin
    assert "<script>alert(1)</script>" not in page
    assert "[redacted]" in twin or HOSTILE_NOTE not in twin


def test_entries_page_by_id_to_the_first(
        make_app: Callable[..., App], client_for: Callable[..., TestClient]) -> None:
    """More entries than a page: the older link goes on from below the first id shown, to
    the first entry, and no page repeats one."""
    app = make_app()
    job = app.job(name="noop")(lambda n: n)
    job.enqueue_many([{"n": n} for n in range(ENTRIES + 10)])
    seal_all(app.store)
    client = client_for(app)
    seen: list[int] = []
    query: dict[str, str] = {"format": "json"}
    while True:
        data = client.get("/audit", params=query).json()
        seen += [entry["id"] for entry in data["entries"]]
        if data["next_before"] is None:
            break
        query = {"format": "json", "before": str(data["next_before"])}
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen))
    assert seen[-1] == 1 and len(seen) >= ENTRIES + 10


def test_an_entry_of_a_pruned_job_shows_no_value(
        shop: Shop, client_for: Callable[..., TestClient], db_url: str) -> None:
    """An entry whose job is no longer stored shows its attributes masked whole: what was
    sensitive in them can no longer be told."""
    seal_all(shop.app.store)
    rawsql.execute(db_url, f"DELETE FROM jobtrail_jobs WHERE id = {shop.dead}")
    data = client_for(shop.app).get("/audit", params={"format": "json"}).json()
    theirs = [entry for entry in data["entries"] if entry["job_id"] == shop.dead]
    assert theirs and all(entry["attrs"] in (None, "[redacted]") for entry in theirs)


def test_a_cursor_that_is_not_an_id_is_a_400(
        shop: Shop, client_for: Callable[..., TestClient]) -> None:
    """?before= must be an entry id."""
    answer = client_for(shop.app).get("/audit", params={"before": "x", "format": "json"})
    assert answer.status_code == 400 and "before" in answer.json()["message"]
