"""The divergences page (counts by job and kind, newest first, paged by keyset) and the
rules page (each rule's report with the entities that broke it), as HTML and JSON, from
real runs on both backends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from jobtrail import App
from jobtrail.dashboard.pages import PAGE_SIZE
from jobtrail.paths_api import DIVERGENCE_KINDS
from jobtrail.testing import run_until_idle
from tests.dashboard.billing import HOSTILE, Billing, run_billing

HTML = {"accept": "text/html"}
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def billing(make_app: Callable[..., App]) -> Billing:
    """Billing run under two versions, with a hostile job, on the backend under test."""
    return run_billing(make_app)


def json_of(client: TestClient, path: str, **params: str) -> dict[str, Any]:
    """The JSON twin of *path*, which must answer 200."""
    answer = client.get(path, params={**params, "format": "json"})
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def test_divergences_are_counted_by_job_and_kind_and_listed_newest_first(
        billing: Billing, client_for: Callable[..., TestClient]) -> None:
    """The counts group by (job, kind); the list is newest first, each divergence linking
    to its job's page, and narrows by job and by kind."""
    client = client_for(billing.app)
    data = json_of(client, "/divergences")
    counts = {(c["job_name"], c["kind"]): c["count"] for c in data["counts"]}
    assert counts[("bill", "unexpected")] == 3
    assert {job for job, _ in counts} == {"bill", HOSTILE}
    assert data["counted"] == sum(counts.values()) == len(data["divergences"])
    ids = [d["id"] for d in data["divergences"]]
    assert ids == sorted(ids, reverse=True)
    bills = json_of(client, "/divergences", job="bill")
    audited = {billing.bills[n] for n in (8, 10, 12)}
    assert {d["job_id"] for d in bills["divergences"]} == audited
    assert all(d["found"] == "audit" for d in bills["divergences"])
    assert [(c["job_name"], c["kind"]) for c in bills["counts"]] == [("bill", "unexpected")]
    kinds = {c["kind"] for c in json_of(client, "/divergences", kind="unexpected")["counts"]}
    assert kinds == {"unexpected"}
    assert json_of(client, "/divergences", kind="missing", job="bill")["divergences"] == []
    page = client.get("/divergences", params={"job": "bill"}, headers=HTML).text
    for job_id in audited:
        assert f'href="/jobs/{job_id}"' in page


def test_divergences_are_paged_by_a_keyset_cursor(
        billing: Billing, client_for: Callable[..., TestClient]) -> None:
    """Past a page of divergences, the next one is read below the last id shown
    (``?before=ID``), with the filters kept, and the pages neither overlap nor skip."""
    billing.app.registry[HOSTILE].enqueue_many([{"note": str(n)} for n in range(PAGE_SIZE)])
    run_until_idle(billing.app)
    client = client_for(billing.app)
    first = json_of(client, "/divergences", job=HOSTILE)
    shown = first["divergences"]
    assert len(shown) == PAGE_SIZE and first["next_before"] == shown[-1]["id"]
    assert first["next_page"] == f"?job=%3Cscript%3Ealert%281%29%3C%2Fscript%3E&before={shown[-1]['id']}"
    second = json_of(client, "/divergences", job=HOSTILE, before=str(first["next_before"]))
    ids = [d["id"] for d in shown + second["divergences"]]
    assert ids == sorted(set(ids), reverse=True)
    total = sum(c["count"] for c in first["counts"])
    assert total > PAGE_SIZE and len(ids) == min(total, 2 * PAGE_SIZE)
    html = client.get("/divergences", params={"job": HOSTILE}, headers=HTML).text
    assert f'rel="next" href="/divergences{first["next_page"].replace("&", "&amp;")}"' in html
    last = json_of(client, "/divergences", before=str(min(ids)))
    assert all(d["id"] < min(ids) for d in last["divergences"])


