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
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from jobtrail.cli.tables import WIDE, Column, shown, table
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
#: Lines are this wide at most when printing to a pipe: wide enough never to cut a table.
PIPE_WIDTH = 500
#: The narrowest an error summary gets in a list before optional columns give way.
ERROR_WIDTH = 30

wide_option = click.option(
    "--wide", is_flag=True,
    help="Show every text whole, however wide: nothing elided, no column left out.")


def console(wide: bool = False) -> Console:
    """A console on standard output: colour only on a terminal, and no truncation when
    the output goes to a file or a pipe (unless ``$COLUMNS`` says how wide it is). With
    *wide*, wider than any line, so that tables show every text whole (see `tables`)."""
    if wide:
        return Console(highlight=False, width=WIDE)
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


def error_summary(error: ErrorInfo | None) -> str:
    """One line naming an error: short class name and the first line of its message."""
    if error is None:
        return ""
    lines = error.message.strip().splitlines()
    return f"{error.type.rsplit('.', 1)[-1]}: {lines[0] if lines else ''}"


JOB_COLUMNS = (
    Column("ID", justify="right"), Column("Job", "elide"), Column("Queue", "elide"),
    Column("Status"), Column("Attempts", justify="right"),
    Column("Created (UTC)", optional=True),
    Column("Error", "elide", style="red", narrowest=ERROR_WIDTH),
)


def jobs_table(jobs: Sequence[JobRecord], width: int, title: str | None = None) -> Table:
    """An aligned table of jobs, one line each: id, job, queue, status, attempts, created,
    error (see `tables.table`: in *width* columns, names and errors are elided in the
    middle, and the creation time left out before the error gets too narrow)."""
    rows = [
        (str(job.id), job.job_name, job.queue, status_text(job.status),
         f"{job.attempts}/{job.max_attempts}", when(job.created_at), error_summary(job.error))
        for job in jobs
    ]
    return table(JOB_COLUMNS, rows, width, title=title)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def job_view(job: JobRecord, events: Iterable[Event],
             effects: Sequence[EffectRecord] = (), width: int = PIPE_WIDTH) -> Group:
    """Everything about one job: its fields, error and traceback, its effects and its
    timeline, in *width* columns (long values wrap)."""
    events = list(events)
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold", no_wrap=True)
    fields.add_column(overflow="fold")
    rows: list[tuple[str, str | Text]] = [
        ("Job", f"{job.job_name} #{job.id}"),
        ("Status", status_text(job.status)),
        ("Queue", job.queue),
        ("Priority", str(job.priority)),
        ("Attempts", f"{job.attempts} of {job.max_attempts}"),
        ("Arguments", _compact(job.args) if job.args is not None else job.raw_payload),
        ("Result", "-" if job.result is None else _compact(job.result)),
        ("Outcome", job.outcome or "-"),
        ("Created", when(job.created_at)),
        ("Run at", when(job.run_at)),
        ("Started", when(job.started_at)),
        ("Finished", when(job.finished_at)),
        ("Worker", job.worker_id or "-"),
        ("Parent", str(job.parent_job_id) if job.parent_job_id is not None else "-"),
        ("Trace", job.trace_id or "-"),
        ("Path", path_text(job)),
        ("Milestones", ", ".join(milestones(events)) or "-"),
    ]
    for name, value in rows:
        fields.add_row(name, shown(value, newlines=True))
    parts: list[Any] = [fields]
    if job.error is not None:
        parts.append(shown(f"\nError: {job.error}", newlines=True, style="bold red"))
        if job.error.traceback:
            parts.append(shown(job.error.traceback.rstrip(), newlines=True, style="dim"))
    if effects:
        parts.append(effects_table(effects, width))
    parts.append(events_table(events, width))
    return Group(*parts)


def path_text(job: JobRecord) -> str:
    """A job's path variant as views show it: ``-`` before its run ended for good."""
    if job.variant is None:
        return "-"
    return job.variant or "(no steps, effects, decisions or exits)"


def milestones(events: Iterable[Event]) -> list[str]:
    """The milestones (``ctx.event`` names) on a path, each once, in the order reached."""
    return list(dict.fromkeys(e.name for e in events if e.kind == "event"))


EVENT_COLUMNS = (
    Column("At (UTC)"), Column("Attempt", justify="right"), Column("Kind"),
    Column("Event", "elide"), Column("Duration", justify="right"), Column("Details", "wrap"),
)


def events_table(events: Iterable[Event], width: int = PIPE_WIDTH) -> Table:
    """A job's path as a timeline: time, attempt, kind, event, duration, details."""
    rows = []
    for event in events:
        details = " ".join(_detail(key, value) for key, value in event.attrs.items())
        duration = "" if event.duration is None else f"{event.duration * 1000:.1f} ms"
        rows.append((when(event.at, precise=True), str(event.attempt), event.kind, event.name,
                     duration, details))
    return table(EVENT_COLUMNS, rows, width, title="\nTimeline")


def _detail(key: str, value: Any) -> str:
    """One attribute of a timeline entry; what an attempt used, in units people read."""
    if key == "cpu" and isinstance(value, int | float):
        return f"cpu={value * 1000:.1f} ms"
    if key == "max_rss" and isinstance(value, int):
        return f"peak_memory={mebibytes(value)}"
    return f"{key}={_compact(value)}"


def mebibytes(value: int) -> str:
    """Bytes for people: ``31.4 MiB``."""
    return f"{value / 2**20:,.1f} MiB"


def effect_json(effect: EffectRecord) -> dict[str, Any]:
    """The JSON shape of one effect of a job."""
    return {
        "key": effect.key, "name": effect.name, "attempt": effect.attempt,
        "status": effect.status, "repeat_safe": effect.repeat_safe,
        "repeated": effect.repeated, "result": effect.result, "error": effect.error,
        "started_at": iso(effect.started_at), "finished_at": iso(effect.finished_at),
    }


EFFECT_COLUMNS = (
    Column("Effect", "wrap", narrowest=20), Column("Key", "elide"), Column("Status"),
    Column("Attempt", justify="right"), Column("Result or error", "wrap"),
)


def effects_table(effects: Iterable[EffectRecord], width: int = PIPE_WIDTH) -> Table:
    """A job's effects: key, status, the attempt that began it, and what it returned."""
    rows = []
    for e in effects:
        status = Text(e.status + (" (ran again)" if e.repeated else ""),
                      style="red" if e.status == "started" or e.repeated else "")
        rows.append((e.name, e.key, status, str(e.attempt), e.error or e.result or "-"))
    return table(EFFECT_COLUMNS, rows, width, title="\nEffects")
