"""What jobtrail promises, checked: the store's records and effects against the ledger
and the workers' fates; and the counts the report shows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import chaos_jobs

from chaosrun.clock import Clock
from chaosrun.fleet import Fleet, WorkerProcess, early_term
from chaosrun.jobspecs import JobSpec
from chaosrun.ledger import LedgerLine
from chaosrun.settings import STOP_SLACK
from jobtrail import App, EffectRecord, JobNotFound, JobRecord, Status


@dataclass
class Check:
    """One promise checked: the items that broke it (empty: it held)."""

    name: str
    failures: list[Any] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def collect(app: App, ids: Sequence[int]) -> tuple[dict[int, JobRecord | None],
                                                   dict[int, list[EffectRecord]]]:
    """Every job's record (with its path) and effects; ``None`` for a job not found."""
    records: dict[int, JobRecord | None] = {}
    effects: dict[int, list[EffectRecord]] = {}
    for job_id in ids:
        try:
            records[job_id] = app.get(job_id)
            effects[job_id] = app.effects(job_id)
        except JobNotFound:
            records[job_id] = None
            effects[job_id] = []
    return records, effects


def check_run(specs: dict[int, JobSpec], records: dict[int, JobRecord | None],
              effects: dict[int, list[EffectRecord]], ledger: list[LedgerLine],
              unreadable: list[str], fleet: Fleet) -> tuple[list[Check], dict[str, Any]]:
    """Every check of the run, and the counts the report shows."""
    owner = {key: job_id for job_id, spec in specs.items() for key in spec.effect_keys()}
    performed = Counter(line.key for line in ledger)

    lost = Check("no job lost (every job final: succeeded or dead-lettered)")
    twice = Check("no effect key performed twice")
    foreign = Check("every key in the ledger belongs to an enqueued job, written by that job")
    succeeded = Check("every succeeded job performed each of its effect keys exactly once "
                      "and returned its result")
    agree = Check("the store and the ledger agree: a key done is in the ledger, a key in the "
                  "ledger had its intent recorded, an effect_uncertain job has a started effect")
    stops = Check("every SIGTERMed worker stopped within grace + "
                  f"{STOP_SLACK:g}s with status 0 and no worker exited by itself")

    for job_id in specs:
        record = records[job_id]
        if record is None:
            lost.failures.append({"job": job_id, "why": "missing from the store"})
        elif not record.is_final:
            lost.failures.append({"job": job_id, "why": f"still {record.status.value}",
                                  "attempts": record.attempts})
    workers = fleet.by_pid()
    for key, n in sorted(performed.items()):
        if n > 1:
            holder = owner.get(key)
            held = records.get(holder) if holder is not None else None
            twice.failures.append(duplicate(key, holder, held, ledger, workers, fleet.clock))
    for line in ledger:
        if owner.get(line.key) != line.job_id:
            foreign.failures.append({"line": asdict(line), "owner": owner.get(line.key)})
    foreign.failures.extend({"unreadable": text} for text in unreadable)
    for job_id, spec in specs.items():
        record = records[job_id]
        if record is None or record.status is not Status.SUCCEEDED:
            continue
        wrong = {key: performed[key] for key in spec.effect_keys() if performed[key] != 1}
        if wrong:
            succeeded.failures.append({"job": job_id, "performed": wrong})
        if record.result != chaos_jobs.expected_result(spec.n):
            succeeded.failures.append({"job": job_id, "result": record.result,
                                       "expected": chaos_jobs.expected_result(spec.n)})
    for job_id, spec in specs.items():
        recorded = {effect.key: effect for effect in effects[job_id]}
        for key in spec.effect_keys():
            effect = recorded.get(key)
            if effect is not None and effect.status == "done" and performed[key] == 0:
                agree.failures.append({"job": job_id, "key": key,
                                       "why": "recorded done, absent from the ledger"})
            if effect is None and performed[key] > 0:
                agree.failures.append({"job": job_id, "key": key,
                                       "why": "in the ledger, but no intent was recorded"})
        record = records[job_id]
        if (record is not None and record.outcome == "effect_uncertain"
                and not any(e.status == "started" for e in effects[job_id])):
            agree.failures.append({"job": job_id, "why": "effect_uncertain with no started effect"})
    for worker in fleet.all:
        if worker.stuck:
            stops.failures.append({"worker": worker.seq, "pid": worker.pid,
                                   "why": "did not stop after SIGTERM", "log": str(worker.log)})
        if worker.fate == "exited by itself":
            stops.failures.append({"worker": worker.seq, "pid": worker.pid,
                                   "why": f"exited by itself with status {worker.exit_code}",
                                   "log": str(worker.log)})
        elif (worker.fate in ("SIGTERM", "stopped at end") and not worker.stuck
              and worker.exit_code not in (0, None) and not early_term(worker)):
            stops.failures.append({"worker": worker.seq, "pid": worker.pid,
                                   "why": f"exited with status {worker.exit_code} after SIGTERM",
                                   "log": str(worker.log)})

    # What the ledger says of the effects jobtrail could not know about.
    uncertain: Counter[str] = Counter()
    for job_id in specs:
        record = records[job_id]
        if record is not None and record.outcome == "effect_uncertain":
            for effect in effects[job_id]:
                if effect.status == "started":
                    uncertain["happened" if performed[effect.key] else "had not happened"] += 1
    present = [r for r in records.values() if r is not None]
    statuses = Counter(r.status.value for r in present)
    dead_by = Counter(f"{r.outcome or '-'} / {r.error.type if r.error else '-'}"
                      for r in present if r.status is Status.DEAD)
    lifecycle = Counter(e.name for r in present for e in r.path if e.kind == "lifecycle")
    figures = {
        "statuses": dict(statuses),
        "succeeded": statuses.get(Status.SUCCEEDED.value, 0),
        "dead": statuses.get(Status.DEAD.value, 0),
        "dead_by": dict(dead_by.most_common()),
        "lost": len(lost.failures),
        "duplicate_keys": len(twice.failures),
        "duplicate_keys_of_released_jobs": sum(1 for f in twice.failures if f["released"]),
        "duplicate_calls_after_release": sum(
            1 for f in twice.failures for call in f["calls"] if call["after_release"]),
        "attempts": sum(r.attempts for r in present),
        "jobs_run_more_than_once": sum(1 for r in present if r.attempts > 1),
        "lifecycle_events": dict(lifecycle.most_common()),
        "uncertain_effects": dict(uncertain),
        "ledger_lines": len(ledger),
        "ledger_keys": len(performed),
    }
    return [lost, twice, foreign, succeeded, agree, stops], figures


def duplicate(key: str, job_id: int | None, record: JobRecord | None,
              ledger: list[LedgerLine], workers: dict[int, WorkerProcess],
              clock: Clock) -> dict[str, Any]:
    """A key performed more than once, with each call: when (seconds since the run
    began), by which attempt and worker, what became of that worker, and whether the call
    came after the job was released by a graceful stop of the worker that made it (the
    attempt went on running after its release)."""
    releases = [] if record is None else [
        e.at.timestamp() for e in record.path if e.kind == "lifecycle" and e.name == "released"]
    calls = []
    for line in sorted((x for x in ledger if x.key == key), key=lambda x: x.at):
        worker = workers.get(line.pid)
        stopping = (worker is not None and worker.fate == "SIGTERM"
                    and worker.signalled_at is not None
                    and line.at - clock.wall >= worker.signalled_at)
        calls.append({
            "run_s": round(line.at - clock.wall, 3), "attempt": line.attempt, "pid": line.pid,
            "worker": None if worker is None else worker.seq,
            "worker_fate": None if worker is None else worker.fate,
            "after_release": stopping and any(at <= line.at for at in releases),
        })
    return {"key": key, "job": job_id, "times": len(calls), "released": bool(releases),
            "calls": calls}
