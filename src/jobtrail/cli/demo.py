"""``jobtrail demo``: run the demo workload (`jobtrail.demo`) and show what jobtrail saw."""

from __future__ import annotations

import os
import shlex
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from jobtrail import demo_paths
from jobtrail.app import App
from jobtrail.cli.database import masked_url, url_argument
from jobtrail.cli.loading import opened
from jobtrail.cli.output import console, jobs_table, wide_option
from jobtrail.cli.paths import variants_table
from jobtrail.cli.tables import Column, table
from jobtrail.errors import JobtrailError, StoreError
from jobtrail.paths.rules import RuleReport
from jobtrail.paths.variants import Variant
from jobtrail.records import FINAL_STATUSES, Divergence, JobRecord, Status
from jobtrail.store import URL_ENV, parse_url
from jobtrail.worker import Worker

if TYPE_CHECKING:  # the module is imported when the demo runs: its app reads the environment
    from jobtrail.demo import IdempotencyReport

CONCURRENCY = 4
#: The demo takes a few seconds; past this it is stuck, and says so.
SETTLE_TIMEOUT = 60.0
POLL_INTERVAL = 0.05
EN_DASH = "\N{EN DASH}"


@dataclass
class RunState:
    """How the demo's run ended, as its watcher saw it."""

    settled: bool = False
    timed_out: bool = False


@click.command("demo")
@click.option(
    "--url", metavar="URL",
    help="Run on this database instead of ./jobtrail-demo.db; it must hold no jobs "
    "(jobtrail's tables are created in a new one).",
)
@click.option(
    "--jobs", "-n", "count", type=click.IntRange(5, 1_000), default=60, show_default=True,
    help="About how many jobs to enqueue (follow-ups come on top).",
)
@wide_option
def demo(url: str | None, count: int, wide: bool) -> None:
    """Run a small, realistic workload and show what jobtrail saw.

    Billing with transient gateway failures and a declined card, onboarding emails
    that enqueue follow-ups, async notifications, a job stored before a deploy
    changed its signature, and idempotency: a duplicate enqueue, a job resuming after
    its last completed step, payments retried without charging twice. By default it
    runs on ./jobtrail-demo.db in the current directory, deleted and recreated on each run.
    """
    from jobtrail import demo as workload  # its module-level app reads $JOBTRAIL_DEMO_URL

    out = console(wide)
    app = workload.build_app(url or _fresh_database(workload.DEMO_URL))
    with opened(app):
        if url and app.store.schema_version() == 0:
            app.upgrade()  # an empty database without jobtrail's tables: PostgreSQL's case
        if url and sum(app.counts().values()):
            raise click.UsageError(
                f"{masked_url(app.url)} already holds jobs: the demo needs an empty database "
                "(leave out --url to use ./jobtrail-demo.db)"
            )
        scenarios = workload.enqueue_workload(app, count)
        for scenario in scenarios:
            noun = "job" if scenario.enqueued == 1 else "jobs"
            out.print(f"[bold]{scenario.name}[/]: {scenario.enqueued} {noun} — {scenario.shows}")
        started = time.monotonic()
        state = _run(app, out)
        elapsed = time.monotonic() - started
        jobs = app.jobs(limit=1_000_000)
        dead = app.dead_letters(limit=1_000)
        report = workload.idempotency_report(app) if state.settled else None
        found = app.paths.variants("sync_customer", new_in_version=demo_paths.RELEASE_AFTER)
        divergences = app.paths.divergences(job_name="sync_customer", limit=3)
        counts = app.paths.divergence_counts()
        rule_reports = app.paths.check_rules()
    if state.timed_out:
        raise JobtrailError(f"the demo did not finish within {SETTLE_TIMEOUT:g}s")
    if not state.settled:
        raise click.Abort()
    out.print(f"\nRan {len(jobs)} jobs in {elapsed:.1f}s with {CONCURRENCY} worker threads.\n")
    out.print(_summary_table(jobs, out.width))
    if report is not None:
        deduplicated = sum(scenario.deduplicated for scenario in scenarios)
        out.print(_idempotency_section(report, deduplicated))
    _print_paths(out, found, divergences, counts, rule_reports)
    if dead:
        out.print(jobs_table(dead, out.width, title="\nDead letters"))
    _print_next_steps(out, app.url, workload.DEMO_URL_ENV, dead)


