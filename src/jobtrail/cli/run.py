"""``jobtrail run``: run one job here, now — for real (stored, then one attempt in this
process, as a worker runs it: `jobtrail.onejob`) or, with ``--dry-run``, with its effects
captured and nothing stored."""

from __future__ import annotations

from typing import Any

import click
from rich.text import Text

from jobtrail.cli import exits
from jobtrail.cli.enqueue import (
    JobArgumentsCommand,
    deduplicated_line,
    enqueued_key,
    job_arguments,
    parse_arguments,
)
from jobtrail.cli.loading import code_app, load_app, opened
from jobtrail.cli.output import (
    console,
    effect_json,
    emit_json,
    error_json,
    event_json,
    job_json,
    job_view,
    status_text,
    wide_option,
)
from jobtrail.cli.tables import Column, shown, table
from jobtrail.dryrun import DryRun
from jobtrail.onejob import RunHere, run_here
from jobtrail.records import Status


@click.command("run", cls=JobArgumentsCommand)
@code_app("JOB_NAME", job_required=True)
@job_arguments
@click.option("--dry-run", is_flag=True,
              help="Capture every ctx.effect and ctx.enqueue instead of performing it, and "
              "store nothing.")
@click.option("--priority", type=int,
              help="The stored job's priority (default: the job type's); not with --dry-run.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome (or the dry run) as JSON.")
@wide_option
def run(target: str, job_name: str, pairs: tuple[str, ...], json_object: str | None,
        dry_run: bool, priority: int | None, as_json: bool, wide: bool) -> int:
    """Run one JOB_NAME job of MODULE:APP here, now, to debug it.

    The job is stored in the app's database and one attempt of it runs in this process as
    a worker would run it: its steps, effects and path are recorded, its effects performed.
    Prints its status, result, error and traceback, and the path it took; exits 1 unless it
    succeeded. Jobs it enqueues, and the retry of a failed attempt, are left to the app's
    workers. A job whose idempotency key matches a job that already ran, or is running, is
    not run again: the command says so and exits 1.

    With --dry-run, its steps and decisions run but its effects and child jobs are
    captured, and nothing is stored: prints the path it took, how it diverges from the
    job's expect=, the captured effects and the result; exits 1 when the job raised.
    """
    if dry_run and priority is not None:
        raise click.UsageError("--priority is for a stored job: a dry run stores nothing")
    with opened(load_app(target)) as app:
        definition = app.job_named(job_name)
        values = parse_arguments(definition, pairs, json_object)
        if not dry_run:
            here = run_here(app, definition, values, priority=priority)
            key = enqueued_key(app, definition, values, here.job) if here.deduplicated else None
            return _report(here, key, as_json, wide)
        done = definition.dry_run(**values)
    if as_json:
        emit_json(dry_run_json(done))
    else:
        _print(done, wide)
    return exits.OK if done.succeeded else exits.FAILURE


def _report(here: RunHere, key: str | None, as_json: bool, wide: bool) -> int:
    """Print what `run_here` did and return the exit code."""
    job = here.job
    line = _refusal(here, key) if here.refused is not None else None
    if as_json:
        emit_json(run_json(here, line))
    elif line is not None:
        raise click.ClickException(line)
    else:
        out = console(wide)
        out.print(Text.assemble(f"ran job {job.id} ({job.job_name}) here: ", _ending(here)))
        out.print(job_view(job, job.path, here.effects, out.width))
    if here.stopped:
        return exits.INTERRUPTED
    return exits.OK if job.status is Status.SUCCEEDED and line is None else exits.FAILURE


def _refusal(here: RunHere, key: str | None) -> str:
    job = here.job
    if here.deduplicated and here.stats is None:
        return deduplicated_line(job, key, str(here.refused))
    return f"job {job.id} ({job.job_name}) was stored, {here.refused} (it is {job.status})"


def _ending(here: RunHere) -> Text:
    """How the attempt ended, in a few words."""
    job = here.job
    if here.stopped:
        return Text(f"stopped before it finished; it is {job.status} and waits for a worker",
                    style="yellow")
    if job.status is Status.RETRYING:
        return Text(f"attempt {job.attempts} of {job.max_attempts} failed; a worker runs the "
                    "next one after its backoff", style="yellow")
    return status_text(job.status)


def run_json(here: RunHere, refused: str | None) -> dict[str, Any]:
    """The JSON shape of a run here: the job after it (as ``jobs show --json`` has it),
    whether this process ran it, and why not."""
    job = here.job
    return {
        "ran_here": here.ran, "deduplicated": here.deduplicated, "refused": refused,
        "stopped": here.stopped, "job": job_json(job),
        "events": [event_json(event) for event in job.path],
        "effects": [effect_json(effect) for effect in here.effects],
    }


def dry_run_json(done: DryRun) -> dict[str, Any]:
    """The JSON shape of a dry run."""
    return {
        "job_name": done.job_name, "variant": done.variant, "exit": done.exit_reason,
        "result": done.result, "error": error_json(done.error),
        "effects": [{"name": e.name, "key": e.key, "args": list(e.args), "kwargs": e.kwargs,
                     "repeat_safe": e.repeat_safe} for e in done.effects],
        "enqueued": [{"job_name": e.job_name, "args": e.args} for e in done.enqueued],
        "divergences": [{"kind": d.kind, "position": d.position, "message": d.message}
                        for d in done.divergences],
    }


EFFECT_COLUMNS = (Column("Effect", "elide"), Column("Key", "elide"),
                  Column("Arguments", "wrap"))


def _print(done: DryRun, wide: bool) -> None:
    out = console(wide)
    out.print(shown(f"dry run of {done.job_name}: nothing was performed or stored",
                    style="bold"))
    out.print(shown(f"path: {done.variant or '(nothing recorded)'}"))
    if done.exit_reason:
        out.print(shown(f"exit: {done.exit_reason}"))
    for d in done.divergences:
        out.print(shown(f"divergence ({d.kind}): {d.message}", style="yellow"))
    if done.effects:
        rows = [(e.name, e.key, ", ".join([*map(repr, e.args),
                                            *(f"{k}={v!r}" for k, v in e.kwargs.items())]))
                for e in done.effects]
        out.print(table(EFFECT_COLUMNS, rows, out.width, title="Effects captured"))
    for child in done.enqueued:
        out.print(shown(f"would enqueue {child.job_name} {child.args}"))
    if done.error is not None:
        out.print(shown(f"error: {done.error}", newlines=True, style="bold red"))
    else:
        out.print(shown(f"result: {done.result!r}"))
