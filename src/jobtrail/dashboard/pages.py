"""The pages that read jobs: the jobs, one job, the dead letters; and the audit trail.

Each builds one dictionary of data with the app's own reads (those the command line uses,
masked for the fields jobs declare sensitive), rendered as HTML or returned as JSON
(`rendering.render`). Lists are newest first, a page of `PAGE_SIZE` at a time, and paged
by a keyset cursor: ``?before=ID`` shows the jobs with smaller ids. They never count every
match nor skip rows with OFFSET.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from jobtrail.app import App
from jobtrail.audit.sealing import head_of
from jobtrail.audit.verify import verify
from jobtrail.cli.output import effect_json, event_json, iso, job_json
from jobtrail.cli.times import parse_moment
from jobtrail.dashboard import trail
from jobtrail.dashboard.flows import Flows, job_links
from jobtrail.dashboard.links import http_link, trace_link
from jobtrail.dashboard.rendering import render, root
from jobtrail.dashboard.visits import visit
from jobtrail.errors import JobNotFound
from jobtrail.limits import MAX_JOB_ID, MAX_KEY_LENGTH
from jobtrail.records import JobRecord, Status
from jobtrail.store.base import JobFilter

__all__ = ["CHILDREN", "PAGE_SIZE", "BadRequest", "audit", "dead", "job", "jobs"]

#: How many jobs a page of a list shows.
PAGE_SIZE = 50
#: The longest time a filter may give.
MAX_MOMENT = 64
#: The longest queue or job name a filter may give.
MAX_FILTER = 200
#: How many of a job's children its page lists (the newest; all: ``/jobs?parent=ID``).
CHILDREN = 50
#: The newest seals the audit page verifies (the whole trail: ``jobtrail audit verify``).
RECENT_SEALS = 2
#: The most dead letters one bulk action may act on (`jobtrail.dashboard.bulk`).
MAX_SELECTED = 500


class BadRequest(Exception):
    """A query the page cannot answer (400), with a message saying what is wrong."""


def _app(request: Request) -> App:
    app: App = request.app.state.jobtrail
    return app


# -- query parameters ---------------------------------------------------------------------------
def job_id_of(text: str | None, name: str) -> int | None:
    """A job id given as *name* (``None`` when absent); `BadRequest` when it is not one."""
    if text is None or text == "":
        return None
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_JOB_ID:
        raise BadRequest(f"{name}: {text[:40]!r} is not a job id (a whole number from 1)")
    return int(text)


def _name(request: Request, name: str) -> str | None:
    value = request.query_params.get(name) or None
    if value is not None and len(value) > MAX_FILTER:
        raise BadRequest(f"{name}: at most {MAX_FILTER} characters")
    return value


def moment_param(request: Request, name: str) -> datetime | None:
    """The time given as *name*: an ISO-8601 time or an age such as ``1d`` (``None`` when
    absent); `BadRequest` when it is neither."""
    text = _name(request, name)
    if text is None:
        return None
    if len(text) > MAX_MOMENT:
        raise BadRequest(f"{name}: at most {MAX_MOMENT} characters")
    try:
        return parse_moment(text, datetime.now(UTC)).astimezone(UTC)
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from None
    except OverflowError:  # a zone that takes it past the first or last time there is
        raise BadRequest(f"{name}: {text[:40]!r} is out of the range of times") from None


def first_id_at(app: App, moment: datetime) -> int | None:
    """The id of the first job created at or after *moment*, ``None`` when every job is
    older: ids are given in the order jobs are created, so a bisection of the ids finds
    it in about twenty reads of one row by its id, however many jobs there are."""
    newest = app.store.list_jobs(JobFilter(limit=1))
    if not newest or newest[0].created_at < moment:
        return None
    low, high = 1, newest[0].id
    while low < high:
        middle = (low + high) // 2
        found = app.store.list_jobs(JobFilter(before_id=middle + 1, limit=1))
        if found and found[0].created_at >= moment:
            high = found[0].id
        else:
            low = middle + 1
    return low


def _statuses(request: Request) -> list[Status]:
    found: list[Status] = []
    for text in request.query_params.getlist("status"):
        if not text:
            continue
        try:
            found.append(Status(text))
        except ValueError:
            valid = ", ".join(status.value for status in Status)
            raise BadRequest(f"status: {text[:40]!r} is not a status; choose one of {valid}") \
                from None
    return found


def _page(request: Request, found: list[JobRecord], before: int | None) -> dict[str, Any]:
    """A page of *found* (read with one more than `PAGE_SIZE`), with the query strings of
    the newest page and of the next one (the same filters, another cursor)."""
    shown = found[:PAGE_SIZE]
    more = len(found) > PAGE_SIZE and bool(shown)
    kept = [(key, value) for key, value in request.query_params.multi_items()
            if key != "before" and value]
    next_before = shown[-1].id if more else None
    return {"jobs": [job_json(record) for record in shown], "before": before,
            "next_before": next_before,
            "first_page": "?" + urlencode(kept),
            "next_page": None if next_before is None
            else "?" + urlencode([*kept, ("before", str(next_before))])}


# -- pages ----------------------------------------------------------------------------------------
def jobs(request: Request) -> Response:
    """``/jobs``: jobs newest first, by status, queue, job type, parent (``?parent=N``:
    the jobs job N enqueued) and when they were created (``?since=``, ``?until=``: an
    ISO-8601 time or an age such as ``1d``); ``?id=N`` goes to job N, ``?key=K`` to the
    job that holds idempotency key K (404 when none does)."""
    current = visit(request)
    wanted = job_id_of(request.query_params.get("id"), "id")
    key = request.query_params.get("key") or None
    if key is not None:
        if len(key) > MAX_KEY_LENGTH:
            raise BadRequest(f"key: an idempotency key has at most {MAX_KEY_LENGTH} "
                             "characters")
        wanted = _app(request).store.job_id_by_key(key)
        if wanted is None:
            raise JobNotFound(f"no job holds the idempotency key {key!r}")
    if wanted is not None:
        suffix = "?format=json" if request.query_params.get("format") == "json" else ""
        return RedirectResponse(f"{root(request)}/jobs/{wanted}{suffix}", status_code=303)
    statuses, queue, job_name = _statuses(request), _name(request, "queue"), _name(request, "job")
    before = job_id_of(request.query_params.get("before"), "before")
    parent = job_id_of(request.query_params.get("parent"), "parent")
    since, until = moment_param(request, "since"), moment_param(request, "until")
    app = _app(request)
    # A time is a range of ids: created before `until` is below the first id created at
    # or after it; created since `since` is from the first id created at or after it.
    upper = None if until is None else first_id_at(app, until)
    lower = None if since is None else first_id_at(app, since)
    bound = min((edge for edge in (before, upper) if edge is not None), default=None)
    found = [] if since is not None and lower is None else app.jobs(
        status=statuses or None, queue=queue, job_name=job_name, limit=PAGE_SIZE + 1,
        before_id=bound, parent_id=parent, from_id=lower)
    data = {"filters": {"status": [s.value for s in statuses], "queue": queue, "job": job_name,
                        "parent": parent, "since": None if since is None else iso(since),
                        "until": None if until is None else iso(until)},
            **_page(request, found, before), "statuses": [s.value for s in Status]}
    return render(request, "jobs.html", data, current)


def job(request: Request) -> Response:
    """``/jobs/{id}``: one job, its path as a timeline, its error and effects (404 when
    there is none); ``resolvable`` names its uncertain effects (begun, never ended, the
    job not running), each with the form that records what happened."""
    current = visit(request)
    job_id = job_id_of(request.path_params["job_id"], "job id")
    assert job_id is not None
    app = _app(request)
    record = app.get(job_id)
    effects = app.effects(job_id)
    last = {effect.name: effect for effect in effects}
    resolvable = [] if record.status is Status.RUNNING else sorted(
        name for name, effect in last.items() if effect.status == "started")
    children = app.jobs(parent_id=job_id, limit=CHILDREN + 1)
    data = {"job": job_json(record), "events": [event_json(event) for event in record.path],
            "effects": [effect_json(effect) for effect in effects], "resolvable": resolvable,
            "children": [job_json(child) for child in children[:CHILDREN]],
            "more_children": len(children) > CHILDREN,
            "children_page": "/jobs?" + urlencode({"parent": job_id}),
            "trace_link": trace_link(request.app.state.trace_url, record.trace_id),
            **_job_type(request, record)}
    return render(request, "job.html", data, current)


def _job_type(request: Request, record: JobRecord) -> dict[str, Any]:
    """What the job page says of the job's type: links to its pages (none for a type the
    app no longer declares), and for a dead letter, its runbook."""
    definition = _app(request).registry.get(record.job_name)
    if definition is None:
        return {"job_type": None, "runbook": None}
    links = job_links(request, record.job_name)
    flows: Flows = request.app.state.flows
    if record.job_name not in flows.names():
        links["flow"] = None
    runbook = definition.catalog.runbook
    dead = record.status in (Status.DEAD, Status.ORPHANED)
    return {"job_type": links,
            "runbook": {"text": runbook, "link": http_link(runbook)}
            if dead and runbook else None}


def dead(request: Request) -> Response:
    """``/dead``: the dead-letter queue (dead and orphaned jobs), newest first, by queue and
    job type, each with its replay and discard buttons and a checkbox for the buttons that
    replay or discard the jobs checked."""
    current = visit(request)
    queue, job_name = _name(request, "queue"), _name(request, "job")
    before = job_id_of(request.query_params.get("before"), "before")
    found = _app(request).dead_letters(limit=PAGE_SIZE + 1, before_id=before, queue=queue,
                                       job_name=job_name)
    data = {"filters": {"queue": queue, "job": job_name}, **_page(request, found, before),
            "max_selected": MAX_SELECTED}
    return render(request, "dead.html", data, current)


def audit(request: Request) -> Response:
    """``/audit``: the trail's head seal and whether its newest `RECENT_SEALS` seals verify
    (with the app's key, their checkpoints' signatures too): bounded, so the page stays fast
    on a trail of millions of events; ``jobtrail audit verify`` checks it whole. Then the
    trail's entries, newest first (`trail.entries`; ``?before=ID`` pages)."""
    current = visit(request)
    app = _app(request)
    store = app.store
    head = head_of(store)
    since = 1 if head is None else max(1, head.seq - RECENT_SEALS + 1)
    key = None if app.audit_key is None else app.audit_key.verifier
    verdict = verify(store, since=since, key=key)
    before = job_id_of(request.query_params.get("before"), "before")
    data = {
        **trail.entries(app, 0 if head is None else head.through, before),
        "head": None if head is None else head.to_json(),
        "ok": verdict.ok, "seals": verdict.seals, "events": verdict.events,
        "since": since, "whole": since == 1, "signed_by": None if key is None else key.name,
        "signed": None if verdict.signed is None else verdict.signed.seq,
        "checkpoints": verdict.checkpoints,
        "problem": None if verdict.problem is None else {
            "kind": verdict.problem.kind, "seal": verdict.problem.seq,
            "event": verdict.problem.event_id, "message": verdict.problem.message},
    }
    return render(request, "audit.html", data, current)
