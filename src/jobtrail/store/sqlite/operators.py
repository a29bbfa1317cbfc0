"""What operators do to jobs on SQLite: replay, discard and cancel, one job or a batch in
one transaction, as the transition table allows (`jobtrail.records.TRANSITIONS`), and
removing a worker that stopped."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from jobtrail.records import TRANSITIONS, JobRecord, Transition, utc_from_epoch
from jobtrail.store import policy, rows
from jobtrail.store.actions import ActionResult
from jobtrail.store.base import EffectRecord
from jobtrail.store.sqlfiles import queries, steps
from jobtrail.store.sqlite.connection import Database, translated
from jobtrail.store.sqlite.reading import read_job

_Q = queries("sqlite")
_SET_STATUS = steps("sqlite", "set_status")


def _effects(conn: sqlite3.Connection, job_id: int) -> list[EffectRecord]:
    found = conn.execute(_Q["job_effects"], {"id": job_id}).fetchall()
    return [rows.effect_record(row, utc_from_epoch) for row in found]


def _apply(conn: sqlite3.Connection, current: JobRecord, transition: Transition,
           now: float, actor: str | None) -> JobRecord:
    """Move *current* (read in this write transaction) along *transition*, with its event."""
    target = transition.target
    conn.execute(_SET_STATUS["status"], {
        "id": current.id, "from_status": current.status.value, "to_status": target.value,
        "outcome": transition.outcome, "finished_at": now if target.is_final else None,
        "now": now, "reset": transition.resets})
    conn.execute(_SET_STATUS["event"], {
        "id": current.id, "attempt": current.attempts, "event": transition.event,
        "now": now, "attrs": rows.transition_attrs(None, previous=current.status.value,
                                                   actor=actor)})
    return read_job(conn, _Q["get_job"], current.id)


class Operators(Database):
    """The operators' side of the `Store` contract."""

    def _transition(self, job_id: int, transition: Transition) -> JobRecord:
        with self._write() as conn:
            now = self.clock.now()
            current = read_job(conn, _Q["lock_job"], job_id)
            refused = policy.refusal(transition, current, lambda: _effects(conn, job_id))
            if refused is not None:
                raise refused[1]
            return _apply(conn, current, transition, now, self.actor)

    def _transition_many(self, job_ids: Sequence[int],
                         transition: Transition) -> list[ActionResult]:
        with self._write() as conn:
            now = self.clock.now()
            return policy.act_on_each(
                job_ids, transition,
                lock=lambda job_id: read_job(conn, _Q["lock_job"], job_id),
                effects=lambda job_id: _effects(conn, job_id),
                apply=lambda current: _apply(conn, current, transition, now, self.actor),
            )

    @translated
    def replay(self, job_id: int) -> JobRecord:
        return self._transition(job_id, TRANSITIONS["replay"])

    @translated
    def discard(self, job_id: int) -> JobRecord:
        return self._transition(job_id, TRANSITIONS["discard"])

    @translated
    def cancel(self, job_id: int) -> JobRecord:
        return self._transition(job_id, TRANSITIONS["cancel"])

    @translated
    def replay_many(self, job_ids: Sequence[int]) -> list[ActionResult]:
        return self._transition_many(job_ids, TRANSITIONS["replay"])

    @translated
    def discard_many(self, job_ids: Sequence[int]) -> list[ActionResult]:
        return self._transition_many(job_ids, TRANSITIONS["discard"])

    @translated
    def cancel_many(self, job_ids: Sequence[int]) -> list[ActionResult]:
        return self._transition_many(job_ids, TRANSITIONS["cancel"])

    @translated
    def unregister_worker(self, worker_id: str) -> None:
        self._conn().execute(_Q["delete_worker"], {"id": worker_id})
