"""The Host check of a dashboard without tokens.

Without any token the dashboard asks nobody who they are, so it must be reached from this
machine only. Listening on localhost is not enough: a web page from elsewhere can have a
name of its own site resolve to 127.0.0.1 (DNS rebinding), and its scripts then reach the
dashboard as if from the same site. Their requests carry that other name in their Host
header, so `LocalHostsOnly` answers only requests addressed to ``localhost``, ``127.0.0.1``
or ``[::1]`` (with any port), and refuses the others with a 421 that says why. Once a
token exists, requests need it and the check is left to it.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from jobtrail.dashboard.auth import Guard
from jobtrail.dashboard.rendering import problem

__all__ = ["LOCAL_NAMES", "LocalHostsOnly", "is_local"]

#: The names a request to a dashboard without tokens may be addressed to.
LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
#: The status of the refusal: the request was addressed to a server it is not for.
MISDIRECTED = 421


def is_local(host: str | None) -> bool:
    """Whether a Host header names this machine: ``localhost``, ``127.0.0.1`` or ``[::1]``,
    with or without a port."""
    if not host:
        return False
    host = host.strip().lower()
    if host.startswith("["):
        name, bracket, port = host.partition("]")
        name += bracket
    else:
        name, _, port = host.partition(":")
        port = f":{port}" if _ else ""
    if port and not (port.startswith(":") and port[1:].isascii() and port[1:].isdigit()
                     and len(port) <= 6):
        return False
    return name in LOCAL_NAMES


class LocalHostsOnly:
    """Refuses (421) the requests not addressed to this machine while *guard* needs no
    token."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        host = request.headers.get("host")
        if is_local(host) or await run_in_threadpool(lambda: self.guard.required):
            await self.app(scope, receive, send)
            return
        shown = "no Host" if host is None else f"{host[:80]!r}"
        response = problem(
            request, MISDIRECTED, "not for this host",
            "this dashboard has no token configured, so it answers only requests addressed "
            f"to localhost, 127.0.0.1 or [::1], and this one was addressed to {shown}: open "
            "it at http://127.0.0.1:PORT/, or create a token (jobtrail tokens create) to "
            "serve it under other names")
        await response(scope, receive, send)
