"""The worker's loop on SQLite: claim, heartbeat, checkpoint, finish, release, the leases
of workers that are gone, and what a claim saved (its steps, its path) for the runs after
it."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from jobtrail.records import ErrorInfo, utc_from_epoch
from jobtrail.store import policy, rows
from jobtrail.store import segments as path_segments
from jobtrail.store.base import (
    ClaimedJob,
    CompletedSteps,
    FlowLimits,
    Outcome,
    PathEvent,
    PathSegment,
    RunSummary,
    WorkerInfo,
)
from jobtrail.store.sqlfiles import queries, steps
from jobtrail.store.sqlite.connection import Database, translated
from jobtrail.store.sqlite.limited import ready_filter
from jobtrail.store.sqlite.watch import DataVersionWatch

_Q = queries("sqlite")
_CLAIM = steps("sqlite", "claim")
_CLAIM_JOB = steps("sqlite", "claim_job")
_HEARTBEAT = steps("sqlite", "heartbeat")
_FINISH = steps("sqlite", "finish")
_RELEASE = steps("sqlite", "release")
_EXPIRE = steps("sqlite", "expire_leases")
_EXPIRE_WORKER = steps("sqlite", "expire_worker_leases")
_RECORD_RUN = steps("sqlite", "record_run")


class WorkerLoop(Database):
    """The worker's side of the `Store` contract."""

    @translated
    def claim(
        self, worker_id: str, queues: Sequence[str] | None, limit: int, lease: float,
        flow: FlowLimits | None = None,
    ) -> list[ClaimedJob]:
        served = _served(queues, flow)
        if limit <= 0 or served == ():
            return []
        conn = self._conn()
        now = self.clock.now()
        probe, params = ready_filter(_CLAIM["probe"], served, flow)
        if conn.execute(probe, {"now": now, **params}).fetchone() is None:
            return []
        sql, params = ready_filter(_CLAIM["claim"], served, flow)
        with self._write() as conn:
            now = self.clock.now()
            found = conn.execute(
                sql,
                {"worker": worker_id, "lease_until": now + lease, "now": now, "limit": limit,
                 "token": policy.claim_token(), **params},
            ).fetchall()
            conn.executemany(_CLAIM["event"], [(row[0], row[4], now, row[9]) for row in found])
        return [ClaimedJob(*row) for row in found]

    @translated
    def claim_job(self, worker_id: str, job_id: int, lease: float) -> ClaimedJob | None:
        with self._write() as conn:
            now = self.clock.now()
            row = conn.execute(_CLAIM_JOB["claim"], {
                "id": job_id, "worker": worker_id, "lease_until": now + lease, "now": now,
                "token": policy.claim_token()}).fetchone()
            if row is None:
                return None
            conn.execute(_CLAIM_JOB["event"], (row[0], row[4], now, row[9]))
        return ClaimedJob(*row)

    @translated
    def heartbeat(self, worker: WorkerInfo, job_ids: Sequence[int], lease: float) -> set[int]:
        lost: set[int] = set()
        with self._write() as conn:
            now = self.clock.now()
            conn.execute(
                _HEARTBEAT["worker"],
                {"id": worker.id, "hostname": worker.hostname, "pid": worker.pid,
                 "queues": ",".join(worker.queues) if worker.queues else None,
                 "concurrency": worker.concurrency, "now": now,
                 "cpu_seconds": worker.cpu_seconds, "max_rss": worker.max_rss},
            )
            for job_id in job_ids:
                cur = conn.execute(
                    _HEARTBEAT["lease"],
                    {"id": job_id, "worker": worker.id, "lease_until": now + lease},
                )
                if cur.rowcount == 0:
                    lost.add(job_id)
        return lost

    @translated
    def finish(self, worker_id: str, outcomes: Sequence[Outcome]) -> set[int]:
        if not outcomes:
            return set()
        ids = [out.job_id for out in outcomes]
        held_sql = _FINISH["held"].format(ids=", ".join("?" * len(ids)))
        # Rows are built before the write lock is taken: other writers wait only for SQL.
        now = self.clock.now()
        rows_of = {}
        for out in outcomes:
            run = out.run
            update = {"id": out.job_id, "status": out.status.value, "result": out.result,
                      "error": out.error.to_json() if out.error else None,
                      "outcome": out.outcome, "delay": out.retry_delay,
                      "final": out.status.is_final, "now": now,
                      "variant": run.variant if run else None,
                      "code_version": run.code_version if run else None,
                      "milestones": rows.milestones_text(run), "uncounted": int(out.uncounted)}
            event = (out.job_id, out.attempt, out.event_name, now, out.duration,
                     rows.outcome_attrs(out),
                     path_segments.path_text(out.events), out.claim)
            found = [(*row, now) for row in rows.divergence_rows(out)]
            rows_of[(out.job_id, out.claim)] = (update, event, out.status.is_final, found)
        with self._write() as conn:
            # Which claims the worker still holds: one read, then batched writes.
            held = [key for key in conn.execute(held_sql, [worker_id, *ids]) if key in rows_of]
            written = [rows_of[key] for key in held]
            conn.executemany(_FINISH["job"], [row[0] for row in written])
            conn.executemany(_FINISH["event"], [row[1] for row in written])
            divergences = [found for row in written for found in row[3]]
            if divergences:
                conn.executemany(_FINISH["divergence"], divergences)
            withdrawn = [(key, out.job_id, out.claim) for out in outcomes if out.withdrawn
                         and (out.job_id, out.claim) in held for key in out.withdrawn]
            if withdrawn:
                conn.executemany(_Q["withdraw_intents"], withdrawn)
            final = [job_id for job_id, claim in held if rows_of[(job_id, claim)][2]]
            if final:
                conn.execute(_FINISH["receipts"].format(ids=", ".join("?" * len(final))), final)
        return set(ids) - {job_id for job_id, _ in held}

    @translated
    def completed_steps(self, job_ids: Sequence[int]) -> dict[int, CompletedSteps]:
        if not job_ids:
            return {}
        sql = _Q["path_segments"].format(ids=", ".join("?" * len(job_ids)))
        return path_segments.completed_steps(self._conn().execute(sql, list(job_ids)))

    @translated
    def saved_path(self, job_id: int) -> list[PathEvent]:
        return path_segments.saved_path(self._conn().execute(_Q["saved_path"], {"id": job_id}))

    @translated
    def checkpoint(self, worker_id: str, segments: Sequence[PathSegment]) -> None:
        # Rows are built before the write lock is taken: other writers wait only for SQL.
        written = [
            dict(zip(path_segments.COLUMNS, path_segments.segment_row(
                seg.job_id, seg.attempt, seg.events, seg.claim), strict=True), worker=worker_id)
            for seg in segments
            if seg.events
        ]
        if written:
            with self._write() as conn:
                conn.executemany(_Q["insert_segments_if_held"], written)

    @translated
    def release(self, worker_id: str, job_ids: Sequence[int]) -> int:
        released = 0
        with self._write() as conn:
            now = self.clock.now()
            for job_id in job_ids:
                row = conn.execute(
                    _RELEASE["release"], {"id": job_id, "worker": worker_id, "now": now}
                ).fetchone()
                if row is not None:
                    released += 1
                    conn.execute(_RELEASE["event"], (job_id, row[0], now, row[1]))
        return released

    @translated
    def reap_expired(self, limit: int = 500) -> list[int]:
        now = self.clock.now()
        if not self._conn().execute(_Q["expired_leases"], {"now": now, "limit": 1}).fetchone():
            return []
        with self._write() as conn:
            now = self.clock.now()
            expired = conn.execute(_Q["expired_leases"], {"now": now, "limit": limit}).fetchall()
            return _end_leases(conn, _EXPIRE, expired, now, None)

    @translated
    def record_run(self, job_id: int, attempt: int, summary: RunSummary) -> bool:
        found = rows.run_divergence_rows(job_id, attempt, summary)
        with self._write() as conn:
            now = self.clock.now()
            written = conn.execute(_RECORD_RUN["job"], {
                "id": job_id, "variant": summary.variant, "code_version": summary.code_version,
                "milestones": rows.milestones_text(summary)}).rowcount
            if written and found:
                conn.executemany(_RECORD_RUN["divergence"], [(*row, now) for row in found])
        return bool(written)

    @translated
    def expire_worker(self, worker_id: str, error: ErrorInfo) -> list[int]:
        with self._write() as conn:
            now = self.clock.now()
            held = conn.execute(_Q["worker_leases"], {"worker": worker_id}).fetchall()
            return _end_leases(conn, _EXPIRE_WORKER, held, now, error)

    @translated
    def next_run_at(self, queues: Sequence[str] | None,
                    flow: FlowLimits | None = None) -> datetime | None:
        served = _served(queues, flow)
        if served == ():
            return None
        sql, params = ready_filter(_Q["next_run_at"], served, flow)
        row = self._conn().execute(sql, params).fetchone()
        return utc_from_epoch(row[0]) if row and row[0] is not None else None

    def watch(self, on_change: Callable[[], None]) -> DataVersionWatch:
        self._conn()
        return DataVersionWatch(self, on_change, self.poll_interval)

    def watch_finished(self, on_finished: Callable[[frozenset[int] | None], None]
                       ) -> DataVersionWatch:
        # SQLite tells no more than "another connection committed": any job may have ended.
        self._conn()
        return DataVersionWatch(self, functools.partial(on_finished, None), self.poll_interval,
                                query="watch_finished")


def _served(queues: Sequence[str] | None, flow: FlowLimits | None) -> tuple[str, ...] | None:
    """The queues a worker claims from (``None``: every queue), less those paused."""
    if not queues:
        return None
    return tuple(q for q in queues if flow is None or q not in flow.paused)


def _end_leases(conn: Any, statements: dict[str, str], leases: list[tuple[Any, ...]],
                now: float, error: ErrorInfo | None) -> list[int]:
    """End *leases* (id, attempts, max_attempts, worker, claim) as lost: each job retried,
    or dead when that was its last attempt, for *error* (by default: the lease ran out).
    Return the ids of the jobs whose lease this ended."""
    ended: list[int] = []
    for job_id, attempts, max_attempts, worker, claim in leases:
        reason = error or policy.lease_error(worker, attempts, max_attempts)
        status = policy.after_lost_lease(attempts, max_attempts)
        cur = conn.execute(statements["expire"], {
            "id": job_id, "status": status.value, "error": reason.to_json(), "now": now,
            "worker": worker})
        if cur.rowcount:
            ended.append(job_id)
            conn.execute(statements["event"], (
                job_id, attempts, now,
                rows.transition_attrs(reason, worker=worker, next=status.value), claim))
    return ended
