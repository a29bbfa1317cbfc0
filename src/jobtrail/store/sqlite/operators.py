"""What operators do to jobs on SQLite: replay, discard and cancel, as the transition
table allows (`jobtrail.records.TRANSITIONS`), and removing a worker that stopped."""

from __future__ import annotations

from jobtrail.records import TRANSITIONS, JobRecord, Transition, utc_from_epoch
from jobtrail.store import policy, rows
from jobtrail.store.sqlfiles import queries, steps
from jobtrail.store.sqlite.connection import Database, translated
from jobtrail.store.sqlite.reading import read_job

_Q = queries("sqlite")
_SET_STATUS = steps("sqlite", "set_status")


class Operators(Database):
    """The operators' side of the `Store` contract."""

    def _transition(self, job_id: int, transition: Transition) -> JobRecord:
        with self._write() as conn:
            now = self.clock.now()
            current = read_job(conn, _Q["lock_job"], job_id)
            refusal = policy.transition_refusal(transition, job_id, current.status)
            if refusal is not None:
                raise refusal
            if transition.resets:
                effects = conn.execute(_Q["job_effects"], {"id": job_id}).fetchall()
                blocker = policy.replay_blocker(
                    job_id, [rows.effect_record(row, utc_from_epoch) for row in effects])
                if blocker is not None:
                    raise blocker
            target = transition.target
            conn.execute(_SET_STATUS["status"], {
                "id": job_id, "from_status": current.status.value, "to_status": target.value,
                "outcome": transition.outcome, "finished_at": now if target.is_final else None,
                "now": now, "reset": transition.resets})
            conn.execute(_SET_STATUS["event"], {
                "id": job_id, "attempt": current.attempts, "event": transition.event,
                "now": now, "attrs": rows.transition_attrs(None, previous=current.status.value)})
            return read_job(conn, _Q["get_job"], job_id)

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
        self._conn().execute(_Q["delete_worker"], {"id": worker_id})
