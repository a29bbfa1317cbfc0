"""``jobtrail dlq``: the dead-letter queue (``dead`` and ``orphaned`` jobs) and what to do
with its jobs: look, run again, or let go — one, several, or ``--all`` that a filter selects
(after a bad deploy: ``jobtrail dlq replay --all --error NameError --since 1h``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, astuple, dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

import click

from jobtrail.bulk import batches
from jobtrail.cli.bulk import DONE, Report, confirm, filters_text
from jobtrail.cli.loading import app_from, opened, source_options
from jobtrail.cli.output import (
    console,
    effect_json,
    emit_json,
    event_json,
    job_json,
    job_view,
    wide_option,
)
from jobtrail.cli.pages import before_option, fetch_limit, page_json, page_of, print_page
from jobtrail.cli.times import MOMENT
from jobtrail.errors import JobNotFound
from jobtrail.views import DEAD_LETTER_STATUSES

F = TypeVar("F", bound=Callable[..., Any])

JSON_HELP = "Print JSON instead of a table."


@click.group("dlq")
def dlq_group() -> None:
    """Inspect and resolve dead letters (jobs that ended dead or orphaned)."""


def selection_options(command: F) -> F:
    """The options that narrow a selection of dead letters."""
    for option in reversed((
        click.option("--job", "job_name", metavar="NAME", help="Only jobs of this job type."),
        click.option("--queue", "-q", metavar="QUEUE", help="Only jobs of this queue."),
        click.option("--error", "error_type", metavar="CLASS",
                     help="Only jobs that ended with this error class, as stored "
                     "(NameError, billing.Declined) or without its module (Declined)."),
        click.option("--since", type=MOMENT,
                     help="Only jobs that ended since TIME: an age (45s, 30m, 1h, 2d, 1w) "
                     "or an ISO-8601 time."),
    )):
        command = option(command)
    return command


def acting_options(command: F) -> F:
    """The arguments and options of an action on several dead letters."""
    for option in reversed((
        click.argument("job_ids", metavar="[ID]...", type=int, nargs=-1),
        click.option("--all", "every", is_flag=True,
                     help="Every dead letter the options below select (asks to confirm)."),
        selection_options,
        click.option("--yes", "-y", is_flag=True, help="Go ahead with --all without asking."),
        click.option("--json", "as_json", is_flag=True,
                     help="Print a JSON array of results, one per job."),
        source_options,
    )):
        command = option(command)
    return command


@dlq_group.command("list")
@selection_options
@click.option(
    "--limit", "-n", type=click.IntRange(min=1), default=50, show_default=True,
    help="Show at most this many dead letters, newest first.",
)
@before_option
@click.option("--json", "as_json", is_flag=True,
              help='Print {"jobs": [...], "total": N, "next_before": ID or null}.')
@wide_option
@source_options
def list_dead(target: str | None, url: str | None, job_name: str | None, queue: str | None,
              error_type: str | None, since: datetime | None, limit: int, before: int | None,
              as_json: bool, wide: bool) -> None:
    """List dead letters, newest first, with the error that ended each, a page at a time:
    it says how many of how many match, and ends with the command for the next page."""
    selection = Selection(job_name, queue, error_type, since)
    with opened(app_from(target, url)) as app:
        found = app.dead_letters(limit=fetch_limit(limit), before_id=before, **asdict(selection))
        total = app.count_dead_letters(**asdict(selection))
    page = page_of(found, limit, total)
    if as_json:
        emit_json(page_json(page))
    else:
        empty = (f"no dead letters match {selection}" if selection.given()
                 else "the dead-letter queue is empty")
        print_page(page, "dead letters", empty, wide)


@dlq_group.command("show")
@click.argument("job_id", metavar="ID", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the job and its events as JSON.")
@wide_option
@source_options
def show_dead(target: str | None, url: str | None, job_id: int, as_json: bool,
              wide: bool) -> None:
    """Show one dead letter with its error, traceback and timeline.

    An ID that is not in the dead-letter queue exits with code 3.
    """
    with opened(app_from(target, url)) as app:
        job = app.get(job_id)
        if job.status not in DEAD_LETTER_STATUSES:
            raise JobNotFound(
                f"job {job_id} is {job.status.value}, not in the dead-letter queue"
            )
        effects = app.effects(job_id)
    if as_json:
        emit_json({"job": job_json(job), "events": [event_json(event) for event in job.path],
                   "effects": [effect_json(effect) for effect in effects]})
    else:
        out = console(wide)
        out.print(job_view(job, job.path, effects, out.width))


@dlq_group.command("replay")
@acting_options
def replay(target: str | None, url: str | None, job_ids: tuple[int, ...], every: bool,
           job_name: str | None, queue: str | None, error_type: str | None,
           since: datetime | None, yes: bool, as_json: bool) -> int:
    """Queue dead, orphaned or cancelled jobs again: same ids, attempts reset.

    Give their ids, or --all for every dead letter that --job, --queue, --error and --since
    select: it says how many, asks to confirm (--yes does not ask) and replays them in
    batches. A job with an uncertain effect is refused until the effect is resolved
    (`jobtrail dlq resolve`), and one whose status changed meanwhile is skipped: each is
    one error line, and the others are replayed. Exits 0 when every job was replayed, 3
    when the only failures are unknown ids, 1 otherwise.
    """
    return _act("replay", target, url, job_ids, every,
                Selection(job_name, queue, error_type, since), yes, as_json)


@dlq_group.command("discard")
@acting_options
def discard(target: str | None, url: str | None, job_ids: tuple[int, ...], every: bool,
            job_name: str | None, queue: str | None, error_type: str | None,
            since: datetime | None, yes: bool, as_json: bool) -> int:
    """Take dead or orphaned jobs out of the dead-letter queue for good (they end cancelled).

    Give their ids, or --all for every dead letter that --job, --queue, --error and --since
    select: it says how many, asks to confirm (--yes does not ask) and discards them in
    batches. A job that is not a dead letter (any more) is one error line, and the others
    are discarded. Exits 0 when every job was discarded, 3 when the only failures are
    unknown ids, 1 otherwise.
    """
    return _act("discard", target, url, job_ids, every,
                Selection(job_name, queue, error_type, since), yes, as_json)


@dlq_group.command("resolve")
@click.argument("job_id", metavar="ID", type=int)
@click.argument("effect", metavar="EFFECT")
@click.argument("verdict", metavar="done|not_done", type=click.Choice(["done", "not_done"]))
@click.option(
    "--result", "result_json", metavar="JSON",
    help="With done: what the effect returned, as JSON (default null); a later attempt "
    "gets it instead of calling the effect.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the resolved effect as JSON.")
@source_options
def resolve(target: str | None, url: str | None, job_id: int, effect: str, verdict: str,
            result_json: str | None, as_json: bool) -> None:
    """Record what happened to an uncertain EFFECT of job ID (begun, its end never
    recorded): done (it happened) or not_done (it did not). Then replay the job: a done
    effect returns its result, a not_done one is performed.

    An unknown job or effect exits with code 3; an effect already done with code 1.
    """
    if result_json is not None and verdict != "done":
        raise click.UsageError("--result goes with done: a not_done effect has no result")
    try:
        result = json.loads(result_json) if result_json is not None else None
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON ({exc})", param_hint="--result") from None
    with opened(app_from(target, url)) as app:
        record = app.resolve_effect(job_id, effect, verdict, result)
    if as_json:
        emit_json({"key": record.key, "job_id": record.job_id, "name": record.name,
                   "status": record.status, "result": record.result})
    else:
        click.echo(f"effect {record.name} (key {record.key}) of job {job_id} resolved: "
                   f"{verdict}; replay the job with `jobtrail dlq replay {job_id}`")


@dataclass(frozen=True)
class Selection:
    """The dead letters ``--all`` selects."""

    job_name: str | None
    queue: str | None
    error_type: str | None
    since: datetime | None

    def given(self) -> bool:
        """True when any filter narrows the selection."""
        return any(value is not None for value in astuple(self))

    def __str__(self) -> str:
        return filters_text(self.job_name, self.queue, self.error_type, self.since)


def _act(action: Literal["replay", "discard"], target: str | None, url: str | None,
         job_ids: tuple[int, ...], every: bool, selection: Selection, yes: bool,
         as_json: bool) -> int:
    if every and job_ids:
        raise click.UsageError("give job ids or --all, not both")
    if not every and not job_ids:
        raise click.UsageError(f"name the jobs to {action}: their ids, or --all (narrowed "
                               "by --job, --queue, --error, --since)")
    if selection.given() and not every:
        raise click.UsageError(f"--job, --queue, --error and --since narrow --all: add --all, "
                               f"or leave them out to {action} the ids given")
    with opened(app_from(target, url)) as app:
        act = app.replay_many if action == "replay" else app.discard_many
        if not every:
            report = Report(action, as_json)
            report.batch(act(job_ids))
            return report.finish(summary=len(set(job_ids)) > 1)
        chosen = app.dead_letter_ids(**asdict(selection))
        narrowed = f" matching {selection}" if selection.given() else ""
        if not chosen:
            raise JobNotFound(f"no dead letters{narrowed}: nothing to {action}")
        count = len(chosen)
        confirm(f"{count:,} dead letter{'s' if count != 1 else ''}{narrowed} will be "
                f"{DONE[action]}", yes)
        report = Report(action, as_json, selected=count, every_job=False)
        for batch in batches(chosen):
            report.batch(act(batch))  # one transaction each
        return report.finish(summary=True)
