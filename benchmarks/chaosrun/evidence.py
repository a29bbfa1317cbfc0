"""The evidence a run leaves: ``workers.json``, and ``findings.json`` when a check fails."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from chaosrun.checks import Check
from chaosrun.fleet import Fleet, WorkerProcess
from chaosrun.jobspecs import JobSpec
from chaosrun.ledger import LedgerLine
from jobtrail import EffectRecord, Event, JobRecord


def evidence(specs: dict[int, JobSpec], records: dict[int, JobRecord | None],
             effects: dict[int, list[EffectRecord]], ledger: list[LedgerLine],
             checks: list[Check], fleet: Fleet) -> dict[str, Any]:
    """Everything needed to look into the failed checks: for each job involved, its record,
    path, effects, ledger lines, and the workers that wrote them with what became of them."""
    workers = fleet.by_pid()
    involved: set[int] = set()
    for check in checks:
        for item in check.failures:
            if isinstance(item, dict):
                job = item.get("job") or (item.get("line") or {}).get("job_id")
                if isinstance(job, int):
                    involved.add(job)
    jobs: dict[str, Any] = {}
    for job_id in sorted(involved):
        record = records.get(job_id)
        keys = set(specs[job_id].effect_keys()) if job_id in specs else set()
        jobs[str(job_id)] = {
            "args": asdict(specs[job_id]) if job_id in specs else None,
            "status": None if record is None else record.status.value,
            "outcome": None if record is None else record.outcome,
            "attempts": None if record is None else record.attempts,
            "error": None if record is None or record.error is None else str(record.error),
            "path": [] if record is None else [render_event(e, fleet.clock.wall)
                                               for e in record.path],
            "effects": [{"key": e.key, "attempt": e.attempt, "status": e.status,
                         "started_at": e.started_at.isoformat(),
                         "finished_at": e.finished_at.isoformat() if e.finished_at else None}
                        for e in effects.get(job_id, [])],
            "ledger": [{**asdict(line), "run_s": round(line.at - fleet.clock.wall, 3),
                        "worker": _worker_of(workers, line.pid)}
                       for line in ledger if line.key in keys or line.job_id == job_id],
        }
    return {
        "checks": {c.name: c.failures for c in checks if not c.ok},
        "jobs": jobs,
    }


def _worker_of(workers: dict[int, WorkerProcess], pid: int) -> dict[str, Any] | None:
    worker = workers.get(pid)
    return None if worker is None else worker.summary()


def render_event(event: Event, origin: float) -> str:
    """One line of a job's path: seconds since the run began (as in ``chaos.log``),
    attempt, kind:name and attributes."""
    attrs = f" {json.dumps(event.attrs, sort_keys=True)}" if event.attrs else ""
    return f"{event.at.timestamp() - origin:9.3f} a{event.attempt} {event.kind}:{event.name}{attrs}"


def write_workers(workdir: Path, fleet: Fleet) -> None:
    """``workers.json``: each worker's pid, fate, times and exit status."""
    (workdir / "workers.json").write_text(
        json.dumps([w.summary() for w in fleet.all], indent=1))


def write_findings(workdir: Path, specs: dict[int, JobSpec],
                   records: dict[int, JobRecord | None],
                   effects: dict[int, list[EffectRecord]], ledger: list[LedgerLine],
                   checks: list[Check], fleet: Fleet) -> None:
    """``findings.json``: every failure, and each job involved (see `evidence`)."""
    (workdir / "findings.json").write_text(json.dumps(
        evidence(specs, records, effects, ledger, checks, fleet), indent=1))
