"""``jobtrail paths``: a run's timeline, a job's path variants and funnel, and divergences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from jobtrail.cli.loading import app_from, opened, source_options
from jobtrail.cli.output import (
    console,
    emit_json,
    event_json,
    events_table,
    iso,
    milestones,
    path_text,
    when,
    wide_option,
)
from jobtrail.cli.tables import SECTION, Column, shown, table
from jobtrail.cli.times import MOMENT
from jobtrail.paths.variants import Funnel, Variant
from jobtrail.paths_api import DIVERGENCE_KINDS
from jobtrail.records import Divergence

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
since_option = click.option("--since", type=MOMENT, help="Only runs finished since TIME.")


@click.group("paths")
def paths_group() -> None:
    """Execution paths: timelines, variants, funnels, divergences and shadow runs."""


@paths_group.command("show")
@click.argument("job_id", metavar="JOB_ID", type=int)
@json_option
@wide_option
@source_options
def show(target: str | None, url: str | None, job_id: int, as_json: bool, wide: bool) -> None:
    """The timeline of one job's path over all its attempts."""
    with opened(app_from(target, url)) as app:
        job = app.get(job_id)
        found = app.paths.divergences(job_id=job_id)
    if as_json:
        emit_json({"job_id": job.id, "job_name": job.job_name, "status": job.status.value,
                   "variant": job.variant, "events": [event_json(e) for e in job.path],
                   "divergences": [divergence_json(d) for d in found]})
        return
    out = console(wide)
    out.print(shown(f"{job.job_name} #{job.id}: {job.status.value}", style="bold"))
    if job.variant is not None:
        out.print(shown(f"path: {path_text(job)}"))
    reached = milestones(job.path)
    if reached:
        out.print(shown(f"milestones: {', '.join(reached)}"))
    out.print(events_table(job.path, out.width))
    if found:
        out.print(divergences_table(found, out.width))


@paths_group.command("variants")
@click.argument("job_name", metavar="JOB")
@since_option
@click.option("--new-since", type=MOMENT, help="Flag paths first seen at or after TIME.")
@click.option("--new-in-version", metavar="VERSION",
              help="Flag paths seen only under this code version.")
@json_option
@wide_option
@source_options
def variants_command(target: str | None, url: str | None, job_name: str,
                     since: datetime | None, new_since: datetime | None,
                     new_in_version: str | None, as_json: bool, wide: bool) -> None:
    """The paths a job's finished runs took, with count, share and duration."""
    with opened(app_from(target, url)) as app:
        found = app.paths.variants(job_name, since=since, new_since=new_since,
                             new_in_version=new_in_version)
    if as_json:
        emit_json([variant_json(v) for v in found])
    elif not found:
        click.echo(f"no finished runs of {job_name!r}")
    else:
        out = console(wide)
        out.print(variants_table(job_name, found, out.width))


@paths_group.command("funnel")
@click.argument("job_name", metavar="JOB")
@since_option
@json_option
@wide_option
@source_options
def funnel_command(target: str | None, url: str | None, job_name: str,
                   since: datetime | None, as_json: bool, wide: bool) -> None:
    """How many of a job's finished runs reached each point of its path."""
    with opened(app_from(target, url)) as app:
        found = app.paths.funnel(job_name, since=since)
    if as_json:
        emit_json(funnel_json(found))
    elif not found.started:
        click.echo(f"no finished runs of {job_name!r}")
    else:
        out = console(wide)
        out.print(funnel_table(found, out.width))


@paths_group.command("divergences")
@click.option("--job", "job_name", metavar="NAME", help="Only runs of this job type.")
@click.option("--kind", type=click.Choice(DIVERGENCE_KINDS), help="Only this kind.")
@click.option("--since", type=MOMENT, help="Only divergences found since TIME.")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=50, show_default=True,
              help="Show at most this many, newest first.")
@json_option
@wide_option
@source_options
def divergences_command(target: str | None, url: str | None, job_name: str | None,
                        kind: str | None, since: datetime | None, limit: int,
                        as_json: bool, wide: bool) -> None:
    """Runs that departed from their job's expected path: counts, then the latest."""
    with opened(app_from(target, url)) as app:
        counts = app.paths.divergence_counts(job_name=job_name, kind=kind, since=since)
        found = app.paths.divergences(job_name=job_name, kind=kind, since=since, limit=limit)
    if as_json:
        emit_json({"counts": [{"job_name": j, "kind": k, "count": c}
                              for (j, k), c in sorted(counts.items())],
                   "divergences": [divergence_json(d) for d in found]})
        return
    if not found:
        click.echo("no divergences")
        return
    out = console(wide)
    out.print(table(COUNT_COLUMNS, [(job, k, str(count)) for (job, k), count
                                    in sorted(counts.items())], out.width, title="Divergences"))
    out.print(divergences_table(found, out.width))


