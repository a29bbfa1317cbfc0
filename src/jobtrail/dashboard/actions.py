"""The pages that act: replay, discard or cancel a job, resolve an uncertain effect, log in
and out.

Each action checks the actor's role (`jobtrail.access.require`: operators and admins) and,
for a POST made with the session cookie, its CSRF value; then runs inside
``acting_as(actor)``, so that the event it writes names the actor (``token:<name>``) on
the audit trail. A browser is sent back to the job's page (303); ``?format=json`` answers
with the job as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from jobtrail.access import Action, acting_as
from jobtrail.app import App
from jobtrail.cli.output import effect_json, job_json
from jobtrail.dashboard.auth import COOKIE, Unauthorized
from jobtrail.dashboard.pages import BadRequest, job_id_of
from jobtrail.dashboard.rendering import (
    Visit,
    json_response,
    render,
    root,
    set_cookie,
    wants_json,
)
from jobtrail.dashboard.visits import checked_post, form_fields, guard_of
from jobtrail.errors import InvalidTransition
from jobtrail.records import JobRecord, Status
from jobtrail.store.values import EffectRecord

__all__ = ["OUTCOMES", "cancel", "discard", "login", "login_form", "logout", "replay",
           "resolve"]

#: The verdicts an operator may record on an uncertain effect (``app.resolve_effect``).
OUTCOMES = ("done", "not_done")
#: The longest result (JSON text) a resolve form may give.
MAX_RESULT = 8 * 1024


async def _act(request: Request, action: Action,
               run: Callable[[App, int], JobRecord]) -> Response:
    current, _ = await checked_post(request, action)
    job_id = job_id_of(request.path_params["job_id"], "job id")
    assert job_id is not None
    app: App = request.app.state.jobtrail

    def act() -> JobRecord:
        with acting_as(current.actor):
            return run(app, job_id)

    record = await run_in_threadpool(act)
    if wants_json(request):
        return json_response({"job": job_json(record), "actor": current.actor.label})
    return RedirectResponse(f"{root(request)}/jobs/{job_id}", status_code=303)


async def replay(request: Request) -> Response:
    """``POST /jobs/{id}/replay``: queue a dead, orphaned or cancelled job again."""
    return await _act(request, Action.REPLAY, lambda app, job_id: app.replay(job_id))


async def discard(request: Request) -> Response:
    """``POST /jobs/{id}/discard``: take a dead letter out of the queue for good."""
    return await _act(request, Action.DISCARD, lambda app, job_id: app.discard(job_id))


async def cancel(request: Request) -> Response:
    """``POST /jobs/{id}/cancel``: cancel a job that has not finished."""
    return await _act(request, Action.CANCEL, lambda app, job_id: app.cancel(job_id))



def _no_constant(name: str) -> None:
    """Refuses ``NaN`` and ``Infinity``, which JSON does not have (a result stores as JSON)."""
    raise ValueError(f"{name} is not a JSON value")

async def resolve(request: Request) -> Response:
    """``POST /jobs/{id}/effects/{name}/resolve``: record what happened to the job's
    uncertain effect *name* (begun, its end never recorded), as ``jobtrail dlq resolve``
    does: ``outcome`` ``done`` (it happened; ``result``, JSON, is what it returned) or
    ``not_done`` (it did not). Replaying the job then returns that result, or performs the
    effect. Refused (409) while the job runs: its worker may be performing the effect."""
    current, fields = await checked_post(request, Action.RESOLVE_EFFECT)
    job_id = job_id_of(request.path_params["job_id"], "job id")
    assert job_id is not None
    name: str = request.path_params["name"]
    outcome, text = fields.get("outcome"), fields.get("result", "").strip()
    if outcome not in OUTCOMES:
        raise BadRequest("outcome: 'done' (the effect happened) or 'not_done' (it did not)")
    if text and outcome != "done":
        raise BadRequest("result: goes with done only (a not_done effect has no result)")
    if len(text) > MAX_RESULT:
        raise BadRequest(f"result: at most {MAX_RESULT:,} characters")
    try:
        result = json.loads(text, parse_constant=_no_constant) if text else None
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"result: not valid JSON ({str(exc)[:120]})") from None
    app: App = request.app.state.jobtrail

    def act() -> EffectRecord:
        with acting_as(current.actor):
            if app.get(job_id).status is Status.RUNNING:
                raise InvalidTransition(
                    f"job {job_id} is running: its worker may be performing effect {name!r} "
                    "now; resolve it once the job has ended")
            return app.resolve_effect(job_id, name, outcome, result)

    effect = await run_in_threadpool(act)
    if wants_json(request):
        return json_response({"effect": effect_json(effect), "actor": current.actor.label})
    return RedirectResponse(f"{root(request)}/jobs/{job_id}", status_code=303)


def _next(request: Request, target: str | None) -> str:
    """Where to go after logging in: a path of this dashboard, never another site."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return "/"
    return target


def login_form(request: Request, message: str | None = None, status: int = 200,
               then: str | None = None) -> Response:
    """``GET /login``: the form that opens a session with a token (then goes to *then*,
    or ``?next=``, a path of this dashboard)."""
    data = {"message": message,
            "next": _next(request, then or request.query_params.get("next"))}
    return render(request, "login.html", data, None, status)


async def login(request: Request) -> Response:
    """``POST /login``: check the token, open a session and set its cookie."""
    form = await form_fields(request)
    token, target = form.get("token"), form.get("next")
    guard = guard_of(request)
    if not isinstance(token, str) or not token.strip():
        return login_form(request, "give a token", 401)
    try:
        actor = await run_in_threadpool(guard.actor_of, token.strip())
    except Unauthorized as exc:
        return login_form(request, str(exc), 401)
    session = guard.open_session(actor, token.strip())
    where = _next(request, target if isinstance(target, str) else None)
    response = RedirectResponse(root(request) + where, status_code=303)
    set_cookie(request, response, session)
    return response


async def logout(request: Request) -> Response:
    """``POST /logout``: end the session (its CSRF value is needed: no one logs another
    out from elsewhere)."""
    current: Visit
    current, _ = await checked_post(request, Action.READ)
    if current.session is not None:
        guard_of(request).close_session(current.session.id)
    response = RedirectResponse(f"{root(request)}/login", status_code=303)
    response.delete_cookie(COOKIE, path=root(request) or "/")
    return response
