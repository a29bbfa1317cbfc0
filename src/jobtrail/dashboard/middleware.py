"""What wraps every answer of the dashboard: its security headers, and the answer to an
unexpected error.

Every answer carries a Content-Security-Policy that allows only this dashboard's own
scripts, styles and images (its templates hold no inline script nor style, and htmx is told
not to add its own), and asks the browser not to sniff types, send referrers or frame it.
Pages are never stored by caches (``no-store``); the static files (the style sheet, the
dashboard's script, the vendored htmx and uPlot) may be, but are checked again on each use
(``no-cache``: a 304 while they have not changed), so an upgrade is seen at once.

An exception no page expects (a database gone away, a bug) is logged with its traceback
(logger ``jobtrail.dashboard``) and answered with a generic 500 page that says nothing of
it, with the security headers as any other answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobtrail.dashboard.rendering import problem

__all__ = ["SECURITY_HEADERS", "STATIC_CACHE", "SecurityHeaders", "ServerErrors"]

log = logging.getLogger("jobtrail.dashboard")

#: The headers of every answer.
SECURITY_HEADERS: Mapping[str, str] = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}
#: The Cache-Control of the static files.
STATIC_CACHE = "no-cache"
#: What the answer to an unexpected error says, and no more.
SERVER_ERROR = ("the dashboard failed to answer this request; the error and its traceback "
                "are in the dashboard's log")


def inside(scope: Scope) -> str:
    """The path of a request within the dashboard (without the path it is mounted at)."""
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", "")).rstrip("/")
    return path[len(root):] if root and path.startswith(root + "/") else path


class SecurityHeaders:
    """Adds `SECURITY_HEADERS` to every answer of the app it wraps (with `STATIC_CACHE` for
    the static files)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = dict(SECURITY_HEADERS)
        if inside(scope).startswith("/static/"):
            wanted["cache-control"] = STATIC_CACHE

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.decode("latin-1").lower() not in wanted]
                headers += [(k.encode(), v.encode()) for k, v in wanted.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class ServerErrors:
    """Answers an unexpected exception of the app it wraps with a generic 500 (no
    traceback, no message of the exception) and logs it, with its traceback. An exception
    raised once the answer has begun cannot be answered: it is logged and raised again."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            log.exception("dashboard: %s %s failed", scope.get("method"), inside(scope))
            if started:
                raise
            await self._answer(scope)(scope, receive, send)

    @staticmethod
    def _answer(scope: Scope) -> Response:
        try:
            return problem(Request(scope), 500, "server error", SERVER_ERROR)
        except Exception:  # the error page itself fails: say it plainly
            log.exception("dashboard: the error page failed too")
            return PlainTextResponse(f"500: server error: {SERVER_ERROR}", status_code=500)
