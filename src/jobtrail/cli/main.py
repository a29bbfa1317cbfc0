"""The ``jobtrail`` command group and its entry point.

`main` turns every jobtrail error and every usage error into one line on standard
error (``error: ...``) and a documented exit code (see `jobtrail.cli.exits`); only
a bug in jobtrail itself shows a traceback. ``--traceback`` shows it for any error.

That line is all a failed command writes on standard error: library loggers (the
PostgreSQL pool's connection warnings, jobtrail's own) are kept quiet unless ``--debug``
asks for them. ``worker`` sets up its own logging (``--log-level``).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

import click

from jobtrail.cli import exits
from jobtrail.cli.audit import audit_group
from jobtrail.cli.breakers import breakers
from jobtrail.cli.cancel import cancel
from jobtrail.cli.capacity import capacity
from jobtrail.cli.dashboard import dashboard
from jobtrail.cli.database import describe_store_error
from jobtrail.cli.db import db_group
from jobtrail.cli.demo import demo
from jobtrail.cli.describe import describe
from jobtrail.cli.dlq import dlq_group
from jobtrail.cli.enqueue import enqueue
from jobtrail.cli.flows import flows_group
from jobtrail.cli.graph import graph
from jobtrail.cli.health import health
from jobtrail.cli.jobs import jobs_group
from jobtrail.cli.keys import keys_group
from jobtrail.cli.metrics import metrics_group
from jobtrail.cli.paths import paths_group
from jobtrail.cli.prune import prune_command
from jobtrail.cli.queues import queues
from jobtrail.cli.resources import resources
from jobtrail.cli.retries import retries
from jobtrail.cli.rules import rules_group
from jobtrail.cli.run import run
from jobtrail.cli.schedules import schedules
from jobtrail.cli.tokens import tokens_group
from jobtrail.cli.worker import LOG_FORMAT, worker
from jobtrail.errors import JobtrailError, StoreError

PROG_NAME = "jobtrail"


@dataclass
class Options:
    """Options of the whole command, read by `main` once a command has failed."""

    traceback: bool = False


@click.group(
    epilog=exits.HELP,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="jobtrail", prog_name=PROG_NAME)
@click.option("--traceback", is_flag=True, help="Show the full traceback of an error.")
@click.option(
    "--debug", is_flag=True,
    help="Log what jobtrail and its database driver do (connection attempts, retries) on "
    "standard error; worker takes --log-level instead.",
)
@click.pass_obj
def cli(options: Options, traceback: bool, debug: bool) -> None:
    """jobtrail: background jobs that can prove what they did.

    MODULE:APP names the App of your code, as in `tasks:app` (a module found from the
    current directory): --app MODULE:APP or $JOBTRAIL_APP on every command, or as the
    first argument of those that run your code. Commands that only read or operate on
    stored jobs also take --url or $JOBTRAIL_URL, and default to ./jobtrail.db.
    """
    options.traceback = traceback
    if debug:
        logging.basicConfig(stream=sys.stderr, level=logging.DEBUG, format=LOG_FORMAT, force=True)


for command in (
    worker, enqueue, run, jobs_group, paths_group, rules_group, flows_group, dlq_group,
    db_group, describe, demo, queues, schedules, graph, breakers, health,
    retries, capacity, resources,
):
    cli.add_command(command)
cli.add_command(cancel)
cli.add_command(metrics_group)
cli.add_command(audit_group)
cli.add_command(tokens_group)
cli.add_command(prune_command)
cli.add_command(keys_group)
cli.add_command(dashboard)


def _fail(message: str, code: int) -> NoReturn:
    one_line = " ".join(line.strip() for line in message.strip().splitlines())
    click.echo(f"error: {one_line}", err=True)
    sys.exit(code)


def _quiet_logging() -> None:
    """Keep library loggers off standard error, where an error is one line.

    Without a handler of its own, Python prints warnings to standard error (psycopg's
    pool warns once per failed connection attempt, from its threads): a handler that
    drops them takes its place. An application that set up logging keeps its own.
    """
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the command line and exit with its code (see ``jobtrail --help``)."""
    options = Options()
    _quiet_logging()
    for stream in (sys.stdout, sys.stderr):
        # Stored text may hold what a terminal cannot print (a lone surrogate): show it
        # escaped rather than fail in the middle of a table.
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None, prog_name=PROG_NAME,
            standalone_mode=False, obj=options,
        )
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exits.USAGE)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        _fail(exc.format_message() + hint, exc.exit_code)
    except click.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        _fail("interrupted", exits.INTERRUPTED)
    except JobtrailError as exc:
        if options.traceback:
            raise
        message = describe_store_error(exc) if isinstance(exc, StoreError) else str(exc)
        _fail(message, exits.exit_code_for(exc))
    sys.exit(result if isinstance(result, int) else exits.OK)
