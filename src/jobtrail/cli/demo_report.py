"""What ``jobtrail demo`` prints after its run: tables and facts read back from the store,
each section built from what the jobs really did (a wrong count shows in red)."""

from __future__ import annotations

import shlex
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from jobtrail import demo_paths
from jobtrail.cli.database import masked_url, url_argument
from jobtrail.cli.paths import variants_table
from jobtrail.cli.tables import Column, table
from jobtrail.dryrun import DryRun
from jobtrail.paths.rules import RuleReport
from jobtrail.paths.variants import Variant
from jobtrail.records import Divergence, JobRecord, Status
from jobtrail.store import URL_ENV

if TYPE_CHECKING:  # the module is imported when the demo runs: its app reads the environment
    from jobtrail.demo import IdempotencyReport
    from jobtrail.demo_crash import Crash

EN_DASH = "\N{EN DASH}"


def print_paths(out: Console, found: list[Variant], latest: list[Divergence],
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


def print_code_paths(out: Console, flow: str, dry: DryRun, arguments: str) -> None:
    """The paths the code can take, read from its source, and a dry run that catches the
    deploy's missing step before any job runs it."""
    out.print(Text("\nPaths the code can take", style="bold"))
    out.print(Text(f"sync_customer as release {demo_paths.RELEASE_AFTER} reads "
                   "(`jobtrail flows show`): no validate before push_crm"))
    out.print(Text("\n".join("  " + line for line in flow.rstrip("\n").splitlines())))
    out.print(Text(f"dry run of sync_customer({arguments}) (`jobtrail run --dry-run`), "
                   "nothing performed or stored:", style="bold"))
    out.print(Text(f"  path: {dry.variant}"))
    for effect in dry.effects:
        out.print(Text(f"  effect {effect.name} (key {effect.key}) captured, not performed"))
    for divergence in dry.divergences:
        out.print(Text(f"  divergence ({divergence.kind}): {divergence.message} — caught "
                       "before the deploy", style="yellow"))


def print_crash(out: Console, crash: Crash, replayed: JobRecord, refunds: int) -> None:
    """A worker killed inside an effect: what jobtrail did, what the operator did, and how
    many refunds the gateway made."""
    job = crash.job
    lines = [
        Text(f"worker process {crash.killed_pid} SIGKILLed while refund_order #{job.id} was "
             f"inside effect {crash.effect.name} (key {crash.effect.key})"),
        Text(f"→ attempt {job.attempts} found the refund begun, never ended: job {job.status.value}"
             f" ({job.outcome or 'no outcome'}), not refunded again"),
        Text(f"→ the gateway's ledger shows {crash.refund_id}: resolved done, replayed "
             f"(`jobtrail dlq resolve {job.id} {crash.effect.name} done --result "
             f"'\"{crash.refund_id}\"'`, then `dlq replay`)"),
    ]
    refunded = f"refunds made by the gateway: {refunds}"
    if replayed.status is Status.SUCCEEDED and replayed.result == crash.refund_id and refunds == 1:
        lines.append(Text(f"→ replay succeeded with {replayed.result} from the record; "
                          f"{refunded}"))
    else:
        lines.append(Text(f"→ replay ended {replayed.status.value} ({replayed.result!r}); "
                          f"{refunded}", style="red"))
    section = Text("\nCrash inside an effect\n", style="bold")
    section.append(Text("\n").join(Text("  ") + line for line in lines))
    out.print(section)


SUMMARY_COLUMNS = (
    Column("Job type", "elide"), Column("Queue", "elide"),
    *(Column(name, justify="right")
      for name in ("Jobs", "Succeeded", "Retried", "Dead", "Orphaned", "Attempts")),
)


def summary_table(jobs: Sequence[JobRecord], width: int) -> Table:
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


def idempotency_section(report: IdempotencyReport, deduplicated: int) -> Text:
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


def print_next_steps(
    out: Console, url: str, url_env: str, dead: Sequence[JobRecord], crashed: int,
    dry_run_arguments: str,
) -> None:
    """How to look further at what the demo left in its database (the last command
    serves the dashboard, with ``jobtrail[dashboard]`` installed, until stopped).

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
    lines.append(f"jobtrail jobs show {crashed} {option}")
    lines.append("jobtrail flows show jobtrail.demo:app sync_customer")
    lines.append(f"jobtrail run jobtrail.demo:app sync_customer --arg {dry_run_arguments} "
                 "--dry-run")
    where = f'"${URL_ENV}"' if hidden else shlex.quote(url)
    lines.append(f"{url_env}={where} jobtrail worker jobtrail.demo:app --burst")
    lines.append(f"{url_env}={where} jobtrail dashboard --app jobtrail.demo:app")
    if hidden:
        lines.insert(0, f"export {URL_ENV}={shlex.quote(masked_url(url))}")
        out.print(f"\nLook further (from this directory), with ${URL_ENV} set to the demo's "
                  "database: put its password in place of ***", markup=False)
    else:
        out.print("\nLook further (from this directory):")
    for line in lines:  # never wrapped: each is pasted as it is
        out.print(f"  {line}", markup=False, soft_wrap=True)
