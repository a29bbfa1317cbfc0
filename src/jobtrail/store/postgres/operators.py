"""What operators do to jobs on PostgreSQL: replay, discard and cancel, as the transition
table allows (`jobtrail.records.TRANSITIONS`), and removing a worker that stopped."""

from __future__ import annotations

from psycopg.rows import dict_row

from jobtrail.records import TRANSITIONS, JobRecord, Transition
from jobtrail.store import policy, rows
from jobtrail.store.postgres.connection import Database, translated
from jobtrail.store.postgres.reading import read_job
from jobtrail.store.postgres.values import to_time
from jobtrail.store.sqlfiles import queries

_Q = queries("postgres")


class Operators(Database):
    """The operators' side of the `Store` contract."""

    def _transition(self, job_id: int, transition: Transition) -> JobRecord:
        with self._tx() as conn:
            current = read_job(conn, _Q["lock_job"], job_id)
            refusal = policy.transition_refusal(transition, job_id, current.status)
            if refusal is not None:
                raise refusal
            if transition.resets:
                effects = conn.execute(_Q["job_effects"], {"id": job_id}).fetchall()
                blocker = policy.replay_blocker(
                    job_id, [rows.effect_record(row, to_time) for row in effects])
                if blocker is not None:
                    raise blocker
            target = transition.target
            row = conn.cursor(row_factory=dict_row).execute(
                _Q["set_status"],
                {"id": job_id, "from_status": current.status.value, "to_status": target.value,
                 "outcome": transition.outcome, "final": target.is_final,
                 "reset": transition.resets, "attempt": current.attempts,
                 "event": transition.event,
                 "attrs": rows.transition_attrs(None, previous=current.status.value)},
            ).fetchone()
            assert row is not None  # the row is locked: its status cannot have moved
            return rows.job_record(row, to_time)

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
    def unregister_worker(self, worker_id: str) -> None:
        self._fetch(_Q["delete_worker"], {"id": worker_id})
