"""The pages of execution paths: job types with runs, one job's variants and funnel, the
divergences, and the business rules.

They read through ``app.paths``, as ``jobtrail paths`` and ``jobtrail rules`` do, and shape
their data with the command line's JSON functions. Each read is bounded, so that a page
costs the same with a thousand runs stored or a million: a job's page reads its newest
`RUNS` runs, the divergence counts cover the newest `COUNTED` divergences, a rule is
checked over its trigger's newest `RULE_RUNS` runs or the milestones among the newest
`RULE_EVENTS` events. Each page says how much its figures cover.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from jobtrail.app import App
from jobtrail.cli.output import iso
from jobtrail.cli.paths import divergence_json, funnel_json, variant_json
from jobtrail.cli.rules import report_json
from jobtrail.dashboard import follows
from jobtrail.dashboard.pages import PAGE_SIZE, BadRequest, moment_param
from jobtrail.dashboard.rendering import render
from jobtrail.dashboard.visits import visit
from jobtrail.limits import MAX_JOB_ID
from jobtrail.paths import variants
from jobtrail.paths.rules import Bound
from jobtrail.paths_api import DIVERGENCE_KINDS
from jobtrail.records import RunRecord
from jobtrail.text import MAX_NAME

__all__ = ["COUNTED", "RULE_EVENTS", "RULE_RUNS", "RUNS", "divergences", "job_paths",
           "newness", "paths", "rules"]

#: The newest runs of a job its page reads: a variant taken by 1% of runs is measured on
#: 50 of them, one taken once in 5,000 still shows, and the page stays under 200 ms at
#: p95 on either backend with a million jobs (10,000 took PostgreSQL just past it).
RUNS = 5_000
#: The job types the paths page lists at most.
JOB_TYPES = 1000
#: The newest divergences the counts of the divergences page cover.
COUNTED = 100_000
#: How much a rule's check reads: its trigger's newest runs, or the newest events.
RULE_RUNS = 2_000
RULE_EVENTS = 2_000
#: The breaches of each rule the rules page lists (the newest).
BREACHES = 50
#: The longest code version a query may name.
MAX_VERSION = 200


def _app(request: Request) -> App:
    app: App = request.app.state.jobtrail
    return app


def _text(request: Request, name: str, longest: int = MAX_NAME) -> str | None:
    value = request.query_params.get(name) or None
    if value is not None and len(value) > longest:
        raise BadRequest(f"{name}: at most {longest} characters")
    return value


def _divergence_id(text: str | None) -> int | None:
    """The divergence id of ``?before=`` (``None`` when absent)."""
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_JOB_ID:
        raise BadRequest(f"before: {text[:40]!r} is not a divergence id (a whole number "
                         "from 1)")
    return int(text)


def _kind(request: Request) -> str | None:
    kind = _text(request, "kind", 64)
    if kind is not None and kind not in DIVERGENCE_KINDS:
        raise BadRequest(f"kind: {kind[:40]!r} is not a kind of divergence; choose one of "
                         f"{', '.join(DIVERGENCE_KINDS)}")
    return kind


# -- pages ----------------------------------------------------------------------------------------
def paths(request: Request) -> Response:
    """``/paths``: the job types with runs (and those the app declares), each with when its
    newest run ended and its expected path."""
    current = visit(request)
    app = _app(request)
    newest = dict(app.paths.job_names(limit=JOB_TYPES))
    jobs = []
    for name in sorted(newest.keys() | app.registry.keys()):
        definition = app.registry.get(name)
        expectation = definition.expectation if definition else None
        jobs.append({"job_name": name, "newest_run": iso(newest.get(name)),
                     "declared": definition is not None,
                     "expect": None if expectation is None else expectation.text})
    return render(request, "paths.html", {"jobs": jobs, "listed_at_most": JOB_TYPES}, current)


def job_paths(request: Request) -> Response:
    """``/paths/{job}``: a job's path variants with counts, shares and durations, those new
    since a deploy, their directly-follows graph and the funnel, from its newest `RUNS`
    runs (404 for a job neither declared nor run)."""
    current = visit(request)
    name = request.path_params["job_name"]
    if len(name) > MAX_NAME:
        raise BadRequest(f"job: at most {MAX_NAME} characters")
    since, new_since = moment_param(request, "since"), moment_param(request, "new_since")
    version = _text(request, "version", MAX_VERSION)
    if new_since is not None and version is not None:
        raise BadRequest("new_since, version: give one of them, not both")
    app = _app(request)
    runs = app.paths.runs(name, since=since, limit=RUNS) if name else []
    definition = app.registry.get(name)
    if not runs and definition is None:
        raise HTTPException(404, f"no job type {name!r}: it has no finished run, and this "
                                 "app declares none of that name")
    new = newness(runs, new_since, version)
    found = [variant_json(v) for v in variants.group(
        runs, new_since=new_since if new["compared"] else None,
        new_in_version=new["version"] if new["compared"] else None)]
    new["count"] = sum(1 for v in found if v["new"])
    expectation = definition.expectation if definition else None
    data = {
        "job_name": name, "declared": definition is not None,
        "expect": None if expectation is None else expectation.text,
        "runs": {"read": len(runs), "limit": RUNS, "whole": len(runs) < RUNS,
                 "since": iso(since),
                 "oldest": iso(runs[0].finished_at) if runs else None,
                 "newest": iso(runs[-1].finished_at) if runs else None},
        "new": new, "variants": found,
        "funnel": funnel_json(variants.funnel(name, runs, app.paths.expected_points(name))),
        "graph": follows.graph(found),
    }
    return render(request, "job_paths.html", data, current)


def newness(runs: list[RunRecord], new_since: datetime | None,
            version: str | None) -> dict[str, Any]:
    """Which paths count as new: first taken at or after *new_since*, or taken only under
    code *version* (by default, the version of the newest run), with whether the runs read
    reach back far enough to tell (``compared``) and, when not, why."""
    chosen = "query" if new_since is not None or version is not None else "newest version"
    if new_since is None and version is None and runs:
        version = runs[-1].code_version
    note = None
    if new_since is not None:
        compared = bool(runs) and runs[0].finished_at < new_since
        if not compared:
            note = "no run read ended before that time: there is nothing to compare with"
    elif version is not None:
        compared = any(run.code_version != version for run in runs)
        if not compared:
            note = (f"every run read ran version {version}: there is no earlier version "
                    "among them to compare with")
    else:
        compared = False
        note = ("the runs record no code version (App(code_version=...) or "
                "$JOBTRAIL_CODE_VERSION): give new_since to compare by time")
    return {"since": iso(new_since), "version": version, "chosen": chosen,
            "compared": compared, "note": note if runs else None}


def divergences(request: Request) -> Response:
    """``/divergences``: stored divergences newest first, by job and kind, a page at a time
    (``?before=ID``), under counts by (job, kind) of the newest `COUNTED`."""
    current = visit(request)
    job_name, kind = _text(request, "job"), _kind(request)
    before = _divergence_id(request.query_params.get("before"))
    app = _app(request)
    found = app.paths.divergences(job_name=job_name, kind=kind, limit=PAGE_SIZE + 1,
                                  before_id=before)
    counts = app.paths.divergence_counts(job_name=job_name, kind=kind, newest=COUNTED)
    shown = found[:PAGE_SIZE]
    next_before = shown[-1].id if len(found) > PAGE_SIZE else None
    kept = [(key, value) for key, value in (("job", job_name), ("kind", kind)) if value]
    data = {
        "filters": {"job": job_name, "kind": kind}, "kinds": list(DIVERGENCE_KINDS),
        "counts": [{"job_name": j, "kind": k, "count": c} for (j, k), c in sorted(counts.items())],
        "counted": sum(counts.values()), "counted_at_most": COUNTED,
        "divergences": [divergence_json(d) for d in shown],
        "before": before, "next_before": next_before,
        "first_page": "?" + urlencode(kept),
        "next_page": None if next_before is None
        else "?" + urlencode([*kept, ("before", str(next_before))]),
    }
    return render(request, "divergences.html", data, current)


def rules(request: Request) -> Response:
    """``/rules``: the business rules the app declares and how each fared — checked, kept,
    pending, and the occurrences that broke it (the newest `BREACHES`), each linking to its
    job — over what a bounded check reads (`RULE_RUNS`, `RULE_EVENTS`)."""
    current = visit(request)
    since = moment_param(request, "since")
    app = _app(request)
    reports = app.paths.check_rules(since=since, bound=Bound(RULE_RUNS, RULE_EVENTS))
    shaped = []
    for report in reports:
        shape = report_json(report)
        broken = shape["broken"]
        shape.update(when=str(report.rule.when), then=str(report.rule.then),
                     within=report.rule.within, broken_count=len(broken),
                     broken=broken[::-1][:BREACHES])
        shaped.append(shape)
    data = {"since": iso(since), "rules": shaped, "breaches_at_most": BREACHES,
            "bound": {"runs": RULE_RUNS, "events": RULE_EVENTS}}
    return render(request, "rules.html", data, current)
