"""``jobtrail enqueue``: store one job from the command line."""

from __future__ import annotations

import json
from typing import Any

import click

from jobtrail.cli.loading import load_app, opened
from jobtrail.jobs import ENQUEUE_OPTIONS, JobDef


def parse_arguments(
    definition: JobDef[Any, Any], pairs: tuple[str, ...], json_object: str | None
) -> dict[str, Any]:
    """Build the job's keyword arguments from ``--json`` and each ``--arg KEY=VALUE``.

    A value is read as JSON when it parses (``5``, ``true``, ``[1, 2]``, ``"5"``) and as
    a plain string otherwise; for an argument declared ``str`` it is always the string.
    """
    values: dict[str, Any] = {}
    if json_object is not None:
        try:
            values = json.loads(json_object)
        except ValueError as exc:
            raise click.BadParameter(f"not valid JSON ({exc})", param_hint="--json") from None
        if not isinstance(values, dict):
            raise click.BadParameter(
                f"must be a JSON object of arguments, got {type(values).__name__}",
                param_hint="--json",
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


@click.command("enqueue")
@click.argument("target", metavar="MODULE:APP")
@click.argument("job_name", metavar="JOB_NAME")
@click.option(
    "--arg", "pairs", multiple=True, metavar="KEY=VALUE",
    help="One argument of the job (repeat for more). VALUE is read as JSON when it parses "
    "and as text otherwise; an argument declared str always gets the text.",
)
@click.option(
    "--json", "json_object", metavar="OBJECT",
    help='The job\'s arguments as one JSON object, e.g. \'{"user_id": 7}\'.',
)
@click.option(
    "--delay", type=click.FloatRange(min=0), metavar="SECONDS",
    help="Run the job no sooner than this many seconds from now.",
)
@click.option("--priority", type=int, help="Higher runs first (default: the job type's).")
def enqueue(
    target: str,
    job_name: str,
    pairs: tuple[str, ...],
    json_object: str | None,
    delay: float | None,
    priority: int | None,
) -> None:
    """Enqueue one JOB_NAME job of MODULE:APP and print its id.

    Arguments are checked against the job's type hints before anything is stored:
    arguments that do not fit exit with code 2 and an unknown JOB_NAME with code 3.
    """
    with opened(load_app(target)) as app:
        definition = app.job_named(job_name)
        values = parse_arguments(definition, pairs, json_object)
        handle = definition.enqueue(**values, delay=delay, priority=priority)
    click.echo(handle.id)
