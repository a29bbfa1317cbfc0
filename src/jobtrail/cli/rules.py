"""``jobtrail rules check``: how the business rules an app declares fared."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
from rich import box
from rich.table import Table
from rich.text import Text

from jobtrail.cli import exits
from jobtrail.cli.loading import code_app, load_app, opened
from jobtrail.cli.output import console, emit_json, iso, when
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
def check(target: str, since: datetime | None, as_json: bool) -> int:
    """Check every rule; exit 1 when one is broken (so a scheduler can alert)."""
    with opened(load_app(target)) as app:
        if not app.paths.rules:
            raise click.UsageError(f"{target} declares no rules (see app.paths.rule)")
        reports = app.paths.check_rules(since=since)
    if as_json:
        emit_json([report_json(r) for r in reports])
    else:
        out = console()
        out.print(reports_table(reports))
        for report in reports:
            if report.broken:
                out.print(breaches_table(report))
    return exits.FAILURE if any(r.broken for r in reports) else exits.OK


def report_json(report: RuleReport) -> dict[str, Any]:
    """The JSON shape of a rule's report."""
    return {
        "rule": report.rule.name, "description": str(report.rule),
        "checked": report.checked, "kept": report.kept, "pending": report.pending,
        "broken": [{"entity": b.entity, "job_id": b.job_id, "at": iso(b.at),
                    "deadline": iso(b.deadline)} for b in report.broken],
    }


def reports_table(reports: list[RuleReport]) -> Table:
    table = Table(title="Rules", title_justify="left", header_style="bold",
                  box=box.SIMPLE_HEAD, show_edge=False)
    for column in ("Rule", "Checked", "Kept", "Pending", "Broken"):
        table.add_column(column, justify="left" if column == "Rule" else "right")
    for r in reports:
        broken = Text(str(len(r.broken)), style="bold red" if r.broken else "green")
        table.add_row(Text(f"{r.rule.name}\n{r.rule}", style=""), str(r.checked), str(r.kept),
                      str(r.pending), broken)
    return table


def breaches_table(report: RuleReport) -> Table:
    table = Table(title=f"Broken: {report.rule.name}", title_justify="left",
                  header_style="bold", box=box.SIMPLE_HEAD, show_edge=False)
    for column in ("Entity", "Job", "Happened (UTC)", "Deadline (UTC)"):
        table.add_column(column)
    for b in report.broken[:SHOWN]:
        table.add_row(Text(b.entity), str(b.job_id), when(b.at), when(b.deadline))
    if len(report.broken) > SHOWN:
        table.caption = f"and {len(report.broken) - SHOWN} more (--json lists all)"
    return table
