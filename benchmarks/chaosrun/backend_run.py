"""One backend's run: its database, the jobs, the chaos, the checks, the report, the
evidence, and the clean-up whatever happens."""

from __future__ import annotations

import logging
import random
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import chaos_jobs
from pg_cluster import ThrowawayCluster, find_bindir

from chaosrun.checks import check_run, collect
from chaosrun.clock import Clock
from chaosrun.drive import drive
from chaosrun.evidence import write_findings, write_workers
from chaosrun.fleet import Fleet, early_term
from chaosrun.jobspecs import make_specs
from chaosrun.ledger import read_ledger
from chaosrun.report import report
from chaosrun.settings import ENQUEUE_BATCH, Settings
from jobtrail import App


def run_backend(name: str, settings: Settings, rng: random.Random) -> dict[str, Any]:
    """Set up *name*, run the chaos, check, report; return the figures."""
    cluster = ThrowawayCluster(find_bindir(settings.pg_bin)) if name == "postgres" else None
    workdir = Path(tempfile.mkdtemp(prefix=f"jobtrail-chaos-{name}-"))
    fleet: Fleet | None = None
    app: App | None = None
    keep = True
    journal = (workdir / "chaos.log").open("w")
    # The run's own store connections see the restarts too: their warnings go to a file
    # next to the workers' logs, not between the progress lines.
    own_log = logging.FileHandler(workdir / "run.log")
    own_log.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logging.getLogger().addHandler(own_log)
    clock = Clock()
    try:
        if cluster is not None:
            cluster.start()
            print(f"[{name}] throwaway cluster on port {cluster.port} in {cluster.root}",
                  flush=True)
            url = cluster.url
        else:
            url = f"sqlite:///{workdir / 'chaos.db'}"
        app = chaos_jobs.make_app(url, lease=settings.lease, grace=settings.grace)
        app.upgrade()
        specs = make_specs(settings.jobs, rng)
        job = app.job_named("chaos_pay")
        ids: list[int] = []
        for start in range(0, len(specs), ENQUEUE_BATCH):
            batch = specs[start:start + ENQUEUE_BATCH]
            ids += [h.id for h in job.enqueue_many([asdict(spec) for spec in batch])]
        by_id = dict(zip(ids, specs, strict=True))
        print(f"[{name}] {len(ids):,} jobs enqueued; evidence in {workdir}", flush=True)
        clock = Clock()
        fleet = Fleet(url, workdir, settings, clock, journal)
        outcome = drive(name, app, fleet, cluster, len(ids), settings, rng, clock)
        fleet.stop_all()
        print(f"[{name}] workers stopped; checking {len(ids):,} jobs", flush=True)
        records, effects = collect(app, ids)
        ledger, unreadable = read_ledger(fleet.ledger)
        checks, figures = check_run(by_id, records, effects, ledger, unreadable, fleet)
        keep = settings.keep or not all(c.ok for c in checks)
        finished = sum(1 for r in records.values() if r is not None and r.is_final)
        figures.update({
            "backend": name,
            "jobs": len(ids),
            "elapsed_s": round(outcome.elapsed, 2),
            "final": finished,
            # Jobs that reached a final status per second, from the first worker's start.
            "jobs_per_s": round(finished / outcome.elapsed, 1) if outcome.elapsed else None,
            "all_final_before_timeout": outcome.all_final and not outcome.timed_out,
            "sigkills": fleet.sigkills,
            "sigterms": fleet.sigterms,
            "sigterms_before_start": sum(1 for w in fleet.all if early_term(w)),
            "workers_started": len(fleet.all),
            "pg_restarts": outcome.pg_restarts,
            "checks": {c.name: {"ok": c.ok, "failures": len(c.failures)} for c in checks},
            "ok": all(c.ok for c in checks),
            "evidence": str(workdir) if keep else None,
        })
        write_workers(workdir, fleet)
        if not figures["ok"]:
            write_findings(workdir, by_id, records, effects, ledger, checks, fleet)
        report(name, figures, checks, settings)
        return figures
    finally:
        if fleet is not None:
            fleet.kill_all()
        if app is not None:
            app.close()
        if cluster is not None:
            cluster.save_log(workdir / "postgres.log")
            cluster.remove()
        journal.close()
        logging.getLogger().removeHandler(own_log)
        own_log.close()
        if keep:
            print(f"[{name}] evidence kept in {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
