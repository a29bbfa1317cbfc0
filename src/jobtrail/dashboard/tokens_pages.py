"""Token management for admins in the browser, with ``app.tokens`` (the API of ``jobtrail
tokens``): ``GET /tokens`` lists every token, ``POST /tokens`` creates one, ``POST
/tokens/{name}/revoke`` revokes one.

Every one needs the admin role (`jobtrail.access.Action.TOKENS`: 403 for viewers and
operators) and, for a POST made with the session cookie, its CSRF value. Creating and
revoking run inside ``acting_as(admin)``, so the token's row (``created_by``,
``revoked_by``) and its event on the audit trail name the admin, as the command line names
the OS user.

A new token's text is in the answer to the POST that created it, and nowhere else: not in a
URL (no redirect carries it), not in a log, not in the list, which shows names, roles and
times only (its JSON twin too). The answer is never stored by a cache (``no-store``).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from jobtrail.access import Action, Role, acting_as
from jobtrail.app import App
from jobtrail.cli.tokens import token_json
from jobtrail.dashboard.pages import BadRequest
from jobtrail.dashboard.rendering import Visit, json_response, render, root, wants_json
from jobtrail.dashboard.visits import checked_post, guard_of, visit
from jobtrail.errors import TokenError
from jobtrail.store.tokens import TokenRecord

__all__ = ["create", "revoke", "tokens"]


def _app(request: Request) -> App:
    app: App = request.app.state.jobtrail
    return app


def _listing(request: Request, records: list[TokenRecord], current: Visit,
             error: str | None = None, form: dict[str, str] | None = None,
             status: int = 200) -> Response:
    """The tokens page: every stored token, those of the environment (names and roles
    only), the create form (with what was given and why it was refused, if it was)."""
    environment = [{"name": actor.name, "role": actor.role.value}
                   for actor in guard_of(request).environment_actors]
    data: dict[str, Any] = {"tokens": [token_json(record) for record in records],
                            "environment": environment,
                            "roles": [role.value for role in Role]}
    if not wants_json(request):
        data |= {"error": error, "form": form or {"name": "", "role": Role.VIEWER.value}}
    return render(request, "tokens.html", data, current, status)


def tokens(request: Request) -> Response:
    """``GET /tokens``: every token, live and revoked, oldest first, with who created and
    who revoked it and when it was last used (never its text, which is not stored)."""
    current = visit(request, Action.TOKENS)
    return _listing(request, _app(request).tokens.list(), current)


async def create(request: Request) -> Response:
    """``POST /tokens`` (``name``, ``role``): create a token and show its text, once (201);
    the list again with why for a name or role that cannot be used (400)."""
    current, fields = await checked_post(request, Action.TOKENS)
    name, role = fields.get("name", "").strip(), fields.get("role", "")
    app, guard = _app(request), guard_of(request)

    def act() -> tuple[str, TokenRecord, bool]:
        was_open = not guard.required
        with acting_as(current.actor):
            token, record = app.tokens.issue(name, role)
        return token, record, was_open and guard.required

    try:
        token, record, now_required = await run_in_threadpool(act)
    except TokenError as exc:
        if wants_json(request):
            raise BadRequest(str(exc)) from None
        records = await run_in_threadpool(app.tokens.list)
        return _listing(request, records, current, str(exc), {"name": name, "role": role}, 400)
    data = {"token": token, **token_json(record), "now_required": now_required}
    return render(request, "token_created.html", data, current, 201)


async def revoke(request: Request) -> Response:
    """``POST /tokens/{name}/revoke``: revoke the live token *name*; it no longer
    authenticates, and the sessions opened with it end (404 when no live token has that
    name)."""
    current, _ = await checked_post(request, Action.TOKENS)
    name: str = request.path_params["name"]
    app = _app(request)

    def act() -> TokenRecord:
        with acting_as(current.actor):
            return app.tokens.revoke(name)

    record = await run_in_threadpool(act)
    if wants_json(request):
        return json_response(token_json(record))
    return RedirectResponse(f"{root(request)}/tokens", status_code=303)