def _print_paths(out: Console, found: list[Variant], latest: list[Divergence],
                 counts: dict[tuple[str, str], int], rule_reports: list[RuleReport]) -> None:
    """What the paths of the deploy scenario, and the rules, say."""
    out.print(Text("\nExecution paths", style="bold"))
    out.print(variants_table("sync_customer", found, out.width))
    total = sum(counts.values())
    summary = ", ".join(f"{count} {kind} in {job}" for (job, kind), count in sorted(counts.items()))
    out.print(f"{total} divergence{'s' if total != 1 else ''} from expected paths"
              + (f": {summary}" if summary else ""))
    for divergence in latest[:1]:
        out.print(Text(f"  e.g. {divergence.job_name} #{divergence.job_id}: {divergence.message}"))
    for r in rule_reports:
        verdict = "kept" if r.ok else f"BROKEN {len(r.broken)} times"
        out.print(f"Rule {r.rule.name!r}: {r.checked} checked, {verdict}")


def _fresh_database(url: str) -> str:
    """Delete the SQLite database of *url* (and its WAL files); return *url*."""
    _, path = parse_url(url)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    return url


def _run(app: App, out: Console) -> RunState:
    """Work until every job is final, showing progress; stop early on Ctrl-C or timeout."""
    worker = Worker(app, concurrency=CONCURRENCY)
    state = RunState()
    ended = threading.Event()
    columns = (
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
        MofNCompleteColumn(), TimeElapsedColumn(),
    )
    with Progress(*columns, console=out) as progress:
        task = progress.add_task("starting", total=None)

        def watch() -> None:
            deadline = time.monotonic() + SETTLE_TIMEOUT
            try:
                while not ended.wait(POLL_INTERVAL):
                    try:
                        counts: Counter[Status] = Counter()
                        for (_, status), number in app.counts().items():
                            counts[status] += number
                    except StoreError:
                        continue
                    total = sum(counts.values())
                    finished = sum(counts[status] for status in FINAL_STATUSES)
                    progress.update(
                        task, total=total, completed=finished,
                        description=f"{counts[Status.RUNNING]} running, "
                        f"{counts[Status.RETRYING]} waiting to retry",
                    )
                    if total and finished == total:
                        state.settled = True
                        progress.update(task, description="all jobs finished")
                        return
                    if time.monotonic() > deadline:
                        state.timed_out = True
                        return
            finally:
                worker.stop(now=state.timed_out)

        watcher = threading.Thread(target=watch, name="jobtrail-demo-progress", daemon=True)
        watcher.start()
        try:
            worker.run()
        finally:
            ended.set()
            watcher.join()
    return state


SUMMARY_COLUMNS = (
    Column("Job type", "elide"), Column("Queue", "elide"),
    *(Column(name, justify="right")
      for name in ("Jobs", "Succeeded", "Retried", "Dead", "Orphaned", "Attempts")),
)


def _summary_table(jobs: Sequence[JobRecord], width: int) -> Table:
    """Jobs by type and status, with how many needed retries."""
    by_type: dict[str, list[JobRecord]] = defaultdict(list)
    for job in jobs:
        by_type[job.job_name].append(job)
    rows = []
    for name, group in sorted(by_type.items()):
        statuses = Counter(job.status for job in group)
        rows.append((
            name, group[0].queue, str(len(group)), str(statuses[Status.SUCCEEDED]),
            str(sum(1 for job in group if job.attempts > 1)), str(statuses[Status.DEAD]),
            str(statuses[Status.ORPHANED]), str(sum(job.attempts for job in group)),
        ))
    return table(SUMMARY_COLUMNS, rows, width, title="What jobtrail saw")


