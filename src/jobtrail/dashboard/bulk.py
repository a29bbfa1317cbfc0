"""Actions on several dead letters at once: ``POST /dead/replay`` and ``POST /dead/discard``
with the ids of the jobs checked on the dead-letter page (``ids``, given once per job, at
most `MAX_IDS`; more is a 400 that changes nothing).

Each checks the actor's role and, for a POST made with the session cookie, its CSRF value,
as the single actions do; then acts with ``app.replay_many`` or ``app.discard_many`` inside
``acting_as(actor)`` (those of ``jobtrail dlq replay|discard``): each job is locked, checked
and changed on its own, its event naming the actor on the audit trail, and one that may not
be (not a dead letter any more, unknown, or for a replay an effect that may have happened
and must be resolved first) is left as it is and reported with why.

The answer says what became of each job: a page, the same as a fragment for htmx (with an
``HX-Trigger: dead-changed`` header that has the page reload its list), or for
``?format=json`` ``{"action", "actor", "done", "refused", "results": [...]}``, each result
in the shape of ``jobtrail dlq replay --json``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from jobtrail.access import Action, acting_as
from jobtrail.app import App
from jobtrail.cli.bulk import result_json
from jobtrail.dashboard.auth import check_csrf
from jobtrail.dashboard.pages import MAX_SELECTED, BadRequest, job_id_of
from jobtrail.dashboard.rendering import is_htmx, render, wants_json
from jobtrail.dashboard.visits import CSRF_FIELD, form_items, visit
from jobtrail.store.actions import ActionResult

__all__ = ["MAX_IDS", "discard", "replay"]

#: The most jobs one request may act on.
MAX_IDS = MAX_SELECTED
#: The largest form a bulk action reads: `MAX_IDS` ids of the longest kind, and a CSRF value.
MAX_BULK_FORM = 64 * 1024
#: What the page's list listens for, to reload itself once jobs have changed.
CHANGED = "dead-changed"

Verb = Literal["replay", "discard"]


async def replay(request: Request) -> Response:
    """``POST /dead/replay``: queue the dead letters ``ids`` again."""
    return await _bulk(request, "replay", Action.REPLAY, lambda app: app.replay_many)


async def discard(request: Request) -> Response:
    """``POST /dead/discard``: take the dead letters ``ids`` out of the queue for good."""
    return await _bulk(request, "discard", Action.DISCARD, lambda app: app.discard_many)


def _ids(items: list[tuple[str, str]]) -> list[int]:
    """The job ids of a bulk form: `BadRequest` for none, too many or one that is not an
    id."""
    given = [value for name, value in items if name == "ids"]
    if not given:
        raise BadRequest("ids: select at least one job")
    if len(given) > MAX_IDS:
        raise BadRequest(f"ids: at most {MAX_IDS} jobs a request ({len(given):,} given)")
    found: list[int] = []
    for value in given:
        job_id = job_id_of(value, "ids")
        if job_id is None:
            raise BadRequest("ids: '' is not a job id (a whole number from 1)")
        found.append(job_id)
    return list(dict.fromkeys(found))


async def _bulk(request: Request, verb: Verb, action: Action,
                method: Callable[[App], Callable[[list[int]], list[ActionResult]]]
                ) -> Response:
    current = visit(request, action)
    too_many = f"ids: at most {MAX_IDS} jobs a request"
    try:
        items = await form_items(request, MAX_BULK_FORM, MAX_IDS + 10, BadRequest)
    except BadRequest:
        raise BadRequest(too_many) from None
    if "authorization" not in request.headers:
        check_csrf(current.session, dict(items).get(CSRF_FIELD))
    job_ids = _ids(items)
    app: App = request.app.state.jobtrail

    def act() -> list[ActionResult]:
        with acting_as(current.actor):
            return method(app)(job_ids)

    results = [result_json(result) for result in await run_in_threadpool(act)]
    done = sum(1 for result in results if result["ok"])
    data = {"action": verb, "actor": current.actor.label, "done": done,
            "refused": len(results) - done, "results": results}
    if is_htmx(request) and not wants_json(request):
        response = render(request, "_bulk_result.html", data, current)
        if done:
            response.headers["hx-trigger"] = CHANGED
        return response
    return render(request, "bulk.html", data, current)
