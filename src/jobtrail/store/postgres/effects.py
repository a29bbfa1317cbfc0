"""At-most-once effects on PostgreSQL: the intent written before the call, the result
after, and an operator's verdict on one that nobody knows the end of."""

from __future__ import annotations

from collections.abc import Sequence

from jobtrail.errors import LeaseLost, StoreError
from jobtrail.store import policy, rows
from jobtrail.store.base import EffectRecord, PathEvent
from jobtrail.store.postgres.connection import KEY_ROUNDS, Database, translated
from jobtrail.store.postgres.reading import read_job
from jobtrail.store.postgres.values import to_time
from jobtrail.store.segments import path_text
from jobtrail.store.sqlfiles import queries

_Q = queries("postgres")


class Effects(Database):
    """The effects of the `Store` contract."""

    @translated
    def begin_effect(
        self, job_id: int, claim: int, attempt: int, name: str, key: str, repeat_safe: bool,
        segment: Sequence[PathEvent] = (),
    ) -> EffectRecord | None:
        params = {"key": key, "job_id": job_id, "claim": claim, "name": name,
                  "attempt": attempt, "repeat_safe": repeat_safe, "repeated": False,
                  "seg_at": float(segment[0].at) if segment else None,
                  "seg_path": path_text(segment)}
        lost = LeaseLost(f"job {job_id}: attempt {attempt} no longer holds the job, so it may "
                         f"not begin effect {name!r} (key {key!r})")
        with self._conn() as conn:
            for _ in range(KEY_ROUNDS):
                # A new key is one statement, with the segment; a known one is decided on its
                # locked row, the segment written in the same transaction.
                ((held, inserted),) = conn.execute(_Q["insert_effect"], params).fetchall()
                if not held:
                    raise lost
                if inserted:
                    return None
                with conn.transaction():
                    if conn.execute(_Q["hold_claim"], params).fetchone() is None:
                        raise lost
                    row = conn.execute(_Q["lock_effect"], {"key": key}).fetchone()
                    if row is None:
                        continue
                    existing = rows.effect_record(row, to_time)
                    if segment and not policy.begun_by(existing, job_id, claim):
                        conn.execute(_Q["insert_segment"], params)
                    if existing.status == "done":
                        return existing
                    unknown = policy.effect_is_uncertain(existing, job_id, claim)
                    if unknown and not repeat_safe:
                        return existing
                    conn.execute(_Q["restart_effect"], {**params, "repeated": unknown})
                    return existing if unknown else None
        raise StoreError(f"effect key {key!r} kept changing hands during begin_effect")

    @translated
    def end_effect(
        self, key: str, job_id: int, claim: int, result: str | None, error: str | None,
        segment: Sequence[PathEvent] = (),
    ) -> None:
        with self._conn() as conn:
            conn.execute(_Q["end_effect"], {
                "key": key, "job_id": job_id, "claim": claim, "result": result, "error": error,
                "seg_at": float(segment[0].at) if segment else None,
                "seg_path": path_text(segment)})

    @translated
    def effects(self, job_id: int) -> list[EffectRecord]:
        return [rows.effect_record(row, to_time)
                for row in self._fetch(_Q["job_effects"], {"id": job_id})]

    @translated
    def resolve_effect(
        self, job_id: int, name: str, done: bool, result: str | None
    ) -> EffectRecord:
        with self._tx() as conn:
            record = read_job(conn, _Q["lock_job"], job_id)
            found = [rows.effect_record(row, to_time)
                     for row in conn.execute(_Q["job_effects"], {"id": job_id}).fetchall()]
            effect = policy.effect_to_resolve(job_id, name, found)
            status = "done" if done else "failed"
            row = conn.execute(
                _Q["resolve_effect"],
                {"key": effect.key, "status": status, "result": result, "job_id": job_id,
                 "attempt": record.attempts,
                 "attrs": rows.transition_attrs(None, effect=name, key=effect.key,
                                                verdict=status, actor=self.actor)},
            ).fetchone()
        assert row is not None  # the effect was just read: effects are never deleted
        return rows.effect_record(row, to_time)