def _idempotency_section(report: IdempotencyReport, deduplicated: int) -> Text:
    """The idempotency facts: deduplicated enqueues, steps not repeated, single charges."""
    first = next(iter(report.charges))
    lines = [
        Text.assemble(
            ("duplicate enqueue", "bold"),
            f": invoice {first} enqueued {report.duplicate_enqueues} times under one key → "
            f"{report.duplicate_jobs} job, deduplicated {deduplicated}",
        ),
        Text.assemble(("resumed job", "bold"), ": ", _steps_fact(report)),
        Text.assemble(("payments", "bold"), ": ", _charges_fact(report)),
    ]
    section = Text("\nIdempotency\n", style="bold")
    section.append(Text("\n").join(Text("  ") + line for line in lines))
    return section


def _steps_fact(report: IdempotencyReport) -> Text:
    runs = report.step_runs
    total = sum(runs.values())
    before = list(runs)[:-1]
    repeated = [name for name, count in runs.items() if count > 1]
    where = (
        f"reconcile_ledger failed after step {len(before)} of {len(runs)} on attempt 1 and "
        f"succeeded on attempt {report.ledger_attempts} — "
    )
    if not repeated and total == len(runs) and report.steps_replayed == before:
        return Text(
            f"{where}steps run: {total} of {len(runs)}, step 1{EN_DASH}{len(before)} "
            "not repeated on retry"
        )
    counts = ", ".join(f"{name}: {count}" for name, count in runs.items())
    return Text(f"{where}steps run: {total} for {len(runs)} steps ({counts})", style="red")


def _charges_fact(report: IdempotencyReport) -> Text:
    per_invoice = ", ".join(f"{inv}: {count}" for inv, count in report.charges.items())
    text = f"card charges per invoice — {per_invoice}; "
    wrong = {inv: count for inv, count in report.charges.items() if count != 1}
    if not wrong:
        plural = "retry" if report.charges_reused == 1 else "retries"
        return Text(
            f"{text}no invoice charged twice, {report.charges_reused} {plural} reused "
            "the recorded charge"
        )
    listed = ", ".join(f"invoice {inv} charged {count} times" for inv, count in wrong.items())
    return Text(text + listed, style="red")


def _print_next_steps(
    out: Console, url: str, url_env: str, dead: Sequence[JobRecord]
) -> None:
    """How to look further at what the demo left in its database.

    Every command names that database, so that it works as printed from this directory;
    a password is never printed: the commands then read the URL from ``$JOBTRAIL_URL``,
    which the first line sets with ``***`` where the password goes.
    """
    hidden = masked_url(url) != url
    option = f'--url "${URL_ENV}"' if hidden else url_argument(url)
    lines = [
        f"jobtrail jobs list {option}",
        f"jobtrail dlq list {option}",
        f"jobtrail paths variants sync_customer --new-in-version "
        f"{demo_paths.RELEASE_AFTER} {option}",
        f"jobtrail paths divergences {option}",
        f"jobtrail paths funnel sync_customer {option}",
    ]
    if dead:
        lines.append(f"jobtrail jobs show {dead[-1].id} {option}")
        lines.append(f"jobtrail dlq replay {dead[-1].id} {option}")
    where = f'"${URL_ENV}"' if hidden else shlex.quote(url)
    lines.append(f"{url_env}={where} jobtrail worker jobtrail.demo:app --burst")
    if hidden:
        lines.insert(0, f"export {URL_ENV}={shlex.quote(masked_url(url))}")
        out.print(f"\nLook further (from this directory), with ${URL_ENV} set to the demo's "
                  "database: put its password in place of ***", markup=False)
    else:
        out.print("\nLook further (from this directory):")
    for line in lines:
        out.print(f"  {line}", markup=False)
