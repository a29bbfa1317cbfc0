"""Operators' actions on several jobs from the command line (``cancel``, ``dlq replay``,
``dlq discard``): one line for each job, a summary, the count and confirmation of ``--all``,
progress on long runs, ``--json`` results, and the exit code.

A job acted on is a line on standard output; one left as it was is an ``error:`` line on
standard error saying why (with ``--json`` too, whose results say it again). The exit code
is 0 when every job was acted on, 3 when the only failures are unknown ids, 1 otherwise.
``--json`` prints one result per job, in order::

    {"id": 7, "ok": true, "result": "done", "job_name": "charge", "queue": "billing",
     "status": "queued", "message": null}

``result`` is ``done``, ``not_found``, ``status`` (the job's status does not allow the
action: for a job selected by ``--all``, it moved on meanwhile) or ``uncertain`` (a replay
refused while one of the job's effects is uncertain: resolve it first).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import click

from jobtrail.bulk import BATCH_SIZE, Action, ActionTally
from jobtrail.cli import exits
from jobtrail.cli.output import emit_json, iso
from jobtrail.store.actions import ActionResult, ActionVerdict

#: What each action did to a job, as its line says.
DONE = {"replay": "queued again", "discard": "discarded", "cancel": "cancelled"}
#: Why jobs were left, as summaries count them.
LEFT: dict[ActionVerdict, str] = {
    "not_found": "not found",
    "status": "refused: their status does not allow it",
    "uncertain": "refused: an effect is uncertain (record what happened with "
                 "`jobtrail dlq resolve`, then replay)",
}
#: Why jobs selected by ``--all`` were left for their status: they moved on meanwhile.
MOVED_ON = "skipped: their status changed since they were selected"


def inline(text: str) -> str:
    """*text* on one line: control characters (a newline in a job name) escaped."""
    return text if text.isprintable() else repr(text)[1:-1]


@dataclass
class Report:
    """What a command's action did, job by job: printed as it goes, or kept for ``--json``."""

    action: Action
    as_json: bool
    #: How many jobs were selected: a run longer than a batch tells standard error how
    #: far it has got after each one.
    selected: int = 0
    every_job: bool = True
    results: list[dict[str, Any]] = field(default_factory=list)
    tally: ActionTally = field(default_factory=ActionTally)

    def batch(self, results: list[ActionResult]) -> None:
        """Take one committed batch: count it, print its lines or keep its results."""
        self.tally = tally = self.tally.add(results)
        for result in results:
            if self.as_json:
                self.results.append(result_json(result))
            if result.verdict != "done":
                click.echo(f"error: {inline(result.message or result.verdict)}", err=True)
            elif self.every_job and not self.as_json and result.job is not None:
                job = result.job
                click.echo(f"job {job.id} ({inline(job.job_name)}) {DONE[self.action]}: "
                           f"now {job.status.value}")
        if self.selected > BATCH_SIZE:
            click.echo(f"{self.action}: {tally.total:,} of {self.selected:,} jobs done",
                       err=True)

    def finish(self, summary: bool) -> int:
        """Print the JSON results or, with *summary*, a line adding up what was done; return
        the exit code."""
        if self.as_json:
            emit_json(self.results)
        elif summary:
            click.echo(summary_line(self.action, self.tally, selected=not self.every_job))
        return exit_code(self.tally)


def result_json(result: ActionResult) -> dict[str, Any]:
    """The JSON shape of what an action did to one job."""
    job = result.job
    return {"id": result.job_id, "ok": result.verdict == "done", "result": result.verdict,
            "job_name": None if job is None else job.job_name,
            "queue": None if job is None else job.queue,
            "status": None if job is None else job.status.value, "message": result.message}


def summary_line(action: Action, tally: ActionTally, *, selected: bool = False) -> str:
    """One line adding up an action on many jobs (*selected* by ``--all``, rather than
    named by their ids)."""
    parts = [f"{DONE[action]}: {tally.done:,} of {tally.total:,} jobs"]
    for verdict, why in LEFT.items():
        if tally.of(verdict):
            moved_on = selected and verdict == "status"
            parts.append(f"{tally.of(verdict):,} {MOVED_ON if moved_on else why}")
    return "; ".join(parts)


def exit_code(tally: ActionTally) -> int:
    """0 when every job was acted on; 3 when the only failures are unknown ids; else 1."""
    if not tally.failed:
        return exits.OK
    return exits.NOT_FOUND if tally.failed == tally.not_found else exits.FAILURE


def confirm(description: str, yes: bool) -> None:
    """Go ahead with what *description* says will be done only when the user says so:
    ``--yes``, or an answer at the terminal. Without a terminal to ask at, refuse at once
    (never wait for an answer that cannot come)."""
    if yes:
        click.echo(description, err=True)
        return
    if not sys.stdin.isatty():
        raise click.UsageError(
            f"{description}, but standard input is not a terminal to confirm it: "
            "add --yes to go ahead")
    click.echo(description, err=True)
    if not click.confirm("Go ahead?", default=False, err=True):
        raise click.ClickException("not confirmed: nothing was done")


def filters_text(job_name: str | None, queue: str | None, error_type: str | None,
                 since: datetime | None) -> str:
    """The filters of a selection as options, for messages (``--job charge --since ...``)."""
    given = [("--job", job_name), ("--queue", queue), ("--error", error_type),
             ("--since", iso(since))]
    return " ".join(f"{option} {inline(value)}" for option, value in given if value is not None)
