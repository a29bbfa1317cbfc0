"""The dashboard's ASGI application: `create_app` builds it on a jobtrail `App`.

Run it with ``jobtrail dashboard``, or mount it in your own Starlette or FastAPI app::

    from jobtrail.dashboard import create_app
    web.mount("/jobtrail", create_app(app))

Every answer carries the security headers of `jobtrail.dashboard.middleware`, which also
answers an unexpected error with a generic page; without any token, only requests
addressed to this machine are answered (`jobtrail.dashboard.hosts`).
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from jobtrail.app import App
from jobtrail.dashboard import actions, bulk, catalog, flows, pages, path_pages, tokens_pages
from jobtrail.dashboard.auth import ENV, Forbidden, Guard, Unauthorized, parse_tokens
from jobtrail.dashboard.hosts import LocalHostsOnly
from jobtrail.dashboard.links import trace_template
from jobtrail.dashboard.middleware import SECURITY_HEADERS, SecurityHeaders, ServerErrors
from jobtrail.dashboard.overview import overview
from jobtrail.dashboard.rendering import HERE, environment, problem, root, wants_json
from jobtrail.errors import InvalidTransition, JobNotFound, TokenError, TokenNotFound

__all__ = ["SECURITY_HEADERS", "create_app"]


async def _unauthorized(request: Request, exc: Exception) -> Response:
    if not wants_json(request) and request.method == "GET" and "authorization" not in \
            request.headers and "text/html" in request.headers.get("accept", ""):
        path = request.url.path
        prefix = root(request)
        inside = path[len(prefix):] if prefix and path.startswith(prefix) else path
        return actions.login_form(request, str(exc), 401, inside)
    response = problem(request, 401, "not authenticated", str(exc))
    response.headers["www-authenticate"] = 'Bearer realm="jobtrail"'
    return response


async def _forbidden(request: Request, exc: Exception) -> Response:
    return problem(request, 403, "forbidden", str(exc))


async def _bad_request(request: Request, exc: Exception) -> Response:
    return problem(request, 400, "bad request", str(exc))


async def _not_found(request: Request, exc: Exception) -> Response:
    return problem(request, 404, "not found", str(exc) or "no such page")


async def _conflict(request: Request, exc: Exception) -> Response:
    return problem(request, 409, "not possible now", str(exc))


async def _missing_page(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    return problem(request, status, "not found" if status == 404 else "error",
                    str(getattr(exc, "detail", "")) or "no such page")


def create_app(jobtrail_app: App, *, tokens: str | None = None,
               trace_url: str | None = None) -> Starlette:
    """The dashboard of *jobtrail_app*, as an ASGI app.

    *tokens* is ``role:token,...`` for simple setups (default: ``$JOBTRAIL_DASHBOARD_TOKENS``),
    beside the app's stored tokens (``jobtrail tokens create``). With any token, every
    request needs one (`jobtrail.dashboard.auth`).

    *trace_url* links a job's trace id to your tracing UI: an http(s) address holding
    ``{trace_id}`` (default: ``$JOBTRAIL_TRACE_URL``; none: the id is shown as text).
    `ValueError` for any other."""
    trace = trace_template(trace_url)
    spec = os.environ.get(ENV, "") if tokens is None else tokens
    guard = Guard(jobtrail_app.authenticate,
                  lambda: any(record.live for record in jobtrail_app.tokens.list()),
                  parse_tokens(spec))
    routes = [
        Route("/", overview),
        Route("/jobs", pages.jobs),
        Route("/jobs/{job_id}", pages.job),
        Route("/jobs/{job_id}/replay", actions.replay, methods=["POST"]),
        Route("/jobs/{job_id}/discard", actions.discard, methods=["POST"]),
        Route("/jobs/{job_id}/cancel", actions.cancel, methods=["POST"]),
        Route("/jobs/{job_id}/effects/{name:path}/resolve", actions.resolve, methods=["POST"]),
        Route("/dead", pages.dead),
        Route("/dead/replay", bulk.replay, methods=["POST"]),
        Route("/dead/discard", bulk.discard, methods=["POST"]),
        Route("/audit", pages.audit),
        Route("/tokens", tokens_pages.tokens, methods=["GET"]),
        Route("/tokens", tokens_pages.create, methods=["POST"]),
        Route("/tokens/{name}/revoke", tokens_pages.revoke, methods=["POST"]),
        Route("/flows", flows.flows),
        Route("/flows/{job:path}", flows.flow),
        Route("/catalog", catalog.catalog),
        Route("/catalog/{job:path}", catalog.catalog_entry),
        Route("/paths", path_pages.paths),
        Route("/paths/{job_name:path}", path_pages.job_paths),
        Route("/divergences", path_pages.divergences),
        Route("/rules", path_pages.rules),
        Route("/login", actions.login_form, methods=["GET"]),
        Route("/login", actions.login, methods=["POST"]),
        Route("/logout", actions.logout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    web = Starlette(routes=routes, exception_handlers={
        Unauthorized: _unauthorized, Forbidden: _forbidden, pages.BadRequest: _bad_request,
        JobNotFound: _not_found, InvalidTransition: _conflict, TokenError: _bad_request,
        TokenNotFound: _not_found, 404: _missing_page,
        405: _missing_page,
    })
    web.state.jobtrail = jobtrail_app
    web.state.guard = guard
    web.state.templates = environment()
    web.state.flows = flows.Flows(jobtrail_app)
    web.state.trace_url = trace
    # The last added wraps the others: the headers go on every answer, the answer to an
    # unexpected error included, and the Host check comes before any page.
    web.add_middleware(LocalHostsOnly, guard=guard)
    web.add_middleware(ServerErrors)
    web.add_middleware(SecurityHeaders)
    return web