@paths_group.command("shadow")
@click.argument("job_name", metavar="JOB")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Read at most this many of the newest comparisons.")
@json_option
@wide_option
@source_options
def shadow_command(target: str | None, url: str | None, job_name: str, limit: int,
                   as_json: bool, wide: bool) -> None:
    """How a job's shadow candidate compared with its real runs (see app.paths.shadow)."""
    with opened(app_from(target, url)) as app:
        found = app.paths.shadow_reports(job_name, limit=limit)
    differing = [r for r in found if not r.same]
    summary = {"job_name": job_name, "compared": len(found),
               "same_path": sum(r.same_path for r in found),
               "same_result": sum(r.same_result for r in found)}
    if as_json:
        emit_json({**summary, "differences": [
            {"real_job_id": r.real_job_id, "shadow_job_id": r.shadow_job_id,
             "same_path": r.same_path, "same_result": r.same_result, "real_path": r.real_path,
             "shadow_path": r.shadow_path, "real_result": r.real_result,
             "real_error": r.real_error, "shadow_result": r.shadow_result,
             "shadow_error": r.shadow_error}
            for r in differing]})
        return
    if not found:
        click.echo(f"no shadow comparisons for {job_name!r} (declare one with app.paths.shadow)")
        return
    out = console(wide)
    out.print(shown(f"{job_name}: {len(found)} runs compared; same path "
                    f"{summary['same_path']}, same result {summary['same_result']}"))
    if differing:
        rows = []
        for r in differing[:50]:
            real = r.real_error or repr(r.real_result)
            result = "same" if r.same_result else (
                f"{real} → {r.shadow_error or repr(r.shadow_result)}")
            rows.append((str(r.real_job_id), r.real_path or "-", r.shadow_path, result))
        out.print(table(SHADOW_COLUMNS, rows, out.width, title="Differences"))


# -- shapes ---------------------------------------------------------------------------------------
def divergence_json(d: Divergence) -> dict[str, Any]:
    """The JSON shape of a stored divergence."""
    return {"id": d.id, "job_id": d.job_id, "job_name": d.job_name, "attempt": d.attempt,
            "kind": d.kind, "position": d.position, "found": d.found,
            "expected": list(d.expected), "message": d.message, "at": iso(d.at)}


def variant_json(v: Variant) -> dict[str, Any]:
    """The JSON shape of a path variant."""
    return {"path": v.path, "count": v.count, "share": round(v.share, 6), "p50": v.p50,
            "p95": v.p95, "first_seen": iso(v.first_seen), "last_seen": iso(v.last_seen),
            "versions": list(v.versions), "outcomes": v.outcomes, "new": v.new}


def funnel_json(f: Funnel) -> dict[str, Any]:
    """The JSON shape of a funnel."""
    return {"job_name": f.job_name, "started": f.started,
            "stages": [{"point": s.point, "reached": s.reached, "share": round(s.share, 6)}
                       for s in f.stages],
            "exits": f.exits, "outcomes": f.outcomes}


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f} ms"


VARIANT_COLUMNS = (
    Column("Path", "wrap", narrowest=24), Column("Runs", justify="right"),
    Column("Share", justify="right"), Column("p50", justify="right"),
    Column("p95", justify="right"), Column("First seen", justify="right", optional=True),
    Column("Last seen", justify="right", optional=True),
)
FUNNEL_COLUMNS = (
    Column("Point", "wrap"), Column("Reached", justify="right"),
    Column("Share", justify="right"), Column("Lost since previous", justify="right"),
)
COUNT_COLUMNS = (Column("Job", "elide"), Column("Kind"), Column("Count", justify="right"))
DIVERGENCE_COLUMNS = (
    Column("At (UTC)", optional=True), Column("Job ID", justify="right"), Column("Job", "elide"),
    Column("Kind"), Column("Position", justify="right"),
    Column("What happened", "wrap", narrowest=30),
)
SHADOW_COLUMNS = (
    Column("Real job", justify="right"), Column("Real path", "wrap"),
    Column("Candidate path", "wrap"), Column("Result", "wrap"),
)


def variants_table(job_name: str, found: list[Variant], width: int) -> Table:
    """Variants as a table, most common first (in *width* columns: paths wrap, the times
    seen are left out before a path gets too narrow)."""
    rows = []
    for v in found:
        path = shown(v.path or "(nothing recorded)", newlines=True)
        if v.new:
            path.append("  NEW", style="bold yellow")
        rows.append((path, str(v.count), f"{v.share:.1%}", _seconds(v.p50), _seconds(v.p95),
                     when(v.first_seen), when(v.last_seen)))
    return table(VARIANT_COLUMNS, rows, width, title=shown(f"Path variants of {job_name}"))


def funnel_table(f: Funnel, width: int) -> Table:
    """A funnel as a table: started, each point reached, then how the runs ended."""
    rows: list[tuple[str | Text, ...] | None] = [("started", str(f.started), "100.0%", "")]
    previous = f.started
    for stage in f.stages:
        rows.append((stage.point, str(stage.reached), f"{stage.share:.1%}",
                     str(max(0, previous - stage.reached))))
        previous = stage.reached
    rows.append(SECTION)
    for label, count in f.outcomes.items():  # how the runs ended, after the path
        style = "green" if label == "completed" else "dim" if label.startswith("exit:") else "red"
        rows.append((shown(label, style=style), str(count), f"{count / f.started:.1%}", ""))
    return table(FUNNEL_COLUMNS, rows, width, title=shown(f"Funnel of {f.job_name}"))


def divergences_table(found: list[Divergence], width: int) -> Table:
    """Divergences, newest first."""
    rows = [(when(d.at), str(d.job_id), d.job_name or "-", str(d.kind),
             "-" if d.position is None else str(d.position), d.message) for d in found]
    return table(DIVERGENCE_COLUMNS, rows, width, title="Latest")
