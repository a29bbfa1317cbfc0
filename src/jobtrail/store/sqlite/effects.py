"""At-most-once effects on SQLite: the intent written before the call, the result after,
and an operator's verdict on one that nobody knows the end of."""

from __future__ import annotations

from collections.abc import Sequence

from jobtrail.errors import LeaseLost
from jobtrail.records import utc_from_epoch
from jobtrail.store import policy, rows, segments
from jobtrail.store.base import EffectRecord, PathEvent
from jobtrail.store.sqlfiles import queries, steps
from jobtrail.store.sqlite.connection import Database, translated
from jobtrail.store.sqlite.reading import read_job

_Q = queries("sqlite")
_RESOLVE = steps("sqlite", "resolve_effect")


class Effects(Database):
    """The effects of the `Store` contract."""

    @translated
    def begin_effect(
        self, job_id: int, claim: int, attempt: int, name: str, key: str, repeat_safe: bool,
        segment: Sequence[PathEvent] = (),
    ) -> EffectRecord | None:
        params = {"key": key, "job_id": job_id, "name": name, "attempt": attempt,
                  "claim": claim, "repeat_safe": repeat_safe, "repeated": False}
        saved = (dict(zip(segments.COLUMNS, segments.segment_row(job_id, attempt, segment, claim),
                          strict=True)) if segment else None)
        with self._write() as conn:
            if conn.execute(_Q["hold_claim"], params).fetchone() is None:
                raise LeaseLost(
                    f"job {job_id}: attempt {attempt} no longer holds the job, so it may not "
                    f"begin effect {name!r} (key {key!r})"
                )
            row = conn.execute(_Q["lock_effect"], params).fetchone()
            existing = None if row is None else rows.effect_record(row, utc_from_epoch)
            retried = existing is not None and policy.begun_by(existing, job_id, claim)
            if saved is not None and not retried:  # the path so far, whatever follows
                conn.execute(_Q["insert_segment"], saved)
            params["now"] = self.clock.now()
            if existing is None:
                conn.execute(_Q["insert_effect"], params)
                return None
            if existing.status == "done":
                return existing
            unknown = policy.effect_is_uncertain(existing, job_id, claim)
            if unknown and not repeat_safe:
                return existing
            params["repeated"] = unknown
            conn.execute(_Q["restart_effect"], params)
        return existing if unknown else None

    @translated
    def end_effect(
        self, key: str, job_id: int, claim: int, result: str | None, error: str | None,
        segment: Sequence[PathEvent] = (),
    ) -> None:
        with self._write() as conn:
            ended = conn.execute(
                _Q["end_effect"],
                {"key": key, "job_id": job_id, "claim": claim, "result": result,
                 "error": error, "now": self.clock.now()},
            ).fetchone()
            if ended is not None and segment:  # with the end, the path since the intent
                conn.execute(_Q["insert_segment"], dict(zip(
                    segments.COLUMNS, segments.segment_row(job_id, ended[0], segment, claim),
                    strict=True)))

    @translated
    def effects(self, job_id: int) -> list[EffectRecord]:
        found = self._conn().execute(_Q["job_effects"], {"id": job_id}).fetchall()
        return [rows.effect_record(row, utc_from_epoch) for row in found]

    @translated
    def resolve_effect(
        self, job_id: int, name: str, done: bool, result: str | None
    ) -> EffectRecord:
        with self._write() as conn:
            record = read_job(conn, _Q["lock_job"], job_id)
            found = [rows.effect_record(row, utc_from_epoch)
                     for row in conn.execute(_Q["job_effects"], {"id": job_id}).fetchall()]
            effect = policy.effect_to_resolve(job_id, name, found)
            status = "done" if done else "failed"
            now = self.clock.now()
            row = conn.execute(
                _RESOLVE["effect"],
                {"key": effect.key, "status": status, "result": result, "now": now},
            ).fetchone()
            conn.execute(_RESOLVE["event"], {
                "job_id": job_id, "attempt": record.attempts, "now": now,
                "attrs": rows.transition_attrs(None, effect=name, key=effect.key,
                                               verdict=status, actor=self.actor)})
        return rows.effect_record(row, utc_from_epoch)
