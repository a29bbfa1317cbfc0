"""Putting jobs into a PostgreSQL store: enqueue (in the caller's transaction, when it
gives one), with idempotency keys and their receipts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from jobtrail.errors import StoreError
from jobtrail.records import Status
from jobtrail.store import policy, rows
from jobtrail.store.base import Enqueued, FiredTick, NewJob
from jobtrail.store.postgres.connection import KEY_ROUNDS, Conn, Database, translated
from jobtrail.store.postgres.values import as_float
from jobtrail.store.sqlfiles import queries, steps

_Q = queries("postgres")
_ENQUEUE = steps("postgres", "enqueue")
_FIRE = steps("postgres", "fire_tick")
_DEPTH = steps("postgres", "queue_depth")
_NEW_JOB_COLUMNS = (
    "job_name", "queue", "priority", "payload", "max_attempts", "run_at", "parent_job_id",
    "trace_id", "trace_context", "concurrency_key",
)


class Producing(Database):
    """The producing side of the `Store` contract."""

    @translated
    def enqueue(self, jobs: Sequence[NewJob], connection: Any = None,
                max_depth: Mapping[str, int] | None = None) -> list[Enqueued]:
        if connection is not None and not isinstance(connection, psycopg.Connection):
            raise StoreError(
                "enqueue(connection=...) on PostgreSQL needs an open psycopg.Connection "
                f"(psycopg 3, not async), got {type(connection).__name__}"
            )
        if not jobs:
            return []
        depths = policy.depth_checks(jobs, max_depth)
        if depths:
            ids = self._enqueue_counted(jobs, connection, depths)
        elif any(job.idempotency_key is not None for job in jobs):
            ids = self._enqueue_keyed(jobs, connection)
        else:
            sql, params = ((_ENQUEUE["one"], self._one_job_params(jobs[0])) if len(jobs) == 1
                           else (_ENQUEUE["many"], self._new_job_params(jobs)))
            if connection is not None:
                # Inside the caller's transaction, which commits the jobs with its own
                # writes (or not); the notification goes out when it commits.
                with connection.cursor(row_factory=tuple_row) as cur:
                    cur.execute(sql, params)
                    return [Enqueued(row[0]) for row in cur]
            ids = [Enqueued(row[0]) for row in self._fetch(sql, params)]
        if connection is None:
            # A worker of this process hears of it now, not after the notification's round
            # trip (a burst worker would stop first: shadows, children of its last jobs).
            for watch in list(self._watches):
                watch.notify()
        return ids

    @translated
    def fire(self, job_name: str, tick: float, job: NewJob, attrs: dict[str, Any]
             ) -> Enqueued | None:
        with self._tx() as conn:
            if conn.execute(_FIRE["claim"], {"name": job_name, "tick": tick}).fetchone() is None:
                return None
            [enqueued] = self._insert_jobs(conn, [job])
            if not enqueued.deduplicated:
                conn.execute(_FIRE["fired"], {"name": job_name, "job_id": int(enqueued),
                                              "attrs": json.dumps(attrs)})
        for watch in list(self._watches):
            watch.notify()
        return enqueued

    @translated
    def schedules(self) -> dict[str, FiredTick]:
        return {name: FiredTick(name, tick, job_id, fired_at)
                for name, tick, job_id, fired_at in self._fetch(_Q["schedules"])}

    def _new_job_params(self, jobs: Sequence[NewJob]) -> dict[str, Any]:
        params: dict[str, Any] = {
            name: [getattr(job, name) for job in jobs] for name in _NEW_JOB_COLUMNS}
        params["delay"] = [as_float(job.delay) for job in jobs]
        params["redact"] = [rows.redact_text(job.redact) for job in jobs]
        params["actor"] = self.actor  # of the submissions' events (`jobtrail_submitted`)
        return params

    def _one_job_params(self, job: NewJob) -> dict[str, Any]:
        params = {name: getattr(job, name) for name in _NEW_JOB_COLUMNS}
        params.update(delay=as_float(job.delay), redact=rows.redact_text(job.redact),
                      actor=self.actor)
        return params

    def _enqueue_counted(self, jobs: Sequence[NewJob], connection: Any,
                         depths: list[tuple[str, int, int]]) -> list[Enqueued]:
        """Jobs into queues with a max_depth: each queue's lock, the insert, the count, in
        one transaction (a savepoint inside the caller's), undone when a queue is full."""
        scope: AbstractContextManager[Any] = (
            self._tx() if connection is None else connection.transaction())
        with scope as opened:
            conn = opened if connection is None else connection
            with conn.cursor(row_factory=tuple_row) as cur:
                for queue, _, _ in depths:
                    cur.execute(_DEPTH["lock"], {"queue": queue})
                ids = self._insert_jobs(cur, jobs)
                for queue, limit, adding in depths:
                    cur.execute(_DEPTH["count"], {"queue": queue, "limit": limit + adding})
                    (depth,) = cur.fetchone() or (0,)
                    policy.check_depth(queue, limit, adding, depth)
        return ids

    def _enqueue_keyed(self, jobs: Sequence[NewJob], connection: Any) -> list[Enqueued]:
        """A batch with idempotency keys: one statement per keyed job, one per run of
        jobs without a key between them, in order (ids follow the caller's order)."""
        if connection is None:
            with self._tx() as conn:
                return self._insert_jobs(conn, jobs)
        # The caller's transaction; a connection in autocommit gets one of its own (or a
        # savepoint inside the caller's block), so that the batch stays all or nothing.
        scope: AbstractContextManager[Any] = (
            connection.transaction() if connection.autocommit else nullcontext()
        )
        with scope, connection.cursor(row_factory=tuple_row) as cur:
            return self._insert_jobs(cur, jobs)

    def _insert_jobs(self, conn: Conn | psycopg.Cursor[Any], jobs: Sequence[NewJob]
                     ) -> list[Enqueued]:
        ids: list[Enqueued] = []
        start = 0
        for index, job in enumerate(jobs):
            if job.idempotency_key is None:
                continue
            if start < index:
                found = conn.execute(_ENQUEUE["many"], self._new_job_params(jobs[start:index]))
                ids.extend(Enqueued(row[0]) for row in found.fetchall())
            ids.append(self._insert_keyed(conn, job))
            start = index + 1
        if start < len(jobs):
            found = conn.execute(_ENQUEUE["many"], self._new_job_params(jobs[start:]))
            ids.extend(Enqueued(row[0]) for row in found.fetchall())
        return ids

    def _insert_keyed(self, conn: Conn | psycopg.Cursor[Any], job: NewJob) -> Enqueued:
        """Store *job* unless the job (or receipt) holding its key says otherwise.

        The insert comes first: the unique index makes concurrent enqueues of one key wait
        for the first and then find it. A finished holder past its retention is freed only
        if it is still the one decided on, then the insert is tried again.
        """
        key = job.idempotency_key
        assert key is not None
        params = self._one_job_params(job)
        params.update(key=key, payload_hash=job.payload_hash)
        for _ in range(KEY_ROUNDS):
            row = conn.execute(_Q["enqueue_keyed"], params).fetchone()
            if row is not None:
                return Enqueued(row[0])
            found = conn.execute(_Q["job_by_key"], {"key": key}).fetchone()
            if found is not None:
                holder_id, holder_hash, status, finished_at, finished, now = found
                holder = policy.key_holder(
                    key, job.payload_hash, holder_id, holder_hash,
                    finished if Status(status).is_final else None, now, job.key_retention,
                )
                if holder is not None:
                    return Enqueued(holder, deduplicated=True)
                freed = conn.execute(
                    _Q["free_key"], {"key": key, "id": holder_id, "finished_at": finished_at}
                )
                if freed.rowcount:
                    conn.execute(_Q["delete_receipt"], {"key": key})
                continue
            found = conn.execute(_Q["receipt_by_key"], {"key": key}).fetchone()
            if found is not None:
                holder_id, holder_hash, finished_at, finished, now = found
                holder = policy.key_holder(
                    key, job.payload_hash, holder_id, holder_hash, finished, now,
                    job.key_retention,
                )
                if holder is not None:
                    return Enqueued(holder, deduplicated=True)
                conn.execute(
                    _Q["delete_expired_receipt"],
                    {"key": key, "id": holder_id, "finished_at": finished_at},
                )
        raise StoreError(f"idempotency key {key!r} kept changing hands during enqueue")
