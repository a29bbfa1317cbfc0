"""The flow pages: ``/flows`` (the job types) and ``/flows/{job}`` (one job's flow graph
from its code, drawn with what recorded runs did on it).

What is read of the code alone — the graph (`jobtrail.flows.build_flow`), its Mermaid and
DOT text, its paths compared with ``expect=``, the edges only forbidden paths take — does
not change while the dashboard runs, so each job's is worked out once and kept (`Flows`).
What runs did is read on each visit, bounded: the newest `RECENT_RUNS` runs of the job
that ended for good (`Store.runs` with a limit, by the index of each job type's runs), so
the page costs the same at a million jobs as at ten; the page says how many runs it read.
``jobtrail flows coverage`` reads every run.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from jobtrail.app import App
from jobtrail.cli.flows import coverage_json
from jobtrail.dashboard.rendering import render
from jobtrail.dashboard.visits import visit
from jobtrail.flows import FlowGraph, build_flow, to_dot, to_mermaid
from jobtrail.flows.coverage import CodeSide, check, code_side, split_runs
from jobtrail.flows.lock import flow_jobs
from jobtrail.flows.usage import EdgeUse, edge_use, forbidden_edges
from jobtrail.jobs import JobDef
from jobtrail.records import Status

__all__ = ["RECENT_RUNS", "Analysis", "Flows", "flow", "flows", "job_links"]

log = logging.getLogger("jobtrail.dashboard")

#: The most runs whose paths a flow page counts on its edges.
RECENT_RUNS: Final = 1_000
#: What reading a job's code may raise: no source (a builtin, code made at run time), a
#: file gone or unreadable, source that no longer parses, code nested too deep.
UNREADABLE: Final = (OSError, TypeError, SyntaxError, ValueError, RecursionError)


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the flow page reads of one job's code: its graph, or why there is none."""

    job: JobDef[Any, Any]
    graph: FlowGraph | None
    problem: str | None = None
    code: CodeSide | None = None
    forbidden: frozenset[int] | None = None
    mermaid: str = ""
    dot: str = ""


class Flows:
    """Each job's `Analysis`, worked out on first use and kept."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._found: dict[str, Analysis] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """The job types that have flows (not the shadow jobs jobtrail adds), by name."""
        return [job.name for job in flow_jobs(self.app)]

    def of(self, name: str) -> Analysis:
        """The analysis of job type *name*; a 404 when the app has no such job type."""
        found = self._found.get(name)
        if found is not None:
            return found
        if name not in self.names():
            raise HTTPException(404, f"no job type named {name[:200]!r} in this app")
        with self._lock:  # one visitor works it out; the others wait and read it
            found = self._found.get(name)
            if found is None:
                found = self._found[name] = _analysed(self.app.registry[name])
        return found


def _analysed(job: JobDef[Any, Any]) -> Analysis:
    try:
        graph = build_flow(job, job_name=job.name)
    except UNREADABLE as exc:
        return Analysis(job, None, f"its code cannot be read to draw its flow ({_why(exc)})")
    except Exception as exc:  # one job's odd code must not take down the flow pages
        return _broken(job, exc)
    try:
        forbidden = None if job.expectation is None else forbidden_edges(graph, job.expectation)
        return Analysis(job, graph, None, code_side(job, graph), forbidden, to_mermaid(graph),
                        to_dot(graph))
    except Exception as exc:
        return _broken(job, exc)


def _broken(job: JobDef[Any, Any], exc: Exception) -> Analysis:
    """What the page says of a job whose flow the analysis failed on (logged, with its
    traceback, for a bug report)."""
    log.error("the flow of job %r could not be worked out", job.name, exc_info=exc)
    return Analysis(job, None, f"its flow could not be worked out ({_why(exc)})")


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _flows(request: Request) -> Flows:
    found: Flows = request.app.state.flows
    return found


def job_links(request: Request, name: str) -> dict[str, str | None]:
    """The dashboard's pages about job type *name*, as paths from its root: its catalog
    entry, its flow, its jobs and its paths."""
    quoted = quote(name, safe="")
    return {"catalog": f"/catalog/{quoted}", "flow": f"/flows/{quoted}",
            "jobs": "/jobs?" + urlencode({"job": name}), "paths": f"/paths/{quoted}"}


def flows(request: Request) -> Response:
    """``/flows``: every job type with a flow, what its code records, its ``expect=``."""
    current = visit(request)
    registry = _flows(request)
    rows = []
    for name in registry.names():
        analysis = registry.of(name)
        graph = analysis.graph
        counts = {kind: 0 for kind in ("step", "effect", "decide", "exit")}
        for node in graph.nodes.values() if graph is not None else ():
            if node.kind in counts:
                counts[node.kind] += 1
        expectation = analysis.job.expectation
        rows.append({"job": name, "function": None if graph is None else graph.function,
                     "points": None if graph is None else counts,
                     "expect": None if expectation is None else expectation.text,
                     "problem": analysis.problem, "links": job_links(request, name)})
    return render(request, "flows.html", {"jobs": rows}, current)


def flow(request: Request) -> Response:
    """``/flows/{job}``: the job's flow graph from its code, each edge with the recorded
    runs that took it and its place in the three-way check, the points where runs left
    the code, the path coverage findings, and the graph as Mermaid and DOT text."""
    current = visit(request)
    name: str = request.path_params["job"]
    analysis = _flows(request).of(name)
    expectation = analysis.job.expectation
    data: dict[str, Any] = {
        "job": name, "expect": None if expectation is None else expectation.text,
        "links": job_links(request, name), "problem": analysis.problem,
    }
    graph = analysis.graph
    if graph is None or analysis.code is None:
        return render(request, "flow.html", data, current)
    app: App = request.app.state.jobtrail
    found = app.store.runs(name, limit=RECENT_RUNS + 1)
    runs = found[-RECENT_RUNS:]
    completed, stopped = split_runs(runs)
    use = edge_use(graph, [(run.variant, run.status is not Status.SUCCEEDED) for run in runs])
    report = check(analysis.job, graph, completed, stopped=stopped, code=analysis.code)
    data.update({
        "function": graph.function, "file": graph.file,
        "runs": {"read": len(runs), "limit": RECENT_RUNS,
                 "more": len(found) > RECENT_RUNS, "explained": use.explained,
                 "stopped": use.stopped, "unexplained": use.unexplained,
                 "unreadable": use.unreadable},
        "forbidden_known": analysis.forbidden is not None,
        **_drawing(graph, use, analysis.forbidden or frozenset()),
        "coverage": coverage_json(report), "notes": list(report.notes),
        "mermaid": analysis.mermaid, "dot": analysis.dot,
    })
    return render(request, "flow.html", data, current)


def _drawing(graph: FlowGraph, use: EdgeUse, forbidden: frozenset[int]) -> dict[str, Any]:
    """The nodes, edges and departures of the page, each with its state."""
    edges = []
    reached = {graph.start} if any(use.runs) else set()
    for index, edge in enumerate(graph.edges):
        runs = use.runs[index]
        state = "forbidden" if index in forbidden else "taken" if runs else "untested"
        if runs:
            reached.add(edge.dst)
        edges.append({"from": edge.src, "to": edge.dst, "label": edge.label, "runs": runs,
                      "state": state})
    nodes = [{"id": node.id, "kind": node.kind, "name": node.name, "label": node.label,
              "line": node.line, "state": "taken" if node.id in reached else "untested"}
             for node in graph.nodes.values()]
    departures = [{"after": d.after, "point": d.point, "runs": d.runs} for d in use.departures]
    return {"nodes": nodes, "edges": edges, "departures": departures}
