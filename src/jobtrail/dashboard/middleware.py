"""What wraps every answer of the dashboard: its security headers.

Every answer carries a Content-Security-Policy that allows only this dashboard's own
scripts, styles and images (its templates hold no inline script nor style, and htmx is told
not to add its own), and asks the browser not to sniff types, send referrers or frame it.
Pages are never stored by caches (``no-store``); the static files (the style sheet, the
dashboard's script, the vendored htmx and uPlot) may be, but are checked again on each use
(``no-cache``: a 304 while they have not changed), so an upgrade is seen at once.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SECURITY_HEADERS", "STATIC_CACHE", "SecurityHeaders"]

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
