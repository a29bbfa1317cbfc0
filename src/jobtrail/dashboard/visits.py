"""The check at the start of every request: who asks, and may they do this.

`visit` answers with the `Visit` (the actor and the browser's session) or raises
`Unauthorized` (401) or `Forbidden` (403); a POST made with the session cookie must carry
the session's CSRF value (`checked_post`).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from jobtrail.access import Action
from jobtrail.dashboard.auth import COOKIE, Forbidden, Guard, allowed, check_csrf
from jobtrail.dashboard.rendering import Visit

__all__ = ["CSRF_FIELD", "checked_post", "form_fields", "form_items", "guard_of", "visit"]

#: The name of the form field that carries the CSRF value.
CSRF_FIELD = "csrf"
#: The largest form body read, in bytes, and the most fields parsed from it.
MAX_FORM = 16 * 1024
MAX_FIELDS = 20


def guard_of(request: Request) -> Guard:
    """The dashboard's `Guard`."""
    guard: Guard = request.app.state.guard
    return guard


def visit(request: Request, action: Action = Action.READ) -> Visit:
    """Who makes *request*, once they may take *action*. Without tokens configured, a
    browser without a session gets one (for the CSRF value of its forms)."""
    guard = guard_of(request)
    actor, session = guard.identify(request.headers.get("authorization"),
                                    request.cookies.get(COOKIE))
    actor = allowed(actor, action)
    fresh = False
    if (session is None and not guard.required
            and "authorization" not in request.headers):
        session, fresh = guard.open_session(actor, None), True
    return Visit(actor, session, fresh)


async def form_items(request: Request, max_bytes: int = MAX_FORM,
                     max_fields: int = MAX_FIELDS,
                     too_large: type[Exception] = Forbidden) -> list[tuple[str, str]]:
    """The fields of a URL-encoded form (the only kind the dashboard's forms send: no
    multipart parser needed), in order, a name given several times kept each time;
    *too_large* for a body of more than *max_bytes* or more than *max_fields* fields."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise too_large(f"a form of more than {max_bytes:,} bytes")
    if not body:
        return []
    text = body.decode("utf-8", "replace")
    try:
        return parse_qsl(text, keep_blank_values=True, max_num_fields=max_fields)
    except ValueError:
        raise too_large(f"a form of more than {max_fields} fields") from None


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of a form of at most `MAX_FORM` bytes and `MAX_FIELDS` fields, by name (the
    last value of a name given twice); `Forbidden` for a larger one."""
    return dict(await form_items(request))


async def checked_post(request: Request, action: Action) -> tuple[Visit, dict[str, str]]:
    """The visit of a POST taking *action*, and its form fields: a POST without a bearer
    token must carry its session's CSRF value."""
    current = visit(request, action)
    fields = await form_fields(request)
    if "authorization" not in request.headers:
        check_csrf(current.session, fields.get(CSRF_FIELD))
    return current, fields