def test_hostile_divergence_messages_and_names_are_text(
        billing: Billing, client_for: Callable[..., TestClient]) -> None:
    """A divergence naming a hostile step, of a job with a hostile name, shows as text on
    the page, and as it is in JSON."""
    client = client_for(billing.app)
    page = client.get("/divergences", headers=HTML).text
    assert "<script>" not in page and ESCAPED in page
    data = json_of(client, "/divergences", job=HOSTILE)
    assert data["divergences"] and all(d["job_name"] == HOSTILE for d in data["divergences"])
    assert any(HOSTILE in d["message"] for d in data["divergences"])


def test_bad_divergence_filters_are_a_400(
        billing: Billing, client_for: Callable[..., TestClient]) -> None:
    """An unknown kind is a 400 listing the kinds; a cursor that is not an id, or a job
    name too long, is a 400 naming the parameter."""
    client = client_for(billing.app)
    for params, words in (({"kind": "weird"}, f"choose one of {', '.join(DIVERGENCE_KINDS)}"),
                          ({"before": "abc"}, "before: 'abc' is not a divergence id"),
                          ({"before": "0"}, "before: '0' is not a divergence id"),
                          ({"job": "j" * 201}, "job: at most 200 characters")):
        answer = client.get("/divergences", params={**params, "format": "json"})
        assert answer.status_code == 400 and words in answer.json()["message"], answer.text
        assert client.get("/divergences", params=params, headers=HTML).status_code == 400


def test_the_rules_page_names_the_entities_that_broke_each_rule(
        billing: Billing, client_for: Callable[..., TestClient]) -> None:
    """Each declared rule shows how many occurrences were checked, kept and broken, and the
    breaking entities newest first, each linking to its job."""
    client = client_for(billing.app)
    data = json_of(client, "/rules")
    rules = {rule["rule"]: rule for rule in data["rules"]}
    receipts = rules["bills are receipted"]
    assert (receipts["checked"], receipts["kept"], receipts["pending"],
            receipts["broken_count"]) == (10, 4, 0, 6)
    unreceipted = [billing.bills[n] for n in (10, 8, 7, 4, 2, 1)]
    assert [b["job_id"] for b in receipts["broken"]] == unreceipted
    assert [b["entity"] for b in receipts["broken"]] == [str(i) for i in unreceipted]
    assert receipts["description"] == ("every bill succeeded is followed by receipt enqueued "
                                       "within 0.001 s")
    hostile = rules[f"{HOSTILE} is closed"]
    assert [(b["entity"], b["job_id"]) for b in hostile["broken"]] == [(HOSTILE, billing.hostile)]
    page = client.get("/rules", headers=HTML).text
    assert "<script>" not in page and ESCAPED in page
    for job_id in unreceipted:
        assert f'href="/jobs/{job_id}"' in page


def test_rules_are_checked_since_a_time_and_bad_times_are_a_400(
        billing: Billing, client_for: Callable[..., TestClient]) -> None:
    """?since= checks only what happened since then, and each report says from when; a time
    that is not one is a 400."""
    client = client_for(billing.app)
    since = billing.deployed.isoformat()
    data = json_of(client, "/rules", since=since)
    (receipts,) = [rule for rule in data["rules"] if rule["rule"] == "bills are receipted"]
    assert (receipts["checked"], receipts["since"]) == (5, since)
    answer = client.get("/rules", params={"since": "soon", "format": "json"})
    assert answer.status_code == 400 and "since: 'soon' is not a time" in answer.json()["message"]


def test_an_app_without_rules_says_so(
        make_app: Callable[..., App], client_for: Callable[..., TestClient]) -> None:
    """With no rule declared, the rules page says how to declare one, and no page of the
    paths pages fails on an empty store."""
    client = client_for(make_app())
    assert json_of(client, "/rules")["rules"] == []
    assert "declares no rule" in client.get("/rules", headers=HTML).text
    assert json_of(client, "/paths")["jobs"] == []
    assert json_of(client, "/divergences")["divergences"] == []
