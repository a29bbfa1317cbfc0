"""``jobtrail enqueue``: store one job from the command line.

The job's arguments come from ``--arg KEY=VALUE`` and ``--args-json OBJECT`` (shared with
``jobtrail run``); ``--json`` prints what was done as JSON, as in every other command.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from jobtrail.app import App
from jobtrail.cli.loading import code_app, load_app, opened
from jobtrail.cli.output import emit_json
from jobtrail.handle import JobHandle
from jobtrail.jobs import ENQUEUE_OPTIONS, JobDef
from jobtrail.records import JobRecord
from jobtrail.redaction import Redactor
from jobtrail.text import shown

F = TypeVar("F", bound=Callable[..., Any])


def parse_arguments(
    definition: JobDef[Any, Any], pairs: tuple[str, ...], json_object: str | None
) -> dict[str, Any]:
    """Build the job's keyword arguments from ``--args-json`` and each ``--arg KEY=VALUE``.

    A value is read as JSON when it parses (``5``, ``true``, ``[1, 2]``, ``"5"``) and as
    a plain string otherwise; for an argument declared ``str`` it is always the string.
    """
    values: dict[str, Any] = {}
    if json_object is not None:
        try:
            values = json.loads(json_object)
        except ValueError as exc:
            raise click.BadParameter(f"not valid JSON ({exc})", param_hint="--args-json") from None
        if not isinstance(values, dict):
            raise click.BadParameter(
                f"must be a JSON object of arguments, got {type(values).__name__}",
                param_hint="--args-json",
            )
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--arg")
        if key in values:
            raise click.BadParameter(f"argument {key!r} is given twice", param_hint="--arg")
        values[key] = _value(definition, key, text)
    for key in values:
        if key in ENQUEUE_OPTIONS:
            hint = f": use --{key}" if key in ("delay", "priority") else ""
            raise click.UsageError(
                f"{key!r} is an option of enqueue, not an argument of job "
                f"{definition.name!r}{hint}"
            )
    return values


def _value(definition: JobDef[Any, Any], key: str, text: str) -> Any:
    parameter = definition.signature.parameters.get(key)
    if parameter is not None and parameter.hint is str:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


class JobArgumentsCommand(click.Command):
    """A command given a job's arguments. ``--json`` once took them (it prints JSON now):
    a command line still written that way is told to use ``--args-json``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args)  # the parser consumes the list it is given
        hint = ("--json prints the result as JSON and takes no value: give the job's "
                "arguments as --args-json '{...}' (or --arg KEY=VALUE)")
        try:
            rest = super().parse_args(ctx, args)
        except click.UsageError as exc:
            if _old_json_arguments(given):
                raise click.UsageError(hint, ctx) from exc
            raise
        if _old_json_arguments(given) and len(ctx.params.get("words", ())) > 2:
            raise click.UsageError(hint, ctx)  # the object was taken for a third argument
        return rest


def _old_json_arguments(args: Sequence[str]) -> bool:
    """True when *args* give ``--json`` a JSON object, as before it meant the arguments."""
    for index, arg in enumerate(args):
        if arg.startswith("--json="):
            return True
        following = args[index + 1].lstrip() if index + 1 < len(args) else ""
        if arg == "--json" and following.startswith(("{", "[")):
            return True
    return False


def job_arguments(command: F) -> F:
    """Add ``--arg`` and ``--args-json`` (the job's arguments) to *command*."""
    command = click.option(
        "--args-json", "json_object", metavar="OBJECT",
        help='The job\'s arguments as one JSON object, e.g. \'{"user_id": 7}\'.',
    )(command)
    return click.option(
        "--arg", "pairs", multiple=True, metavar="KEY=VALUE",
        help="One argument of the job (repeat for more). VALUE is read as JSON when it "
        "parses and as text otherwise; an argument declared str always gets the text.",
    )(command)


@click.command("enqueue", cls=JobArgumentsCommand)
@code_app("JOB_NAME", job_required=True)
@job_arguments
@click.option(
    "--delay", type=click.FloatRange(min=0), metavar="SECONDS",
    help="Run the job no sooner than this many seconds from now.",
)
@click.option("--priority", type=int, help="Higher runs first (default: the job type's).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the job's id, name, queue, status and whether it was deduplicated "
              "as JSON.")
def enqueue(
    target: str,
    job_name: str,
    pairs: tuple[str, ...],
    json_object: str | None,
    delay: float | None,
    priority: int | None,
    as_json: bool,
) -> None:
    """Enqueue one JOB_NAME job of MODULE:APP and print its id.

    When the job's idempotency key is held by a job stored earlier (waiting, running or
    finished), nothing is stored: it says so, naming that job and its status. Arguments
    are checked against the job's type hints before anything is stored: arguments that do
    not fit exit with code 2 and an unknown JOB_NAME with code 3.
    """
    with opened(load_app(target)) as app:
        definition = app.job_named(job_name)
        values = parse_arguments(definition, pairs, json_object)
        handle = definition.enqueue(**values, delay=delay, priority=priority)
        job = app.get(handle.id)
        key = enqueued_key(app, definition, values, job) if handle.deduplicated else None
    if as_json:
        emit_json(enqueued_json(handle, job, key))
    elif handle.deduplicated:
        click.echo(deduplicated_line(job, key, "not enqueued again"))
    else:
        click.echo(f"enqueued job {job.id} ({job.job_name}) on queue {job.queue}")


def enqueued_key(app: App, definition: JobDef[Any, Any], values: dict[str, Any],
                 job: JobRecord) -> str | None:
    """The idempotency key the job was enqueued under, masked as views mask the job."""
    key = definition.build((), values).idempotency_key
    if key is None:
        return None
    fields = app.sensitive_fields(job)
    return Redactor(fields, values).text(key) if fields else key


def deduplicated_line(job: JobRecord, key: str | None, then: str) -> str:
    """What a command says of a job whose key matched one stored earlier."""
    held = f" for key {shown(key)}" if key is not None else ""
    return f"job {job.id} ({job.job_name}) already exists{held} ({job.status}): {then}"


def enqueued_json(handle: JobHandle, job: JobRecord, key: str | None) -> dict[str, Any]:
    """The JSON shape of an enqueue."""
    return {"id": job.id, "job_name": job.job_name, "queue": job.queue,
            "status": job.status.value, "deduplicated": handle.deduplicated,
            "idempotency_key": key}
