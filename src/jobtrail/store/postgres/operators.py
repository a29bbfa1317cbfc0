"""What operators do to jobs on PostgreSQL: replay, discard and cancel, one job or a batch
in one transaction, as the transition table allows (`jobtrail.records.TRANSITIONS`), and
removing a worker that stopped."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg.rows import dict_row

from jobtrail.records import TRANSITIONS, JobRecord, Transition
from jobtrail.store import policy, rows
from jobtrail.store.actions import ActionResult
from jobtrail.store.base import EffectRecord
from jobtrail.store.postgres.connection import Conn, Database, translated
from jobtrail.store.postgres.reading import read_job
from jobtrail.store.postgres.values import to_time
from jobtrail.store.sqlfiles import queries

_Q = queries("postgres")


def _effects(conn: Conn, job_id: int) -> list[EffectRecord]:
    found = conn.execute(_Q["job_effects"], {"id": job_id}).fetchall()
    return [rows.effect_record(row, to_time) for row in found]


def _apply(conn: Conn, current: JobRecord, transition: Transition,
           actor: str | None) -> JobRecord:
    """Move *current* (locked in this transaction) along *transition*, with its event."""
    target = transition.target
    row = conn.cursor(row_factory=dict_row).execute(
        _Q["set_status"],
        {"id": current.id, "from_status": current.status.value, "to_status": target.value,
         "outcome": transition.outcome, "final": target.is_final,
         "reset": transition.resets, "attempt": current.attempts,
         "event": transition.event,
         "attrs": rows.transition_attrs(None, previous=current.status.value, actor=actor)},
    ).fetchone()
    assert row is not None  # the row is locked: its status cannot have moved
    return rows.job_record(row, to_time)


class Operators(Database):
    """The operators' side of the `Store` contract."""

    def _transition(self, job_id: int, transition: Transition) -> JobRecord:
        with self._tx() as conn:
            current = read_job(conn, _Q["lock_job"], job_id)
            refused = policy.refusal(transition, current, lambda: _effects(conn, job_id))
            if refused is not None:
                raise refused[1]
            return _apply(conn, current, transition, self.actor)

    def _transition_many(self, job_ids: Sequence[int],
                         transition: Transition) -> list[ActionResult]:
        with self._tx() as conn:
            return policy.act_on_each(
                job_ids, transition,
                lock=lambda job_id: read_job(conn, _Q["lock_job"], job_id),
                effects=lambda job_id: _effects(conn, job_id),
                apply=lambda current: _apply(conn, current, transition, self.actor),
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
        self._fetch(_Q["delete_worker"], {"id": worker_id})
