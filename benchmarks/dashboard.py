"""How fast the dashboard's pages answer with a million finished jobs in the store.

    python benchmarks/dashboard.py [--backend sqlite|postgres|all] [--jobs 1000000]
                                   [--requests 20]

Fills an empty database with ``--jobs`` jobs through `Store.enqueue` (batches of 5,000),
marks them succeeded in SQL (one in a thousand dead instead, for the dead-letter page; one
in a hundred a ``bill`` run with its recorded path, for the flow page; 200 children of the
job in the middle, for its page), seals the audit trail, then asks each page
``--requests`` times in this process through Starlette's TestClient — the page's whole
work (reads, template, headers), without a network between — and prints p50 and p95 per
page against the goal: p95 < 200 ms. ``/flows/refund`` is a job type with no run: its
page reads the whole window of newest jobs and finds none.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corebench.backends import Backend, chosen
from starlette.testclient import TestClient

from jobtrail import App, Context
from jobtrail.audit.sealing import seal_all
from jobtrail.dashboard import create_app
from jobtrail.store import parse_url
from jobtrail.store.base import NewJob

GOAL_MS = 200.0
BATCH = 5_000
HTML = {"accept": "text/html"}


#: One job in this many is a run of `bill`, the others no-ops; the job in the middle has
#: this many children.
BILLS = 100
CHILDREN = 200
#: The paths `bill` runs recorded: one in three invoices was already paid.
PAID = "load decide:paid=true exit:paid"
UNPAID = "load decide:paid=false decide:large=false effect:charge save"


def bill(ctx: Context, invoice: int) -> None:
    """Bill an invoice once."""
    ctx.step("load", lambda: invoice)
    if ctx.decide("paid", invoice % 3 == 0):
        ctx.exit("paid")
    if ctx.decide("large", invoice > 10_000):
        ctx.step("review", lambda: invoice)
    ctx.effect("charge", lambda: "charged", key=f"charge-{invoice}")
    ctx.step("save", lambda: True)


def refund(ctx: Context, invoice: int) -> None:
    """Refund an invoice: declared, never run."""
    ctx.effect("refund", lambda: "refunded", key=f"refund-{invoice}")


def declare(app: App) -> None:
    """The job types the flow and catalog pages show."""
    app.job(name="bill", expect="load (decide:paid=true exit:paid | decide:paid=false "
                                "decide:large review? effect:charge save)",
            owner="billing", runbook="https://runbooks.example/bill")(bill)
    app.job(name="refund")(refund)


def fill(url: str, jobs: int, say: Callable[[str], None]) -> int:
    """*jobs* finished jobs in the empty database at *url*; the id of one in the middle."""
    app = App(url)
    started = time.perf_counter()
    done = 0
    while done < jobs:
        size = min(BATCH, jobs - done)
        app.store.enqueue([NewJob("bill" if (done + n) % BILLS == 1 else "noop",
                                  "default" if n % 3 else "mail",
                                  f'{{"n":{done + n}}}', 3) for n in range(size)])
        done += size
        if done % 100_000 < BATCH:
            say(f"  {done:,} jobs enqueued ({time.perf_counter() - started:.0f} s)")
    finished = "finished_at = created_at, started_at = created_at, attempts = 1"
    execute(url, f"UPDATE jobtrail_jobs SET status = 'succeeded', {finished}")
    execute(url, "UPDATE jobtrail_jobs SET status = 'dead' WHERE id % 1000 = 7")
    execute(url, f"UPDATE jobtrail_jobs SET variant = CASE WHEN id % 3 = 0 THEN '{PAID}' "
                 f"ELSE '{UNPAID}' END WHERE job_name = 'bill'")
    middle = jobs // 2
    execute(url, f"UPDATE jobtrail_jobs SET parent_job_id = {middle} "
                 f"WHERE id > {middle} AND id <= {middle + CHILDREN}")
    say(f"  marked finished ({time.perf_counter() - started:.0f} s); sealing the trail")
    seal_all(app.store)
    say(f"  sealed ({time.perf_counter() - started:.0f} s)")
    app.close()
    return middle


def execute(url: str, statement: str) -> None:
    """Run one statement on the database, behind jobtrail's back (the fill's shortcut)."""
    backend, target = parse_url(url)
    if backend == "sqlite":
        import sqlite3

        with sqlite3.connect(target) as conn:
            conn.execute(statement)
        return
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute(statement)


def timed(client: TestClient, path: str, requests: int) -> list[float]:
    """Milliseconds of each of *requests* GETs of *path* (after one unmeasured)."""
    first = client.get(path, headers=HTML)
    if first.status_code != 200:
        raise SystemExit(f"{path}: HTTP {first.status_code}: {first.text[:200]}")
    spent = []
    for _ in range(requests):
        began = time.perf_counter()
        client.get(path, headers=HTML)
        spent.append((time.perf_counter() - began) * 1000)
    return spent


def measure(backend: Backend, jobs: int, requests: int) -> list[dict[str, Any]]:
    say = print
    backend.reset()
    say(f"{backend.name}: filling {jobs:,} jobs")
    middle = fill(backend.url, jobs, say)
    backend.analyze()
    app = App(backend.url)
    declare(app)
    client = TestClient(create_app(app), base_url="http://localhost")
    pages = ["/", "/jobs", "/jobs?status=succeeded", "/jobs?status=running",
             "/jobs?status=cancelled", "/jobs?queue=mail", "/jobs?queue=nowhere", "/jobs?job=noop",
             f"/jobs?before={middle}", f"/jobs/{middle}", f"/jobs?parent={middle}", "/dead",
             "/audit", "/flows", "/flows/bill", "/flows/refund", "/catalog", "/catalog/bill"]
    rows = []
    for path in pages:
        spent = sorted(timed(client, path, requests))
        p95 = spent[max(0, round(0.95 * len(spent)) - 1)]
        rows.append({"backend": backend.name, "page": path, "p50": statistics.median(spent),
                     "p95": p95})
        say(f"  {path:<28} p50 {statistics.median(spent):8.1f} ms   p95 {p95:8.1f} ms"
            f"   {'ok' if p95 < GOAL_MS else 'OVER'}")
    client.close()
    app.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="sqlite")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/jt_bench")
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    backends = chosen(args.backend, args.pg_url)
    if not backends:
        raise SystemExit("no backend to measure")
    rows: list[dict[str, Any]] = []
    try:
        for backend in backends:
            rows += measure(backend, args.jobs, args.requests)
    finally:
        for backend in backends:
            backend.cleanup()
    over = [row for row in rows if row["p95"] >= GOAL_MS]
    print(f"\n{len(rows) - len(over)} of {len(rows)} pages under {GOAL_MS:.0f} ms at p95 "
          f"with {args.jobs:,} jobs; command: python benchmarks/dashboard.py "
          f"--backend {args.backend} --jobs {args.jobs} --requests {args.requests}")


if __name__ == "__main__":
    main()
