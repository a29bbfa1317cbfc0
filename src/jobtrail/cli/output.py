"""Shared output: JSON shapes with stable keys, and the rich tables and views of jobs.

JSON datetimes are ISO-8601 in UTC; human tables show UTC times too, so what one
operator reads matches what another's script parses.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import click
from rich import box
from rich.console import Console, Group, JustifyMethod
from rich.table import Table
from rich.text import Text

from jobtrail.records import ErrorInfo, Event, JobRecord, Status
from jobtrail.store.base import EffectRecord

STATUS_STYLES: dict[Status, str] = {
    Status.QUEUED: "blue",
    Status.RUNNING: "cyan",
    Status.RETRYING: "yellow",
    Status.SUCCEEDED: "green",
    Status.DEAD: "bold red",
    Status.ORPHANED: "magenta",
    Status.CANCELLED: "dim",
}
ERROR_SUMMARY_CHARS = 80
MIN_ERROR_WIDTH = 10
#: Lines are this wide at most when printing to a pipe: wide enough never to cut a table.
PIPE_WIDTH = 500


def console() -> Console:
    """A console on standard output: colour only on a terminal, and no truncation when
    the output goes to a file or a pipe (unless ``$COLUMNS`` says how wide it is)."""
    out = Console(highlight=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out = Console(highlight=False, width=PIPE_WIDTH)
    return out


# -- JSON -------------------------------------------------------------------------------------
def iso(moment: datetime | None) -> str | None:
    """ISO-8601 text of an aware datetime, in UTC (``None`` stays ``None``)."""
    return None if moment is None else moment.astimezone(UTC).isoformat()


def error_json(error: ErrorInfo | None) -> dict[str, str] | None:
    """The JSON shape of a job's error."""
    if error is None:
        return None
    return {"type": error.type, "message": error.message, "traceback": error.traceback}


