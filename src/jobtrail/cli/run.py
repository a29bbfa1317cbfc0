"""``jobtrail run --dry-run``: run one job here with its effects captured, nothing stored."""

from __future__ import annotations

from typing import Any

import click

from jobtrail.cli import exits
from jobtrail.cli.enqueue import parse_arguments
from jobtrail.cli.loading import load_app, opened
from jobtrail.cli.output import console, emit_json, error_json, wide_option
from jobtrail.cli.tables import Column, shown, table
from jobtrail.dryrun import DryRun


@click.command("run")
@click.argument("target", metavar="MODULE:APP")
@click.argument("job_name", metavar="JOB_NAME")
@click.option("--arg", "pairs", multiple=True, metavar="KEY=VALUE",
              help="One argument of the job (repeat for more), as for enqueue.")
@click.option("--json", "json_object", metavar="OBJECT",
              help="The job's arguments as one JSON object.")
@click.option("--dry-run", is_flag=True,
              help="Capture every ctx.effect and ctx.enqueue instead of performing it.")
@click.option("--output-json", "as_json", is_flag=True, help="Print the dry run as JSON.")
@wide_option
def run(target: str, job_name: str, pairs: tuple[str, ...], json_object: str | None,
        dry_run: bool, as_json: bool, wide: bool) -> int:
    """Run JOB_NAME here, now, with --dry-run: its steps and decisions run, its effects and
    child jobs are captured, nothing is stored. Prints the path it took, how it diverges
    from the job's expect=, the captured effects and the result. Exits 1 when the job
    raised."""
    if not dry_run:
        raise click.UsageError(
            "jobtrail run only dry-runs: add --dry-run (use `jobtrail enqueue` to run a job "
            "for real, through a worker)")
    with opened(load_app(target)) as app:
        definition = app.job_named(job_name)
        values = parse_arguments(definition, pairs, json_object)
        done = definition.dry_run(**values)
    if as_json:
        emit_json(dry_run_json(done))
    else:
        _print(done, wide)
    return exits.OK if done.succeeded else exits.FAILURE


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
