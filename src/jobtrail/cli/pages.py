"""Listings in pages, newest first: how many of how many are shown ("50 of 1,234"), and the
command that shows the next page (``--before ID``, a keyset cursor: the jobs with smaller
ids), as text and as ``{"jobs": [...], "total": N, "next_before": ID | null}``."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click
from click.core import ParameterSource
from rich.text import Text

from jobtrail.cli.database import masked_url, run_hint
from jobtrail.cli.output import console, iso, job_json, jobs_table
from jobtrail.limits import MAX_JOB_ID
from jobtrail.records import JobRecord

#: The options no next-page command repeats: the cursor it replaces, and the output form.
_NOT_REPEATED = frozenset({"before", "as_json"})

before_option = click.option(
    "--before", "before", metavar="ID", type=click.IntRange(min=1),
    help="Only jobs with an id below ID: the next page after a listing ending with ID.",
)


@dataclass(frozen=True)
class Page:
    """One page of a listing: its jobs, how many match in all, and the ``--before`` that
    shows the next page (``None`` on the last)."""

    jobs: list[JobRecord]
    total: int
    next_before: int | None


def fetch_limit(limit: int) -> int:
    """How many jobs to read for a page of *limit*: one more tells whether another follows."""
    return min(limit, MAX_JOB_ID - 1) + 1


def page_of(found: list[JobRecord], limit: int, total: int) -> Page:
    """The page of *limit* jobs in *found* (read with `fetch_limit`)."""
    shown = found[:limit]
    more = len(found) > limit and bool(shown)
    return Page(shown, total, shown[-1].id if more else None)


def page_json(page: Page) -> dict[str, Any]:
    """The JSON shape of a page of jobs."""
    return {"jobs": [job_json(job) for job in page.jobs], "total": page.total,
            "next_before": page.next_before}


def print_page(page: Page, what: str, empty: str, wide: bool = False) -> None:
    """Print *page* as a table, then how many of how many *what* it shows and the command
    that shows the next one; *empty* when nothing matches at all. *wide*: nothing elided."""
    before = click.get_current_context().params.get("before")
    if not page.jobs:
        if page.total and before is not None:
            click.echo(f"no {what} below id {before} ({page.total:,} match in all)")
        else:
            click.echo(empty)
        return
    out = console(wide)
    out.print(jobs_table(page.jobs, out.width))
    out.print(Text(f"showing {len(page.jobs):,} of {page.total:,} {what}, newest first"
                   + (f", ids below {before}" if before is not None else "")))
    if page.next_before is not None:
        out.print(Text(f"next page: {next_page_command(page.next_before)}"), soft_wrap=True)


def next_page_command(before: int) -> str:
    """The command line of the running listing for the page after, quoted for a message:
    its arguments and the options given on the command line again (a URL's password
    masked, a time as the moment it meant, so that ``--since 1h`` keeps its place), with
    ``--before`` *before*."""
    ctx = click.get_current_context()
    arguments: list[str] = []
    options: list[str] = []
    for param in ctx.command.params:
        name = param.name
        if (name is None or name in _NOT_REPEATED or ctx.params.get(name) is None
                or ctx.get_parameter_source(name) is not ParameterSource.COMMANDLINE):
            continue
        value = ctx.params[name]
        values = list(value) if param.multiple or param.nargs == -1 else [value]
        if isinstance(param, click.Argument):
            arguments += [_word(name, item) for item in values]
        elif isinstance(param, click.Option) and param.is_flag:
            options.append(max(param.opts, key=len))
        else:
            for item in values:
                options += [max(param.opts, key=len), _word(name, item)]
    words = [*arguments, *options, "--before", str(before)]
    return run_hint(" ".join([ctx.command_path, *(shlex.quote(word) for word in words)]))


def _word(name: str, value: object) -> str:
    if isinstance(value, datetime):
        return iso(value) or ""
    if name == "url":
        return masked_url(str(value))
    return str(value)
