"""The job catalog pages: ``/catalog`` (every job type) and ``/catalog/{job}`` (one, whole).

Each job type is described exactly as ``jobtrail describe --json`` describes it
(`jobtrail.cli.describe.job_description`, under ``describe`` in the JSON twin), so the
page and the command line agree; beside it, what the dashboard adds: the runbook as a
link when it is an http(s) address (`links.http_link`; anything else is shown as text),
the limits in words, the effects its flow graph shows, and links to its flow, its paths
and its jobs. Nothing here reads the database.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from jobtrail.app import App
from jobtrail.cli.describe import job_description, limits_text
from jobtrail.dashboard.flows import Flows, job_links
from jobtrail.dashboard.links import http_link
from jobtrail.dashboard.rendering import render
from jobtrail.dashboard.visits import visit
from jobtrail.jobs import JobDef

__all__ = ["catalog", "catalog_entry", "entry"]


def _app(request: Request) -> App:
    app: App = request.app.state.jobtrail
    return app


def _flows(request: Request) -> Flows:
    flows: Flows = request.app.state.flows
    return flows


def entry(request: Request, definition: JobDef[Any, Any], with_flows: set[str]
          ) -> dict[str, Any]:
    """One job type as the catalog shows it: ``describe``, the command line's JSON, and
    what the dashboard adds; *with_flows* names the job types that have a flow."""
    description = job_description(definition, _app(request).queues)
    links = job_links(request, definition.name)
    if definition.name not in with_flows:
        links["flow"] = None  # a job jobtrail adds (a shadow): no flow of its own
    return {"describe": description, "runbook_link": http_link(description["runbook"]),
            "limits": limits_text(description["limits"], description["queue_policy"]),
            "links": links}


def catalog(request: Request) -> Response:
    """``/catalog``: every job type with its owner, description, queue, guarantee, retry
    policy, expected path, schedule, limits and runbook."""
    current = visit(request)
    registry = _app(request).registry
    with_flows = set(_flows(request).names())
    data = {"jobs": [entry(request, registry[name], with_flows) for name in sorted(registry)]}
    return render(request, "catalog.html", data, current)


def catalog_entry(request: Request) -> Response:
    """``/catalog/{job}``: one job type, whole: its description, inputs (from its type
    hints), effects (from its code and from its flow graph), policies and links."""
    current = visit(request)
    name: str = request.path_params["job"]
    definition = _app(request).registry.get(name)
    if definition is None:
        raise HTTPException(404, f"no job type named {name[:200]!r} in this app")
    data = entry(request, definition, set(_flows(request).names()))
    data["flow_effects"], data["flow_problem"] = _flow_effects(request, name)
    return render(request, "catalog_job.html", data, current)


def _flow_effects(request: Request, name: str) -> tuple[list[dict[str, Any]] | None, str | None]:
    """The effects the job's flow graph shows (each name once, with its first line), or
    why there is no graph."""
    flows = _flows(request)
    if name not in flows.names():
        return None, None
    analysis = flows.of(name)
    if analysis.graph is None:
        return None, analysis.problem
    found: dict[str, int] = {}
    for node in analysis.graph.of_kind("effect"):
        found.setdefault(node.name or "<computed name>", node.line)
    return [{"name": effect, "line": line} for effect, line in found.items()], None
