"""``jobtrail rules check``: how the business rules an app declares fared."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from jobtrail.cli import exits
from jobtrail.cli.loading import code_app, load_app, opened
from jobtrail.cli.output import console, emit_json, iso, when, wide_option
from jobtrail.cli.tables import Column, shown, table
from jobtrail.cli.times import MOMENT
from jobtrail.paths.rules import RuleReport

#: Breaches listed per rule in the table (all of them in --json).
SHOWN = 20


@click.group("rules")
def rules_group() -> None:
    """Business rules across jobs, declared with app.paths.rule(...)."""


@rules_group.command("check")
@code_app()
@click.option("--since", type=MOMENT, help="Only occurrences since TIME.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@wide_option
def check(target: str, since: datetime | None, as_json: bool, wide: bool) -> int:
    """Check every rule; exit 1 when one is broken (so a scheduler can alert)."""
    with opened(load_app(target)) as app:
        if not app.paths.rules:
            raise click.UsageError(f"{target} declares no rules (see app.paths.rule)")
        reports = app.paths.check_rules(since=since)
    if as_json:
        emit_json([report_json(r) for r in reports])
    else:
        out = console(wide)
        out.print(reports_table(reports, out.width))
        for report in reports:
            if report.broken:
                out.print(breaches_table(report, out.width))
    return exits.FAILURE if any(r.broken for r in reports) else exits.OK


def report_json(report: RuleReport) -> dict[str, Any]:
    """The JSON shape of a rule's report."""
    return {
        "rule": report.rule.name, "description": str(report.rule),
        "checked": report.checked, "kept": report.kept, "pending": report.pending,
        "broken": [{"entity": b.entity, "job_id": b.job_id, "at": iso(b.at),
                    "deadline": iso(b.deadline)} for b in report.broken],
        "since": iso(report.since),
    }


REPORT_COLUMNS = (
    Column("Rule", "wrap", narrowest=24), Column("Checked", justify="right"),
    Column("Kept", justify="right"), Column("Pending", justify="right"),
    Column("Broken", justify="right"),
)
BREACH_COLUMNS = (
    Column("Entity", "wrap", narrowest=24), Column("Job", justify="right"),
    Column("Happened (UTC)", optional=True), Column("Deadline (UTC)"),
)


def reports_table(reports: list[RuleReport], width: int) -> Table:
    """Each rule: its name and what it says, how many occurrences were checked, kept,
    pending and broken."""
    rows = [(f"{r.rule.name}\n{r.rule}", str(r.checked), str(r.kept), str(r.pending),
             Text(str(len(r.broken)), style="bold red" if r.broken else "green"))
            for r in reports]
    return table(REPORT_COLUMNS, rows, width, title="Rules")


def breaches_table(report: RuleReport, width: int) -> Table:
    """The occurrences that broke a rule (the first `SHOWN`)."""
    rows = [(b.entity, str(b.job_id), when(b.at), when(b.deadline))
            for b in report.broken[:SHOWN]]
    more = len(report.broken) - SHOWN
    return table(BREACH_COLUMNS, rows, width, title=shown(f"Broken: {report.rule.name}"),
                 caption=f"and {more} more (--json lists all)" if more > 0 else None)
