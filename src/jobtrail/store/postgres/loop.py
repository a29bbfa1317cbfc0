"""The worker's loop on PostgreSQL: claim, heartbeat, checkpoint, finish, release, the
leases of workers that are gone, and what a claim saved (its steps, its path) for the runs
after it. Each call is one statement, one round-trip."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import psycopg

from jobtrail.records import ErrorInfo
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
from jobtrail.store.postgres.connection import Database, translated
from jobtrail.store.postgres.limited import ready_filter
from jobtrail.store.postgres.values import as_float, columns, to_time
from jobtrail.store.postgres.watch import FinishedWatch, ListenWatch
from jobtrail.store.sqlfiles import queries, steps

_Q = queries("postgres")
_CLAIM = steps("postgres", "claim")
_OUTCOME_COLUMNS = ("id", "attempt", "status", "result", "error", "outcome", "delay", "final",
                    "variant", "code_version", "milestones", "claim", "uncounted")
_TRANSITION_COLUMNS = ("ev_job", "ev_attempt", "ev_name", "ev_duration", "ev_attrs", "ev_path")
_SEGMENT_COLUMNS = ("ev_job", "ev_attempt", "ev_kind", "ev_name", "ev_at", "ev_duration",
                    "ev_attrs", "ev_path", "ev_claim")
_DIVERGENCE_COLUMNS = ("dv_job", "dv_job_name", "dv_attempt", "dv_kind", "dv_position",
                       "dv_found", "dv_expected", "dv_message")
_LOST_LEASE_COLUMNS = ("id", "status", "error", "attrs")


class WorkerLoop(Database):
    """The worker's side of the `Store` contract."""

    @translated
    def claim(
        self, worker_id: str, queues: Sequence[str] | None, limit: int, lease: float,
        flow: FlowLimits | None = None,
    ) -> list[ClaimedJob]:
        if limit <= 0:
            return []
        found: list[tuple[Any, ...]] = []
        held = self._claims.unsure(worker_id)
        if held is not None:
            found = self._fetch(_CLAIM["reclaim"], {
                "worker": worker_id, "limit": limit, "lease": float(lease),
                **columns(("held_ids", "held_claims"), held),
            })
        if len(found) < limit:
            served = [q for q in queues if q not in flow.paused] if queues and flow else queues
            if served == []:
                return self._handed(worker_id, found)
            sql, params = ready_filter(_CLAIM["claim"], served, limit - len(found), flow)
            try:
                found += self._fetch(sql, {"worker": worker_id, "lease": float(lease),
                                           "token": policy.claim_token(), **params})
            except psycopg.Error:
                # The claim may have committed with its answer lost on the way: for as long
                # as those leases last, the next claims hand over what this worker was given.
                self._claims.failed(worker_id, lease)
                raise
        return self._handed(worker_id, found)

    def _handed(self, worker_id: str, found: list[tuple[Any, ...]]) -> list[ClaimedJob]:
        claimed = [ClaimedJob(*row) for row in found]
        self._claims.handed(worker_id, [(job.id, job.claim) for job in claimed])
        return claimed

    @translated
    def claim_job(self, worker_id: str, job_id: int, lease: float) -> ClaimedJob | None:
        found = self._fetch(_Q["claim_job"], {"id": job_id, "worker": worker_id,
                                              "lease": float(lease),
                                              "token": policy.claim_token()})
        if not found:
            return None
        claimed = ClaimedJob(*found[0])
        self._claims.handed(worker_id, [(claimed.id, claimed.claim)])
        return claimed

    @translated
    def heartbeat(self, worker: WorkerInfo, job_ids: Sequence[int], lease: float) -> set[int]:
        kept = self._fetch(
            _Q["heartbeat"],
            {"worker": worker.id, "hostname": worker.hostname, "pid": worker.pid,
             "queues": ",".join(worker.queues) if worker.queues else None,
             "concurrency": worker.concurrency, "lease": float(lease), "ids": list(job_ids),
             "cpu_seconds": worker.cpu_seconds, "max_rss": worker.max_rss},
        )
        return set(job_ids) - {row[0] for row in kept}

    @translated
    def finish(self, worker_id: str, outcomes: Sequence[Outcome]) -> set[int]:
        if not outcomes:
            return set()
        transitions = [
            (o.job_id, o.attempt, o.event_name, as_float(o.duration),
             rows.outcome_attrs(o),
             path_segments.path_text(o.events))
            for o in outcomes
        ]
        outcome_rows = [
            (o.job_id, o.attempt, o.status.value, o.result, o.error.to_json() if o.error else None,
             o.outcome, as_float(o.retry_delay), o.status.is_final,
             o.run.variant if o.run else None, o.run.code_version if o.run else None,
             rows.milestones_text(o.run), o.claim, int(o.uncounted))
            for o in outcomes
        ]
        found = [row for o in outcomes for row in rows.divergence_rows(o)]
        params = {"worker": worker_id, "notify": self._waiters_listening(),
                  **columns(_OUTCOME_COLUMNS, outcome_rows),
                  **columns(_TRANSITION_COLUMNS, transitions),
                  **columns(_DIVERGENCE_COLUMNS, found)}
        withdrawing = [o for o in outcomes if o.withdrawn]
        if withdrawing:  # rare: an effect's intent that may be stored, its call never made
            with self._tx() as conn:
                for o in withdrawing:
                    conn.execute(_Q["withdraw_intents"], {
                        "keys": list(o.withdrawn), "id": o.job_id, "claim": o.claim})
                applied = {row[0] for row in conn.execute(_Q["finish"], params).fetchall()}
        else:
            applied = {row[0] for row in self._fetch(_Q["finish"], params)}
        self._claims.finished(worker_id, [(o.job_id, o.claim) for o in outcomes])
        return {o.job_id for o in outcomes} - applied

    def _waiters_listening(self) -> bool:
        """Whether a finish should notify waiters (`jobtrail.store.postgres.presence`)."""
        if any(isinstance(watch, FinishedWatch) for watch in self._watches):
            return True  # this process waits
        return self.presence.listening(lambda: bool(self._fetch(_Q["waiters_listening"])[0][0]))

    @translated
    def completed_steps(self, job_ids: Sequence[int]) -> dict[int, CompletedSteps]:
        if not job_ids:
            return {}
        found = self._fetch(_Q["path_segments"], {"ids": list(job_ids)})
        return path_segments.completed_steps(found)

    @translated
    def saved_path(self, job_id: int) -> list[PathEvent]:
        return path_segments.saved_path(self._fetch(_Q["saved_path"], {"id": job_id}))

    @translated
    def checkpoint(self, worker_id: str, segments: Sequence[PathSegment]) -> None:
        records = [path_segments.segment_row(seg.job_id, seg.attempt, seg.events, seg.claim)
                   for seg in segments if seg.events]
        if records:
            self._fetch(
                _Q["insert_segments_if_held"],
                {"worker": worker_id, **columns(_SEGMENT_COLUMNS, records)},
            )

    @translated
    def release(self, worker_id: str, job_ids: Sequence[int]) -> int:
        if not job_ids:
            return 0
        ((released, _),) = self._fetch(_Q["release"], {"worker": worker_id, "ids": list(job_ids)})
        self._claims.released(worker_id, job_ids)
        return int(released)

    @translated
    def reap_expired(self, limit: int = 500) -> list[int]:
        with self._tx() as conn:
            expired = conn.execute(_Q["expired_leases"], {"limit": limit}).fetchall()
            if not expired:
                return []
            params = columns(_LOST_LEASE_COLUMNS, _lost_leases(expired, None))
            return [row[0] for row in conn.execute(_Q["expire_leases"], params)]

    @translated
    def record_run(self, job_id: int, attempt: int, summary: RunSummary) -> bool:
        found = rows.run_divergence_rows(job_id, attempt, summary)
        written = self._fetch(_Q["record_run"], {
            "id": job_id, "variant": summary.variant, "code_version": summary.code_version,
            "milestones": rows.milestones_text(summary), **columns(_DIVERGENCE_COLUMNS, found)})
        return bool(written)

    @translated
    def expire_worker(self, worker_id: str, error: ErrorInfo) -> list[int]:
        with self._tx() as conn:
            held = conn.execute(_Q["worker_leases"], {"worker": worker_id}).fetchall()
            if not held:
                return []
            params = {"worker": worker_id,
                      **columns(_LOST_LEASE_COLUMNS, _lost_leases(held, error))}
            return [row[0] for row in conn.execute(_Q["expire_worker_leases"], params)]

    @translated
    def next_run_at(self, queues: Sequence[str] | None,
                    flow: FlowLimits | None = None) -> datetime | None:
        served = [q for q in queues if q not in flow.paused] if queues and flow else queues
        if served == []:
            return None
        ((due,),) = self._fetch(*ready_filter(_Q["next_run_at"], served, 0, flow))
        return to_time(due)

    def watch(self, on_change: Callable[[], None]) -> ListenWatch:
        self._get_pool()  # a forked child forgets its parent's watchers first
        watch = ListenWatch(self, on_change)
        self.add_watch(watch)
        return watch

    def watch_finished(self, on_finished: Callable[[frozenset[int] | None], None]
                       ) -> FinishedWatch:
        self._get_pool()
        watch = FinishedWatch(self, on_finished)
        self.add_watch(watch)
        return watch


def _lost_leases(leases: list[tuple[Any, ...]], error: ErrorInfo | None
                 ) -> list[tuple[Any, ...]]:
    """The (id, status, error, attrs) rows that end *leases* (id, attempts, max_attempts,
    worker) as lost: each job retried, or dead when that was its last attempt, for *error*
    (by default: the lease ran out)."""
    ended = []
    for job_id, attempts, max_attempts, worker in leases:
        reason = error or policy.lease_error(worker, attempts, max_attempts)
        status = policy.after_lost_lease(attempts, max_attempts)
        attrs = rows.transition_attrs(reason, worker=worker, next=status.value)
        ended.append((job_id, status.value, reason.to_json(), attrs))
    return ended