def job_json(job: JobRecord) -> dict[str, Any]:
    """The JSON shape of a job: the same keys in every command that prints jobs."""
    return {
        "id": job.id,
        "job_name": job.job_name,
        "queue": job.queue,
        "status": job.status.value,
        "priority": job.priority,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "args": job.args,
        "result": job.result,
        "error": error_json(job.error),
        "outcome": job.outcome,
        "created_at": iso(job.created_at),
        "run_at": iso(job.run_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "worker_id": job.worker_id,
        "parent_job_id": job.parent_job_id,
        "trace_id": job.trace_id,
        "variant": job.variant,
        "code_version": job.code_version,
    }


def event_json(event: Event) -> dict[str, Any]:
    """The JSON shape of one event on a job's path."""
    return {
        "attempt": event.attempt,
        "kind": event.kind,
        "name": event.name,
        "at": iso(event.at),
        "duration": event.duration,
        "attrs": event.attrs,
    }


def emit_json(data: Any) -> None:
    """Print *data* as indented JSON on standard output."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


# -- human views ---------------------------------------------------------------------------------
def when(moment: datetime | None, *, precise: bool = False) -> str:
    """A short UTC time for tables ("-" for none)."""
    if moment is None:
        return "-"
    text = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return text[:-3] if precise else text[:-7]


def status_text(status: Status) -> Text:
    """A job status, coloured."""
    return Text(status.value, style=STATUS_STYLES.get(status, ""))


def error_summary(error: ErrorInfo | None, limit: int = ERROR_SUMMARY_CHARS) -> str:
    """One line naming an error: short class name and the start of its message."""
    if error is None:
        return ""
    lines = error.message.strip().splitlines()
    text = f"{error.type.rsplit('.', 1)[-1]}: {lines[0] if lines else ''}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def jobs_table(jobs: Sequence[JobRecord], width: int, title: str | None = None) -> Table:
    """An aligned table of jobs: id, job, queue, status, attempts, created, error.

    One line per job: the error summary is cut to what is left of *width* columns.
    """
    headers = ("ID", "Job", "Queue", "Status", "Attempts", "Created (UTC)")
    rows = [
        (
            str(job.id), job.job_name, job.queue, job.status.value,
            f"{job.attempts}/{job.max_attempts}", when(job.created_at),
        )
        for job in jobs
    ]
    widths = [
        max([len(header), *(len(row[i]) for row in rows)]) for i, header in enumerate(headers)
    ]
    room = max(MIN_ERROR_WIDTH, width - sum(widths) - 3 * len(headers))
    table = Table(
        title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD,
        show_edge=False, pad_edge=False,
    )
    for header in headers:
        justify: JustifyMethod = "right" if header in ("ID", "Attempts") else "left"
        table.add_column(header, no_wrap=True, justify=justify)
    table.add_column("Error", no_wrap=True, overflow="ellipsis", max_width=room)
    for job, row in zip(jobs, rows, strict=True):
        table.add_row(
            row[0], Text(row[1]), Text(row[2]), status_text(job.status), row[4], row[5],
            Text(error_summary(job.error, room), style="red"),
        )
    return table


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def job_view(job: JobRecord, events: Iterable[Event],
             effects: Sequence[EffectRecord] = ()) -> Group:
    """Everything about one job: its fields, error and traceback, its effects and its
    timeline."""
    events = list(events)
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold", no_wrap=True)
    fields.add_column()
    rows: list[tuple[str, str | Text]] = [
        ("Job", Text(f"{job.job_name} #{job.id}")),
        ("Status", status_text(job.status)),
        ("Queue", Text(job.queue)),
        ("Priority", str(job.priority)),
        ("Attempts", f"{job.attempts} of {job.max_attempts}"),
        ("Arguments", Text(_compact(job.args) if job.args is not None else job.raw_payload)),
        ("Result", Text("-" if job.result is None else _compact(job.result))),
        ("Outcome", job.outcome or "-"),
        ("Created", when(job.created_at)),
        ("Run at", when(job.run_at)),
        ("Started", when(job.started_at)),
        ("Finished", when(job.finished_at)),
        ("Worker", Text(job.worker_id or "-")),
        ("Parent", str(job.parent_job_id) if job.parent_job_id is not None else "-"),
        ("Trace", job.trace_id or "-"),
        ("Path", Text(path_text(job))),
        ("Milestones", Text(", ".join(milestones(events)) or "-")),
    ]
    for name, value in rows:
        fields.add_row(name, value)
    parts: list[Any] = [fields]
    if job.error is not None:
        parts.append(Text(f"\nError: {job.error}", style="bold red"))
        if job.error.traceback:
            parts.append(Text(job.error.traceback.rstrip(), style="dim"))
    if effects:
        parts.append(effects_table(effects))
    parts.append(events_table(events))
    return Group(*parts)


def path_text(job: JobRecord) -> str:
    """A job's path variant as views show it: ``-`` before its run ended for good."""
    if job.variant is None:
        return "-"
    return job.variant or "(no steps, effects, decisions or exits)"


def milestones(events: Iterable[Event]) -> list[str]:
    """The milestones (``ctx.event`` names) on a path, each once, in the order reached."""
    return list(dict.fromkeys(e.name for e in events if e.kind == "event"))


def events_table(events: Iterable[Event]) -> Table:
    """A job's path as a timeline: time, attempt, kind, event, duration, details."""
    table = Table(
        title="\nTimeline", title_justify="left", header_style="bold", box=box.SIMPLE_HEAD,
        show_edge=False, pad_edge=False,
    )
    table.add_column("At (UTC)", no_wrap=True)
    table.add_column("Attempt", justify="right")
    table.add_column("Kind")
    table.add_column("Event")
    table.add_column("Duration", justify="right")
    table.add_column("Details")
    for event in events:
        details = " ".join(f"{key}={_compact(value)}" for key, value in event.attrs.items())
        duration = "" if event.duration is None else f"{event.duration * 1000:.1f} ms"
        table.add_row(
            when(event.at, precise=True), str(event.attempt), event.kind, Text(event.name),
            duration, Text(details),
        )
    return table


def effect_json(effect: EffectRecord) -> dict[str, Any]:
    """The JSON shape of one effect of a job."""
    return {
        "key": effect.key, "name": effect.name, "attempt": effect.attempt,
        "status": effect.status, "repeat_safe": effect.repeat_safe,
        "repeated": effect.repeated, "result": effect.result, "error": effect.error,
        "started_at": iso(effect.started_at), "finished_at": iso(effect.finished_at),
    }


def effects_table(effects: Iterable[EffectRecord]) -> Table:
    """A job's effects: key, status, the attempt that began it, and what it returned."""
    table = Table(title="\nEffects", title_justify="left", header_style="bold",
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("Effect", "Key", "Status", "Attempt", "Result or error"):
        table.add_column(column)
    for e in effects:
        status = Text(e.status + (" (ran again)" if e.repeated else ""),
                      style="red" if e.status == "started" or e.repeated else "")
        table.add_row(Text(e.name), Text(e.key), status, str(e.attempt),
                      Text(e.error or e.result or "-"))
    return table
