"""``jobtrail flows``: job flow graphs from code, the lock that CI checks, and coverage."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from jobtrail.cli import exits
from jobtrail.cli.loading import code_app, load_app, opened
from jobtrail.cli.output import console, emit_json, wide_option
from jobtrail.cli.tables import Column, shown, table
from jobtrail.cli.times import MOMENT
from jobtrail.flows import lock, to_dot, to_mermaid, to_text
from jobtrail.flows.coverage import Coverage, check, split_runs
from jobtrail.flows.jobgraph import cycles, from_code
from jobtrail.flows.lint import lint_app

FORMATS = {"mermaid": to_mermaid, "dot": to_dot, "text": to_text}
lock_option = click.option(
    "--lock", "lock_path", type=click.Path(dir_okay=False, path_type=Path),
    default=lock.LOCK_FILE, show_default=True, help="The flows lock file.")


@click.group("flows")
def flows_group() -> None:
    """Flow graphs read from the jobs' code: show, lock, check in CI, coverage."""


@flows_group.command("show")
@code_app("JOB")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="text",
              show_default=True, help="Mermaid and DOT render as diagrams elsewhere.")
def show(target: str, job_name: str | None, fmt: str) -> None:
    """Print the flow graph of JOB (or of every job) as text, Mermaid or DOT."""
    with opened(load_app(target)) as app:
        graphs = lock.graphs(app)
    if job_name is not None:
        if job_name not in graphs:
            raise click.UsageError(
                f"no job named {job_name!r} in {target} (known: {', '.join(graphs) or 'none'})")
        graphs = {job_name: graphs[job_name]}
    click.echo("\n".join(FORMATS[fmt](graph).rstrip("\n") for graph in graphs.values()))


@flows_group.command("lock")
@code_app()
@lock_option
def lock_command(target: str, lock_path: Path) -> None:
    """Write every job's flow (steps, effects, decisions, exits, branches) to the lock
    file, to be committed and reviewed in pull requests."""
    with opened(load_app(target)) as app:
        document = lock.snapshot(app)
    lock.write(lock_path, document)
    click.echo(f"wrote {lock_path}: {len(document['jobs'])} jobs")


@flows_group.command("check")
@code_app()
@lock_option
@click.option("--json", "as_json", is_flag=True, help="Print changes and findings as JSON.")
def check_command(target: str, lock_path: Path, as_json: bool) -> int:
    """The CI gate. Exit 1 when a job gained or lost a branch, step, effect, decision or
    exit against the lock (or there is no lock); else 2 when the flow lint has findings
    or job types enqueue each other in a cycle; else 0. Silence a finding on its line:
    `# jobtrail: allow RULE — reason`."""
    locked = lock.read(lock_path)
    with opened(load_app(target)) as app:
        current = lock.snapshot(app)
        findings, suppressed = lint_app(app)
        loops = cycles(from_code(app.registry))
    changes = lock.diff(locked, current)
    if as_json:
        emit_json({"changes": [{"job": c.job, "section": c.section, "sign": c.sign,
                                "item": c.item} for c in changes],
                   "findings": [{"rule": f.rule, "job": f.job_name, "file": f.file,
                                 "line": f.line, "message": f.message} for f in findings],
                   "suppressed": len(suppressed), "cycles": loops})
    else:
        out = console()
        if changes:
            out.print(Text(f"flows changed against {lock_path} "
                           "(review, then `jobtrail flows lock` to accept):", style="bold"))
            for change in changes:
                out.print(Text(f"  {change}", style="green" if change.sign == "+" else "red"))
        for finding in findings:
            out.print(Text(str(finding)))
        for loop in loops:
            out.print(Text(f"job types enqueue each other in a cycle: {' -> '.join(loop)} "
                           "(see `jobtrail graph`)"))
        verdict = (f"{len(changes)} flow changes, {len(findings)} lint findings"
                   f" ({len(suppressed)} silenced with a reason), {len(loops)} cycles")
        out.print(verdict if changes or findings or loops
                  else f"flows match the lock; {verdict}")
    if changes:
        return exits.FAILURE
    return exits.USAGE if findings or loops else exits.OK


@flows_group.command("coverage")
@code_app("JOB")
@click.option("--since", type=MOMENT, help="Only runs finished since TIME.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@wide_option
def coverage_command(target: str, job_name: str | None, since: datetime | None,
                     as_json: bool, wide: bool) -> None:
    """Code against expect= against recorded runs, per job: paths the expectation forbids
    or the code cannot take, recorded paths the code cannot explain, untested paths. A run
    that stopped for good partway (dead, orphaned, cancelled) is explained when the code
    can begin as it did."""
    with opened(load_app(target)) as app:
        graphs = lock.graphs(app)
        if job_name is not None and job_name not in graphs:
            raise click.UsageError(f"no job named {job_name!r} in {target}")
        names = [job_name] if job_name else list(graphs)
        reports = []
        for name in names:
            completed, stopped = split_runs(app.store.runs(name, since))
            reports.append(check(app.registry[name], graphs[name], completed, stopped=stopped))
    if as_json:
        emit_json([coverage_json(r) for r in reports])
        return
    out = console(wide)
    rows = [(r.job_name, str(len(r.code_paths)), str(len(r.observed)),
             "-" if r.coverage is None else f"{r.coverage:.0%}", str(r.runs),
             str(sum(r.unexplained.values())), _agreement(r)) for r in reports]
    out.print(table(COVERAGE_COLUMNS, rows, out.width, title="Path coverage"))
    for r in reports:
        _details(out, r)


COVERAGE_COLUMNS = (
    Column("Job", "elide"),
    *(Column(name, justify="right")
      for name in ("Code paths", "Observed", "Coverage", "Runs", "Unexplained")),
    Column("Code vs expect", "wrap"),
)


def _agreement(r: Coverage) -> str:
    if r.comparison is None:
        return "no expect="
    c = r.comparison
    if not c.code_not_expected and not c.expected_not_in_code:
        return "agree" + (" (bounded search)" if c.truncated else "")
    return f"{len(c.code_not_expected)} forbidden, {len(c.expected_not_in_code)} impossible"


def _details(out: Any, r: Coverage) -> None:
    lines: list[str] = []
    if r.comparison is not None:
        lines += [f"code path the expectation forbids: {' '.join(p) or '(nothing)'}"
                  for p in r.comparison.code_not_expected]
        lines += [f"expected path the code cannot take: {' '.join(p) or '(nothing)'}"
                  for p in r.comparison.expected_not_in_code]
    lines += [f"recorded path the code cannot explain ({n} runs): {v or '(nothing)'}"
              for v, n in r.unexplained.items()]
    lines += [f"never observed: {p or '(nothing)'}" for p in r.never_observed]
    lines += [f"note: {note}" for note in r.notes]
    if lines:
        out.print(shown(f"\n{r.job_name}", newlines=True, style="bold"))
        for line in lines:
            out.print(shown(f"  {line}"))


def coverage_json(r: Coverage) -> dict[str, Any]:
    """The JSON shape of one job's three-way check."""
    c = r.comparison
    return {
        "job_name": r.job_name, "code_paths": list(r.code_paths), "observed": list(r.observed),
        "never_observed": list(r.never_observed), "coverage": r.coverage, "runs": r.runs,
        "unexplained": r.unexplained, "truncated": r.truncated, "notes": list(r.notes),
        "code_not_expected": None if c is None else [" ".join(p) for p in c.code_not_expected],
        "expected_not_in_code": None if c is None
        else [" ".join(p) for p in c.expected_not_in_code],
    }
