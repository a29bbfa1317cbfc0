"""Answering a request: a page rendered from its data, or the same data as JSON.

Every page is one dictionary of data. ``GET /x`` renders it with the page's template;
``GET /x?format=json`` returns that same dictionary as JSON (the page's JSON twin). The
templates escape every value they show (``autoescape``): a job's name, queue, payload or
error is text, never markup.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from jobtrail.access import Action, Actor
from jobtrail.dashboard import follows
from jobtrail.dashboard.auth import COOKIE, SESSION_SECONDS, Session
from jobtrail.dashboard.flowsvg import flow_svg

__all__ = ["Visit", "environment", "is_htmx", "json_response", "problem", "render", "root",
           "set_cookie", "wants_json"]

HERE = Path(__file__).parent


def environment() -> jinja2.Environment:
    """The templates, every value escaped, an undefined name an error."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["compact"] = compact
    env.filters["seconds"] = seconds
    env.filters["moment"] = moment
    env.filters["series"] = series
    env.filters["flow_svg"] = flow_svg
    env.filters["follows_svg"] = follows.svg
    return env


def compact(value: Any) -> str:
    """A value as one line of JSON."""
    return json.dumps(value, ensure_ascii=False, default=str)


def series(values: Iterable[float | datetime | None]) -> str:
    """Numbers as a JSON array for a data attribute (the template escapes it as any value):
    ``null`` for a gap (``None``, NaN, an infinity), a time as seconds since the epoch."""
    found: list[float | None] = []
    for value in values:
        if isinstance(value, datetime):
            value = value.timestamp()
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            found.append(None)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            found.append(value)
        else:
            raise TypeError(f"a series holds numbers, times or None, not {value!r}")
    return json.dumps(found)


def seconds(value: float | None) -> str:
    """A duration in seconds, briefly: ``-`` for none."""
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.1f} ms"
    if value < 120:
        return f"{value:.2f} s"
    return f"{value / 60:.1f} min"


def moment(value: str | None) -> str:
    """An ISO-8601 time as ``YYYY-MM-DD HH:MM:SS`` (UTC); ``-`` for none."""
    if not value:
        return "-"
    return value.replace("T", " ")[:19]


@dataclass(frozen=True, slots=True)
class Visit:
    """Who makes a request, and the session of its browser (with the CSRF value its forms
    carry); ``fresh``: the session was opened by this request, whose answer sets its
    cookie."""

    actor: Actor
    session: Session | None
    fresh: bool = False


def wants_json(request: Request) -> bool:
    """Whether the request asks for the JSON twin (``?format=json``)."""
    return request.query_params.get("format") == "json"


def is_htmx(request: Request) -> bool:
    """Whether htmx made the request (``HX-Request: true``): it swaps a fragment of a page
    into the one shown, so the answer is that fragment."""
    return request.headers.get("hx-request") == "true"


def json_response(data: Any, status: int = 200) -> Response:
    """*data* as JSON."""
    body = json.dumps(data, ensure_ascii=False, default=str, indent=1)
    return Response(body, status_code=status, media_type="application/json")


def render(request: Request, template: str, data: dict[str, Any], visit: Visit | None,
           status: int = 200) -> Response:
    """The page of *template* showing *data*, or *data* as JSON when asked for."""
    if wants_json(request):
        response = json_response(data, status)
    else:
        env: jinja2.Environment = request.app.state.templates
        html = env.get_template(template).render(
            data=data, visit=visit, request=request, root=root(request),
            csrf=visit.session.csrf if visit and visit.session else "",
            can=lambda action: visit is not None and visit.actor.may(Action(action)))
        response = HTMLResponse(html, status_code=status)
    if visit is not None and visit.fresh and visit.session is not None:
        set_cookie(request, response, visit.session)
    return response


def problem(request: Request, status: int, title: str, message: str) -> Response:
    """The answer of a request that failed: the error page, its fragment for htmx, or
    ``{"error", "message", "status"}`` for JSON clients."""
    data = {"error": title, "message": message, "status": status}
    if wants_json(request) or "text/html" not in request.headers.get("accept", "text/html"):
        return json_response(data, status)
    return render(request, "_problem.html" if is_htmx(request) else "error.html", data, None,
                  status)


def root(request: Request) -> str:
    """The path the dashboard is mounted at (empty at the root of its server)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def set_cookie(request: Request, response: Response, session: Session) -> None:
    """Give the browser *session*'s cookie: HttpOnly, SameSite=Strict, and Secure over
    HTTPS."""
    response.set_cookie(COOKIE, session.id, max_age=SESSION_SECONDS, path=root(request) or "/",
                        httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
