"""``jobtrail demo``: run the demo workload (`jobtrail.demo`) and show what jobtrail saw."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter
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

from jobtrail import demo_crash, demo_paths
from jobtrail.app import App
from jobtrail.cli import demo_report
from jobtrail.cli.database import masked_url
from jobtrail.cli.loading import opened
from jobtrail.cli.output import console, jobs_table, wide_option
from jobtrail.errors import JobtrailError, StoreError
from jobtrail.flows import lock, to_text
from jobtrail.records import FINAL_STATUSES, Status
from jobtrail.store import parse_url
from jobtrail.worker import Worker

if TYPE_CHECKING:  # the module is imported when the demo runs: its app reads the environment
    from jobtrail.demo import Scenario

CONCURRENCY = 4
#: The demo takes a few seconds; past this it is stuck, and says so.
SETTLE_TIMEOUT = 60.0
POLL_INTERVAL = 0.05
#: The customer of the dry run: one whose record changed, so the push is reached.
DRY_RUN_CUSTOMER = 5


@dataclass
class RunState:
    """How the demo's run ended, as its watcher saw it."""

    settled: bool = False
    timed_out: bool = False


@click.command("demo")
@click.option(
    "--url", metavar="URL",
    help="Run on this database instead of the demo's own (jobtrail-demo/demo.db in the "
    "system's temporary directory); it must hold no jobs (jobtrail's tables are created "
    "in a new one).",
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
    changed its signature, a deploy that silently skips a step, idempotency (a duplicate
    enqueue, a job resuming after its last completed step, payments retried without
    charging twice) and a worker process SIGKILLed inside a refund. Then the flow of a
    job drawn from its code and a dry run that catches the deploy's mistake.

    By default it runs on jobtrail-demo/demo.db in the system's temporary directory
    (deleted and recreated on each run), so no working directory collects demo data.
    """
    from jobtrail import demo as workload  # its module-level app reads $JOBTRAIL_DEMO_URL

    out = console(wide)
    home = workload.demo_home()
    home.mkdir(parents=True, exist_ok=True)
    ledger = home / f"gateway-ledger-{os.getpid()}.txt"
    app = workload.build_app(url or _fresh_database(workload.DEMO_URL))
    try:
        with opened(app):
            if url and app.store.schema_version() == 0:
                app.upgrade()  # an empty database without jobtrail's tables: PostgreSQL's case
            if url and sum(app.counts().values()):
                raise click.UsageError(
                    f"{masked_url(app.url)} already holds jobs: the demo needs an empty "
                    "database (leave out --url to use the demo's own)"
                )
            with out.status("crash: a worker process takes a refund and is SIGKILLed "
                            "inside it"):
                crash_scenario, crash = workload.crash(app, ledger)
            scenarios = [crash_scenario, *workload.enqueue_workload(app, count)]
            stored, spawns = _print_scenarios(out, scenarios)
            started = time.monotonic()
            state = _run(app, out)
            elapsed = time.monotonic() - started
            jobs = app.jobs(limit=1_000_000)
            dead = app.dead_letters(limit=1_000)
            report = workload.idempotency_report(app) if state.settled else None
            replayed = app.get(crash.job.id)
            found = app.paths.variants("sync_customer",
                                       new_in_version=demo_paths.RELEASE_AFTER)
            divergences = app.paths.divergences(job_name="sync_customer", limit=3)
            counts = app.paths.divergence_counts()
            rule_reports = app.paths.check_rules()
            flow = to_text(lock.graphs(app)["sync_customer"]).split("\n", 1)[1]
            dry = app.job_named("sync_customer").dry_run(customer_id=DRY_RUN_CUSTOMER)
        refunds = len(demo_crash.refunds_in(ledger))
    finally:
        with contextlib.suppress(FileNotFoundError):
            ledger.unlink()
    if state.timed_out:
        raise JobtrailError(f"the demo did not finish within {SETTLE_TIMEOUT:g}s")
    if not state.settled:
        raise click.Abort()
    style = "" if len(jobs) == stored + spawns else "red"
    out.print(f"\nAll {len(jobs)} jobs finished ({stored} stored above + {spawns} follow-ups "
              f"enqueued by jobs); the last {elapsed:.1f}s with {CONCURRENCY} worker "
              "threads.\n", style=style)
    out.print(demo_report.summary_table(jobs, out.width))
    if report is not None:
        deduplicated = sum(scenario.deduplicated for scenario in scenarios)
        out.print(demo_report.idempotency_section(report, deduplicated))
    demo_report.print_crash(out, crash, replayed, refunds)
    demo_report.print_paths(out, found, divergences, counts, rule_reports)
    demo_report.print_code_paths(out, flow, dry, f"customer_id={DRY_RUN_CUSTOMER}")
    if dead:
        out.print(jobs_table(dead, out.width, title="\nDead letters"))
    demo_report.print_next_steps(out, app.url, workload.DEMO_URL_ENV, dead, crash.job.id,
                                 f"customer_id={DRY_RUN_CUSTOMER}")


def _print_scenarios(out: Console, scenarios: list[Scenario]) -> tuple[int, int]:
    """One line per scenario, then the totals; return (jobs stored, follow-ups to come)."""
    for scenario in scenarios:
        noun = "job" if scenario.stored == 1 else "jobs"
        out.print(f"[bold]{scenario.name}[/]: {scenario.stored} {noun} — {scenario.shows}")
    stored = sum(scenario.stored for scenario in scenarios)
    spawns = sum(scenario.spawns for scenario in scenarios)
    out.print(f"{stored} jobs stored; {spawns} follow-ups will be enqueued by jobs as they run")
    return stored, spawns


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


