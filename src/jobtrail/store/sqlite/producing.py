"""Putting jobs into a SQLite store: enqueue, with idempotency keys and their receipts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from jobtrail.errors import StoreError
from jobtrail.records import Status
from jobtrail.store import policy, rows
from jobtrail.store.base import Enqueued, FiredTick, NewJob
from jobtrail.store.sqlfiles import queries, steps
from jobtrail.store.sqlite.connection import Database, translated

_Q = queries("sqlite")
_ENQUEUE = steps("sqlite", "enqueue")
_FIRE = steps("sqlite", "fire_tick")
_SAVEPOINT = steps("sqlite", "enqueue_savepoint")


class Producing(Database):
    """The producing side of the `Store` contract."""

    @translated
    def enqueue(self, jobs: Sequence[NewJob], connection: Any = None,
                max_depth: Mapping[str, int] | None = None) -> list[Enqueued]:
        now = self.clock.now()
        depths = policy.depth_checks(jobs, max_depth)
        if connection is not None:
            if not isinstance(connection, sqlite3.Connection):
                raise StoreError(
                    f"enqueue(connection=...) on SQLite needs a sqlite3.Connection, "
                    f"got {type(connection).__name__}"
                )
            if not depths:
                ids = self._insert_jobs(connection, jobs, now)
            else:  # a queue found full takes back this enqueue alone, not the caller's work
                connection.execute(_SAVEPOINT["open"])
                try:
                    ids = self._insert_jobs(connection, jobs, now)
                    _check_depths(connection, depths)
                except BaseException:
                    connection.execute(_SAVEPOINT["undo"])
                    raise
                finally:
                    connection.execute(_SAVEPOINT["release"])
        else:
            with self._write() as conn:  # the write lock: no other enqueue counts meanwhile
                ids = self._insert_jobs(conn, jobs, now)
                _check_depths(conn, depths)
        self._wake()
        return ids

    @translated
    def fire(self, job_name: str, tick: float, job: NewJob, attrs: dict[str, Any]
             ) -> Enqueued | None:
        now = self.clock.now()
        with self._write() as conn:
            if conn.execute(_FIRE["claim"], {"name": job_name, "tick": tick, "now": now}
                            ).fetchone() is None:
                return None
            [enqueued] = self._insert_jobs(conn, [job], now)
            if not enqueued.deduplicated:
                fired = {"name": job_name, "job_id": int(enqueued), "now": now,
                         "attrs": json.dumps(attrs)}
                conn.execute(_FIRE["fired"], fired)
                conn.execute(_FIRE["event"], fired)
        self._wake()
        return enqueued

    @translated
    def schedules(self) -> dict[str, FiredTick]:
        found = self._conn().execute(_Q["schedules"]).fetchall()
        return {name: FiredTick(name, tick, job_id, datetime.fromtimestamp(fired_at, UTC))
                for name, tick, job_id, fired_at in found}

    def _insert_jobs(
        self, conn: sqlite3.Connection, jobs: Sequence[NewJob], now: float
    ) -> list[Enqueued]:
        ids: list[Enqueued] = []
        new_ids: list[tuple[int, float, str]] = []
        insert = _ENQUEUE["job"]
        actor = self.actor
        for job in jobs:
            run_at = job.run_at.timestamp() if job.run_at else now + (job.delay or 0.0)
            values = (
                job.job_name, job.queue, job.priority, job.payload, job.max_attempts,
                run_at, now, job.parent_job_id, job.trace_id, job.trace_context,
                rows.redact_text(job.redact), job.concurrency_key,
            )
            if job.idempotency_key is None:
                job_id = conn.execute(insert, values).fetchone()[0]
            else:
                holder = self._key_holder(conn, job, now)
                if holder is not None:
                    ids.append(Enqueued(holder, deduplicated=True))
                    continue
                job_id = conn.execute(
                    _Q["enqueue_keyed"], (*values, job.idempotency_key, job.payload_hash)
                ).fetchone()[0]
            ids.append(Enqueued(job_id))
            new_ids.append((job_id, now, rows.submitted_attrs(job.payload, actor)))
        conn.executemany(_ENQUEUE["event"], new_ids)
        return ids

    @staticmethod
    def _key_holder(conn: sqlite3.Connection, job: NewJob, now: float) -> int | None:
        """The job already holding *job*'s key, or None (freeing a key past its retention:
        the write transaction holds the database, so nothing moves it meanwhile)."""
        key = job.idempotency_key
        assert key is not None
        found = conn.execute(_Q["job_by_key"], {"key": key}).fetchone()
        if found is not None:
            holder_id, holder_hash, status, finished_at = found
            holder = policy.key_holder(
                key, job.payload_hash, holder_id, holder_hash,
                finished_at if Status(status).is_final else None, now, job.key_retention,
            )
            if holder is None:
                freed = {"key": key, "id": holder_id, "finished_at": finished_at}
                conn.execute(_Q["free_key"], freed)
                conn.execute(_Q["delete_receipt"], {"key": key})
            return holder
        found = conn.execute(_Q["receipt_by_key"], {"key": key}).fetchone()
        if found is None:
            return None
        holder_id, holder_hash, finished_at = found
        holder = policy.key_holder(
            key, job.payload_hash, holder_id, holder_hash, finished_at, now, job.key_retention
        )
        if holder is None:
            conn.execute(_Q["delete_expired_receipt"],
                         {"key": key, "id": holder_id, "finished_at": finished_at})
        return holder


def _check_depths(conn: sqlite3.Connection, depths: list[tuple[str, int, int]]) -> None:
    """`QueueFull` when a queue of *depths* (queue, max_depth, jobs added) is over it."""
    for queue, limit, adding in depths:
        (depth,) = conn.execute(_Q["queue_depth"], {"queue": queue,
                                                    "limit": limit + adding}).fetchone()
        policy.check_depth(queue, limit, adding, depth)
