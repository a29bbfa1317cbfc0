"""How fast the dashboard's pages answer with a million finished jobs in the store.

    python benchmarks/dashboard.py [--backend sqlite|postgres|all] [--jobs 1000000]
                                   [--requests 20]

Fills an empty database with ``--jobs`` jobs through `Store.enqueue` (batches of 5,000),
marks them finished in SQL with the paths a billing job takes (`PATHS`: variants, code
versions v1 then v2 for the newest tenth, durations, the outcome row of each run with its
recorded path, a divergence for each run of the path v2 brought and each dead one — one in
a thousand, for the dead-letter page); one job in a hundred is a ``bill`` run with the
path its code explains, for the flow page, and the job in the middle has 200 children.
It seals the audit trail, then asks each page ``--requests`` times in this process
through Starlette's TestClient — the page's whole work (reads, template, headers),
without a network between — and prints p50 and p95 per page against the goal: p95 < 200
ms. The app the pages read declares the jobs and two rules, one triggered by a success and
one by a milestone of a path; ``/flows/refund`` is a job type with no run.
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
from jobtrail.paths.rules import enqueued, event, succeeded
from jobtrail.store import parse_url
from jobtrail.store.base import NewJob

GOAL_MS = 200.0
BATCH = 5_000
HTML = {"accept": "text/html"}
EXPECT = ("load decide:is_paid=false effect:charge fetch* send_result "
          "| load decide:is_paid=true exit:already_paid")
USUAL = "load decide:is_paid=false effect:charge send_result"
#: The variant of each run by its id modulo 1000 (below the bound): 60% the usual path,
#: 20% with a loop, 10% an early exit, 10% the usual path under v1 and an audit step under
#: v2 (a new path, each run of it a divergence); one in a thousand dead, incomplete.
PATHS = ((600, USUAL), (800, "load decide:is_paid=false effect:charge fetch+ send_result"),
         (900, "load decide:is_paid=true exit:already_paid"))
NEW = "load decide:is_paid=false effect:charge audit send_result"
DEAD = "load decide:is_paid=false effect:charge"


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
    for statement in finish_sql(parse_url(url)[0], deployed=jobs * 9 // 10):
        execute(url, statement)
    execute(url, f"UPDATE jobtrail_jobs SET variant = CASE WHEN id % 3 = 0 THEN '{PAID}' "
                 f"ELSE '{UNPAID}' END WHERE job_name = 'bill'")
    middle = jobs // 2
    execute(url, f"UPDATE jobtrail_jobs SET parent_job_id = {middle} "
                 f"WHERE id > {middle} AND id <= {middle + CHILDREN}")
    say(f"  marked finished ({time.perf_counter() - started:.0f} s); sealing the trail")
    seal_all(app.store)
    say(f"  sealed ({time.perf_counter() - started:.0f} s)")
    if parse_url(url)[0] == "postgres":  # as autovacuum leaves a store that has run a while
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE jobtrail_events")
            conn.execute("VACUUM ANALYZE jobtrail_divergences")
        say(f"  vacuumed ({time.perf_counter() - started:.0f} s)")
    app.close()
    return middle


def finish_sql(backend: str, deployed: int) -> list[str]:
    """The statements that finish every job with its path (`PATHS`): the runs after job
    *deployed* ran code version v2."""
    pg = backend == "postgres"
    seconds = "make_interval(secs => {})" if pg else "{}"
    epoch = "extract(epoch from {})" if pg else "{}"
    duration = "0.005 + (id % 97) * 0.0004"
    variant = " ".join(f"WHEN id % 1000 < {bound} THEN '{path}'" for bound, path in PATHS)
    charged = ("""',["step","load",0,800,null,"1"],["decide","is_paid",900,null,null,"false"],"""
               """["effect","charge",1000,2000,{"key":"charge-' || id || '"}],"""
               """["event","charged",3100,null,{"invoice":' || id || '}],"""
               """["step","send_result",3200,500,null,"null"]]'""")
    paid = ("""',["step","load",0,800,null,"1"],["decide","is_paid",900,null,null,"true"],"""
            """["exit","already_paid",1000,null,null]]'""")
    return [
        f"UPDATE jobtrail_jobs SET status = 'succeeded', attempts = 1, started_at = created_at, "
        f"finished_at = created_at + {seconds.format(duration)}, "
        f"code_version = CASE WHEN id > {deployed} THEN 'v2' ELSE 'v1' END, "
        f"variant = CASE {variant} WHEN id > {deployed} THEN '{NEW}' ELSE '{USUAL}' END, "
        "outcome = CASE WHEN id % 1000 >= 800 AND id % 1000 < 900 "
        "THEN 'exit:already_paid' END",
        f"UPDATE jobtrail_jobs SET status = 'dead', variant = '{DEAD}' WHERE id % 1000 = 7",
        "INSERT INTO jobtrail_divergences (job_id, job_name, attempt, kind, position, found, "
        "expected, message, at) "
        "SELECT id, job_name, 1, CASE WHEN status = 'dead' THEN 'incomplete' ELSE "
        "'unexpected' END, 3, CASE WHEN status = 'dead' THEN NULL ELSE 'audit' END, "
        "'[\"send_result\"]', CASE WHEN status = 'dead' THEN 'the run stopped after "
        "effect:charge; expected step send_result next' ELSE 'unexpected step audit at "
        "position 3; expected step send_result' END, finished_at FROM jobtrail_jobs "
        f"WHERE status = 'dead' OR variant = '{NEW}' ORDER BY id",
        "INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, duration, path) "
        f"SELECT id, 1, 'lifecycle', status, finished_at, {duration}, "
        f"'[' || {epoch.format('started_at')} || CASE WHEN outcome IS NULL THEN {charged} "
        f"ELSE {paid} END FROM jobtrail_jobs ORDER BY id",
    ]


def bench_app(url: str) -> App:
    """The app whose dashboard is measured: the billing job, and two rules."""
    app = App(url)
    app.job(name="noop", expect=EXPECT)(lambda: None)
    app.paths.rule("bills are receipted", when=succeeded("noop"), then=enqueued("receipt"),
                   within=60)
    app.paths.rule("charges are receipted", when=event("charged", key="invoice"),
                   then=event("receipted", key="invoice"), within=60)
    return app


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
    app = bench_app(backend.url)
    declare(app)
    client = TestClient(create_app(app), base_url="http://localhost")
    pages = ["/", "/jobs", "/jobs?status=succeeded", "/jobs?status=running",
             "/jobs?status=cancelled", "/jobs?queue=mail", "/jobs?queue=nowhere", "/jobs?job=noop",
             f"/jobs?before={middle}", "/jobs?since=1h", f"/jobs/{middle}",
             f"/jobs?parent={middle}", "/dead",
             "/audit", "/paths", "/paths/noop", "/paths/noop?version=v1", "/paths/bill",
             "/divergences", "/divergences?kind=incomplete",
             f"/divergences?job=noop&before={jobs // 100}",
             "/rules", "/flows", "/flows/bill", "/flows/refund", "/catalog", "/catalog/bill"]
    rows = []
    for path in pages:
        spent = sorted(timed(client, path, requests))
        p95 = spent[max(0, round(0.95 * len(spent)) - 1)]
        rows.append({"backend": backend.name, "page": path, "p50": statistics.median(spent),
                     "p95": p95})
        say(f"  {path:<38} p50 {statistics.median(spent):8.1f} ms   p95 {p95:8.1f} ms"
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
