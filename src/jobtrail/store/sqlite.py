"""The embedded SQLite backend: one database file, WAL mode, any number of processes.

Writes take the database's single write lock with ``BEGIN IMMEDIATE`` and hold it for
one short batched transaction. Idle workers notice new work by polling
``PRAGMA data_version`` (a read of shared memory, no disk I/O) every few milliseconds,
and at once when the job was enqueued in their own process.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any, ParamSpec, TypeVar

from jobtrail.errors import (
    JobNotFound,
    LeaseLost,
    SchemaOutdated,
    StoreError,
    StoreLost,
)
from jobtrail.job import (
    TRANSITIONS,
    DivergenceRecord,
    ErrorInfo,
    Event,
    JobRecord,
    RunRecord,
    Status,
    Transition,
    utc_from_epoch,
)
from jobtrail.store import policy, rows, segments
from jobtrail.store.base import (
    ClaimedJob,
    DivergenceFilter,
    EffectRecord,
    Enqueued,
    JobFilter,
    NewJob,
    Outcome,
    PathSegment,
    WorkerInfo,
    WorkerRecord,
)
from jobtrail.store.errors import (
    Backend,
    damaged,
    is_damaged,
    sqlite_message,
    store_error,
    translating,
)
from jobtrail.store.segments import segment_row
from jobtrail.store.sqlfiles import latest_version, migrations, queries

P = ParamSpec("P")
T = TypeVar("T")

_Q = queries("sqlite")
BACKEND: Backend = "sqlite"
#: Seconds between two checks that the database file is still the one opened.
IDENTITY_EVERY = 0.25
#: Seconds the watcher waits before opening its connection again after an error.
WATCH_RETRY = 0.5
_SEGMENT_COLUMNS = ("job_id", "attempt", "kind", "name", "at", "duration", "attrs", "path")


_translate_errors = translating("sqlite")


def _to_time(value: Any) -> datetime | None:
    return utc_from_epoch(value)


class _DataVersionWatch:
    """Polls ``PRAGMA data_version`` on a private connection and reports changes; every
    `IDENTITY_EVERY` seconds it also checks that the database file is still the one the
    store opened (see `SQLiteStore.check_identity`).

    Errors never escape this thread: a connection that fails is opened again with backoff,
    and a file found deleted, replaced or damaged marks the store lost (its next operation
    raises `StoreLost`) and wakes the worker, which then stops with that one message."""

    def __init__(self, store: SQLiteStore, on_change: Callable[[], None], interval: float):
        self._store = store
        self._on_change = on_change
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jobtrail-sqlite-watch", daemon=True)
        store._local_watchers.append(on_change)
        self._thread.start()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        last = None
        pause = self._interval
        next_identity = 0.0
        try:
            while not self._stopped.wait(pause):
                pause = self._interval
                now = time.monotonic()
                if now >= next_identity:
                    next_identity = now + IDENTITY_EVERY
                    if self._store.check_identity():
                        self._on_change()
                        return
                try:
                    if conn is None:
                        conn = self._store._connect()
                    version = conn.execute("PRAGMA data_version").fetchone()[0]
                except (sqlite3.Error, StoreError) as exc:
                    if is_damaged(exc):
                        self._store.lose(damaged(self._store.path, exc))
                        self._on_change()
                        return
                    if conn is not None:
                        with suppress(sqlite3.Error):
                            conn.close()
                    conn, last = None, None
                    pause = WATCH_RETRY  # the worker's own calls report the error
                    continue
                if version != last:  # also on (re)connecting: work may have come meanwhile
                    last = version
                    self._on_change()
        finally:
            if conn is not None:
                with suppress(sqlite3.Error):
                    conn.close()

    def stop(self) -> None:
        self._stopped.set()
        if self._on_change in self._store._local_watchers:
            self._store._local_watchers.remove(self._on_change)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


class SQLiteStore:
    """The `Store` contract on a SQLite file (see the module docstring)."""

    concurrent_writes = False

    def __init__(
        self,
        path: str,
        *,
        busy_timeout: float = 30.0,
        poll_interval: float = 0.005,
        auto_migrate: bool = True,
    ) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.busy_timeout = busy_timeout
        self.poll_interval = poll_interval
        self.auto_migrate = auto_migrate
        self._local = threading.local()
        self._pid = os.getpid()
        self._lock = threading.Lock()
        # This process's writers take turns here, woken at once when the lock is free,
        # rather than in SQLite's busy handler, which sleeps between tries.
        self._write_lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._local_watchers: list[Callable[[], None]] = []
        self._ready_sql: dict[tuple[str, tuple[str, ...] | None], tuple[str, dict[str, str]]] = {}
        self._checked = False
        # The file this process opened (device, inode), and why it is unusable once it is not.
        self._identity: tuple[int, int] | None = None
        self._lost: str | None = None

    # -- the file's identity -------------------------------------------------------
    def check_identity(self) -> bool:
        """True (and the store lost for good) when the database file this process opened
        was deleted or replaced by another file: its writes would go to a file no one else
        sees, so its next operation raises `StoreLost` instead."""
        if self._lost is not None:
            return True
        if self._identity is None:
            return False
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            self.lose(f"the SQLite database {self.path!r} was deleted while in use")
            return True
        except OSError:
            return False  # unreadable for a moment: the operations themselves will tell
        if (found.st_dev, found.st_ino) != self._identity:
            self.lose(f"the SQLite database {self.path!r} was replaced by another file "
                      "while in use")
            return True
        return False

    def lose(self, reason: str) -> None:
        """Mark the store unusable for *reason*: every later operation raises `StoreLost`."""
        if self._lost is None:
            self._lost = reason

    # -- connections -------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise StoreError(
                f"cannot open SQLite database {self.path!r}: {directory} does not exist"
            )
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            error = store_error(BACKEND, exc, "opening the database", self.path)
            raise error or StoreError(sqlite_message(exc, self.path)) from exc
        return conn

    def _conn(self) -> sqlite3.Connection:
        if self._lost is not None:
            raise StoreLost(self._lost)
        if os.getpid() != self._pid:
            # A forked child must not touch its parent's connections; it opens the file
            # that is at the path now.
            self._pid = os.getpid()
            self._local = threading.local()
            self._connections = []
            self._local_watchers = []
            self._lock = threading.Lock()
            self._write_lock = threading.Lock()
            self._identity = None
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
            if self._identity is None:
                with suppress(OSError):
                    found = os.stat(self.path)
                    self._identity = (found.st_dev, found.st_ino)
            if not self._checked:
                self._check_schema(conn)
        return conn

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        version = self._version(conn)
        latest = latest_version(BACKEND)
        if version > latest:
            raise SchemaOutdated(
                f"database {self.path!r} has schema version {version}, newer than this "
                f"jobtrail knows ({latest}): upgrade jobtrail"
            )
        if version < latest:
            if not self.auto_migrate:
                raise SchemaOutdated(
                    f"database {self.path!r} has schema version {version}, expected {latest}: "
                    "run `jobtrail db upgrade`"
                )
            self._migrate(conn)
        self._checked = True

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                # The error that got here is the one to report (a MemoryError must not turn
                # into "cannot rollback - no transaction is active").
                if conn.in_transaction:
                    with suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    # -- schema ------------------------------------------------------------------
    @staticmethod
    def _version(conn: sqlite3.Connection) -> int:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobtrail_schema'"
        ).fetchone()
        if not exists:
            return 0
        row = conn.execute("SELECT max(version) FROM jobtrail_schema").fetchone()
        return int(row[0] or 0)

    def _migrate(self, conn: sqlite3.Connection) -> list[int]:
        applied: list[int] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS jobtrail_schema "
                "(version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
            current = self._version(conn)
            for migration in migrations(BACKEND):
                if migration.version <= current:
                    continue
                for statement in _statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO jobtrail_schema VALUES (?, ?, ?)",
                    (migration.version, migration.description, time.time()),
                )
                applied.append(migration.version)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return applied

    @_translate_errors
    def migrate(self) -> list[int]:
        """Apply pending migrations (each in the same write transaction)."""
        conn = getattr(self._local, "conn", None) if os.getpid() == self._pid else None
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        applied = self._migrate(conn)
        self._checked = True
        return applied

    @_translate_errors
    def schema_version(self) -> int:
        conn = self._connect()
        try:
            return self._version(conn)
        finally:
            conn.close()

    # -- producing ---------------------------------------------------------------
    @_translate_errors
    def enqueue(self, jobs: Sequence[NewJob], connection: Any = None) -> list[Enqueued]:
        now = time.time()
        if connection is not None:
            if not isinstance(connection, sqlite3.Connection):
                raise StoreError(
                    f"enqueue(connection=...) on SQLite needs a sqlite3.Connection, "
                    f"got {type(connection).__name__}"
                )
            ids = self._insert_jobs(connection, jobs, now)
        else:
            with self._write() as conn:
                ids = self._insert_jobs(conn, jobs, now)
        for notify in list(self._local_watchers):
            notify()
        return ids

    def _insert_jobs(
        self, conn: sqlite3.Connection, jobs: Sequence[NewJob], now: float
    ) -> list[Enqueued]:
        ids: list[Enqueued] = []
        new_ids: list[int] = []
        sql = _Q["enqueue"]
        for job in jobs:
            run_at = job.run_at.timestamp() if job.run_at else now + (job.delay or 0.0)
            values = (
                job.job_name, job.queue, job.priority, job.payload, job.max_attempts,
                run_at, now, job.parent_job_id, job.trace_id, job.trace_context,
            )
            if job.idempotency_key is None:
                job_id = conn.execute(sql, values).fetchone()[0]
            else:
                holder = self._key_holder(conn, job, now)
                if holder is not None:
                    ids.append(Enqueued(holder, deduplicated=True))
                    continue
                job_id = conn.execute(
                    _Q["enqueue_keyed"], (*values, job.idempotency_key, job.payload_hash)
                ).fetchone()[0]
            ids.append(Enqueued(job_id))
            new_ids.append(job_id)
        conn.executemany(
            _Q["insert_event"],
            [(job_id, 0, "lifecycle", "enqueued", now, None, None) for job_id in new_ids],
        )
        return ids

    @staticmethod
    def _key_holder(conn: sqlite3.Connection, job: NewJob, now: float) -> int | None:
        """The job already holding *job*'s key, or None (freeing an expired key)."""
        key = job.idempotency_key
        assert key is not None
        found = conn.execute(_Q["job_by_key"], (key,)).fetchone()
        if found is not None:
            holder_id, holder_hash, status, finished_at = found
            if not Status(status).is_final:
                finished_at = None
        else:
            found = conn.execute(_Q["receipt_by_key"], (key,)).fetchone()
            if found is None:
                return None
            holder_id, holder_hash, finished_at = found
        holder = policy.key_holder(
            key, job.payload_hash, holder_id, holder_hash, finished_at, now, job.key_retention
        )
        if holder is None:
            conn.execute(_Q["free_key"], (key,))
            conn.execute(_Q["delete_receipt"], (key,))
        return holder

    # -- the worker's loop -----------------------------------------------------------
    def _ready_query(self, name: str, queues: Sequence[str] | None) -> tuple[str, dict[str, str]]:
        key = (name, tuple(queues) if queues else None)
        cached = self._ready_sql.get(key)
        if cached is None:
            params: dict[str, str] = {}
            if not queues:
                index, where = "jobtrail_jobs_ready", ""
            elif len(queues) == 1:
                index, where = "jobtrail_jobs_ready_by_queue", "AND queue = :q0"
                params = {"q0": queues[0]}
            else:
                index = "jobtrail_jobs_ready"
                params = {f"q{i}": queue for i, queue in enumerate(queues)}
                where = f"AND queue IN ({', '.join(':' + p for p in params)})"
            cached = (_Q[name].format(ready_index=index, queue_filter=where), params)
            self._ready_sql[key] = cached
        return cached

    @_translate_errors
    def claim(
        self, worker_id: str, queues: Sequence[str] | None, limit: int, lease: float
    ) -> list[ClaimedJob]:
        if limit <= 0:
            return []
        conn = self._conn()
        now = time.time()
        probe, params = self._ready_query("any_runnable", queues)
        if conn.execute(probe, {"now": now, **params}).fetchone() is None:
            return []
        sql, params = self._ready_query("claim", queues)
        with self._write() as conn:
            now = time.time()
            found = conn.execute(
                sql,
                {"worker": worker_id, "lease_until": now + lease, "now": now, "limit": limit,
                 "token": policy.claim_token(),
                 **params},
            ).fetchall()
            conn.executemany(
                _Q["insert_event"],
                [(row[0], row[4], "lifecycle", "claimed", now, None, None) for row in found],
            )
        return [ClaimedJob(*row) for row in found]

    @_translate_errors
    def heartbeat(self, worker: WorkerInfo, job_ids: Sequence[int], lease: float) -> set[int]:
        lost: set[int] = set()
        with self._write() as conn:
            now = time.time()
            conn.execute(
                _Q["upsert_worker"],
                {"id": worker.id, "hostname": worker.hostname, "pid": worker.pid,
                 "queues": ",".join(worker.queues) if worker.queues else None,
                 "concurrency": worker.concurrency, "now": now},
            )
            for job_id in job_ids:
                cur = conn.execute(
                    _Q["extend_lease"],
                    {"id": job_id, "worker": worker.id, "lease_until": now + lease},
                )
                if cur.rowcount == 0:
                    lost.add(job_id)
        return lost

    @_translate_errors
    def finish(self, worker_id: str, outcomes: Sequence[Outcome]) -> set[int]:
        if not outcomes:
            return set()
        ids = [out.job_id for out in outcomes]
        held_sql = _Q["held_claims"].format(ids=", ".join("?" * len(ids)))
        # Rows are built before the write lock is taken: other writers wait only for SQL.
        now = time.time()
        rows_of = {}
        for out in outcomes:
            run = out.run
            update = {"id": out.job_id, "status": out.status.value, "result": out.result,
                      "error": out.error.to_json() if out.error else None,
                      "outcome": out.outcome, "delay": out.retry_delay,
                      "final": out.status.is_final, "now": now,
                      "variant": run.variant if run else None,
                      "code_version": run.code_version if run else None}
            event = (out.job_id, out.attempt, out.event_name, now, out.duration,
                     rows.transition_attrs(out.error, delay=out.retry_delay, outcome=out.outcome),
                     segments.path_text(out.events))
            found = [(*row, now) for row in rows.divergence_rows(out)]
            rows_of[(out.job_id, out.claim)] = (update, event, out.status.is_final, found)
        with self._write() as conn:
            # Which claims the worker still holds: one read, then batched writes.
            held = [key for key in conn.execute(held_sql, [worker_id, *ids]) if key in rows_of]
            written = [rows_of[key] for key in held]
            conn.executemany(_Q["finish"], [row[0] for row in written])
            conn.executemany(_Q["insert_outcome_event"], [row[1] for row in written])
            divergences = [found for row in written for found in row[3]]
            if divergences:
                conn.executemany(_Q["insert_divergence"], divergences)
            final = [job_id for job_id, claim in held if rows_of[(job_id, claim)][2]]
            if final:
                conn.execute(_Q["write_receipts"].format(ids=", ".join("?" * len(final))), final)
        return set(ids) - {job_id for job_id, _ in held}

    @_translate_errors
    def completed_steps(self, job_ids: Sequence[int]) -> dict[int, dict[str, str]]:
        texts_of: dict[int, list[str]] = {}
        if job_ids:
            sql = _Q["path_segments"].format(ids=", ".join("?" * len(job_ids)))
            for job_id, text in self._conn().execute(sql, list(job_ids)):
                texts_of.setdefault(job_id, []).append(text)
        found = {job_id: segments.steps_from(texts) for job_id, texts in texts_of.items()}
        return {job_id: steps for job_id, steps in found.items() if steps}

    @_translate_errors
    def checkpoint(self, worker_id: str, segments: Sequence[PathSegment]) -> None:
        if not any(seg.events for seg in segments):
            return
        with self._write() as conn:
            conn.executemany(
                _Q["insert_segment_if_held"],
                [
                    dict(zip(_SEGMENT_COLUMNS,
                             segment_row(seg.job_id, seg.attempt, seg.events),
                             strict=True), worker=worker_id, claim=seg.claim)
                    for seg in segments
                    if seg.events
                ],
            )

    @_translate_errors
    def begin_effect(
        self, job_id: int, claim: int, attempt: int, name: str, key: str, repeat_safe: bool
    ) -> EffectRecord | None:
        with self._write() as conn:
            if conn.execute(_Q["holds_claim"], (job_id, claim)).fetchone() is None:
                raise LeaseLost(
                    f"job {job_id}: attempt {attempt} no longer holds the job, so it may not "
                    f"begin effect {name!r} (key {key!r})"
                )
            row = conn.execute(_Q["effect_by_key"], (key,)).fetchone()
            unknown = None
            if row is not None:
                existing = rows.effect_record(row, _to_time)
                if existing.status == "done":
                    return existing
                if policy.effect_is_uncertain(existing, job_id, claim):
                    if not repeat_safe:
                        return existing
                    unknown = existing
            conn.execute(
                _Q["begin_effect"],
                {"key": key, "job_id": job_id, "name": name, "attempt": attempt,
                 "claim": claim, "repeat_safe": repeat_safe, "now": time.time()},
            )
        return unknown

    @_translate_errors
    def end_effect(
        self, key: str, job_id: int, claim: int, result: str | None, error: str | None
    ) -> None:
        with self._write() as conn:
            conn.execute(
                _Q["end_effect"],
                {"key": key, "job_id": job_id, "claim": claim, "result": result,
                 "error": error, "now": time.time()},
            )

    @_translate_errors
    def effects(self, job_id: int) -> list[EffectRecord]:
        found = self._conn().execute(_Q["job_effects"], (job_id,)).fetchall()
        return [rows.effect_record(row, _to_time) for row in found]

    @_translate_errors
    def resolve_effect(
        self, job_id: int, name: str, done: bool, result: str | None
    ) -> EffectRecord:
        with self._write() as conn:
            record = self._record(conn, job_id)
            found = [
                rows.effect_record(row, _to_time)
                for row in conn.execute(_Q["job_effects"], (job_id,)).fetchall()
            ]
            effect = policy.effect_to_resolve(job_id, name, found)
            now = time.time()
            status = "done" if done else "failed"
            conn.execute(
                _Q["resolve_effect"],
                {"key": effect.key, "status": status, "result": result, "now": now},
            )
            conn.execute(
                _Q["insert_event"],
                (job_id, record.attempts, "lifecycle", "effect_resolved", now, None,
                 rows.transition_attrs(None, effect=name, key=effect.key, verdict=status)),
            )
            row = conn.execute(_Q["effect_by_key"], (effect.key,)).fetchone()
        return rows.effect_record(row, _to_time)

    @_translate_errors
    def release(self, worker_id: str, job_ids: Sequence[int]) -> int:
        released = 0
        with self._write() as conn:
            now = time.time()
            for job_id in job_ids:
                row = conn.execute(
                    _Q["release"], {"id": job_id, "worker": worker_id, "now": now}
                ).fetchone()
                if row is not None:
                    released += 1
                    conn.execute(
                        _Q["insert_event"],
                        (job_id, row[0], "lifecycle", "released", now, None, None),
                    )
        return released

    @_translate_errors
    def reap_expired(self, limit: int = 500) -> int:
        conn = self._conn()
        now = time.time()
        if not conn.execute(_Q["expired_leases"], {"now": now, "limit": 1}).fetchone():
            return 0
        reaped = 0
        with self._write() as conn:
            now = time.time()
            for job_id, attempts, max_attempts, worker in conn.execute(
                _Q["expired_leases"], {"now": now, "limit": limit}
            ).fetchall():
                error = policy.lease_error(worker, attempts, max_attempts)
                status = policy.after_lost_lease(attempts, max_attempts)
                cur = conn.execute(
                    _Q["expire_lease"],
                    {"id": job_id, "status": status.value, "error": error.to_json(), "now": now},
                )
                if cur.rowcount:
                    reaped += 1
                    conn.execute(
                        _Q["insert_event"],
                        (job_id, attempts, "lifecycle", "lease_expired", now, None,
                         rows.transition_attrs(error, worker=worker, next=status.value)),
                    )
        return reaped

    @_translate_errors
    def expire_worker(self, worker_id: str, error: ErrorInfo) -> list[int]:
        expired: list[int] = []
        with self._write() as conn:
            now = time.time()
            held = conn.execute(_Q["worker_leases"], {"worker": worker_id}).fetchall()
            for job_id, attempts, max_attempts, worker in held:
                status = policy.after_lost_lease(attempts, max_attempts)
                cur = conn.execute(
                    _Q["expire_worker_lease"],
                    {"id": job_id, "status": status.value, "error": error.to_json(),
                     "now": now, "worker": worker},
                )
                if cur.rowcount:
                    expired.append(job_id)
                    conn.execute(
                        _Q["insert_event"],
                        (job_id, attempts, "lifecycle", "lease_expired", now, None,
                         rows.transition_attrs(error, worker=worker, next=status.value)),
                    )
        return expired

    @_translate_errors
    def next_run_at(self, queues: Sequence[str] | None) -> datetime | None:
        sql, params = self._ready_query("next_run_at", queues)
        row = self._conn().execute(sql, params).fetchone()
        return utc_from_epoch(row[0]) if row and row[0] is not None else None

    def watch(self, on_change: Callable[[], None]) -> _DataVersionWatch:
        self._conn()
        return _DataVersionWatch(self, on_change, self.poll_interval)

    # -- reading -------------------------------------------------------------------
    def _record(self, conn: sqlite3.Connection, job_id: int) -> JobRecord:
        conn.row_factory = sqlite3.Row
        try:
            row = conn.execute(_Q["get_job"], (job_id,)).fetchone()
        finally:
            conn.row_factory = None
        if row is None:
            raise JobNotFound(f"no job with id {job_id}")
        return rows.job_record(row, _to_time)

    @_translate_errors
    def get(self, job_id: int) -> JobRecord:
        return self._record(self._conn(), job_id)

    @_translate_errors
    def list_jobs(self, where: JobFilter) -> list[JobRecord]:
        clauses: list[str] = []
        params: list[Any] = []
        if where.statuses:
            clauses.append(f"status IN ({', '.join('?' * len(where.statuses))})")
            params.extend(status.value for status in where.statuses)
        for column, value in (("queue", where.queue), ("job_name", where.job_name)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if where.before_id is not None:
            clauses.append("id < ?")
            params.append(where.before_id)
        sql = "SELECT * FROM jobtrail_jobs"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(where.limit)
        conn = self._conn()
        conn.row_factory = sqlite3.Row
        try:
            found = conn.execute(sql, params).fetchall()
        finally:
            conn.row_factory = None
        return [rows.job_record(row, _to_time) for row in found]

    @_translate_errors
    def events(self, job_id: int) -> list[Event]:
        found = self._conn().execute(_Q["job_events"], (job_id,)).fetchall()
        return segments.expand(found, _to_time)

    @_translate_errors
    def divergences(self, where: DivergenceFilter) -> list[DivergenceRecord]:
        clauses, params = _divergence_clauses(where)
        sql = (f"{_Q['divergences']} WHERE {' AND '.join(clauses) or '1'} "
               "ORDER BY id DESC LIMIT ?")
        found = self._conn().execute(sql, [*params, where.limit]).fetchall()
        return [rows.divergence_record(row, _to_time) for row in found]

    @_translate_errors
    def divergence_counts(self, where: DivergenceFilter) -> dict[tuple[str, str], int]:
        clauses, params = _divergence_clauses(where)
        sql = _Q["divergence_counts"].format(where=" AND ".join(clauses) or "1")
        found = self._conn().execute(sql, params).fetchall()
        return {(job_name, kind): count for job_name, kind, count in found}

    @_translate_errors
    def runs(self, job_name: str, since: datetime | None = None) -> list[RunRecord]:
        start = None if since is None else since.timestamp()
        found = self._conn().execute(_Q["runs"], (job_name, start, start)).fetchall()
        return [rows.run_record(row, _to_time) for row in found]

    @_translate_errors
    def children(self, parent_ids: Sequence[int], job_name: str) -> list[JobRecord]:
        found: list[JobRecord] = []
        conn = self._conn()
        conn.row_factory = sqlite3.Row
        try:
            for start in range(0, len(parent_ids), 500):
                chunk = list(parent_ids[start:start + 500])
                sql = _Q["children"].format(ids=", ".join("?" * len(chunk)))
                found.extend(rows.job_record(row, _to_time)
                             for row in conn.execute(sql, [job_name, *chunk]))
        finally:
            conn.row_factory = None
        return found

    @_translate_errors
    def milestones(self, name: str, since: datetime | None = None) -> list[Event]:
        start = None if since is None else since.timestamp()
        needle = encode_basestring(name)
        found = self._conn().execute(_Q["milestones"], (needle, start, start)).fetchall()
        return segments.milestones(found, name, _to_time, since)

    @_translate_errors
    def counts(self) -> dict[tuple[str, Status], int]:
        found = self._conn().execute(_Q["counts"]).fetchall()
        return {(queue, Status(status)): count for queue, status, count in found}

    @_translate_errors
    def workers(self) -> list[WorkerRecord]:
        found = self._conn().execute(_Q["list_workers"]).fetchall()
        return [
            WorkerRecord(
                wid, host, pid, tuple(queues.split(",")) if queues else None, conc,
                utc_from_epoch(started) or datetime.now(UTC),
                utc_from_epoch(seen) or datetime.now(UTC),
            )
            for wid, host, pid, queues, conc, started, seen in found
        ]

    # -- operators -------------------------------------------------------------------
    def _transition(self, job_id: int, transition: Transition) -> JobRecord:
        with self._write() as conn:
            now = time.time()
            current = self._record(conn, job_id)
            refusal = policy.transition_refusal(transition, job_id, current.status)
            if refusal is not None:
                raise refusal
            if transition.resets:
                effects = conn.execute(_Q["job_effects"], (job_id,)).fetchall()
                blocker = policy.replay_blocker(
                    job_id, [rows.effect_record(row, _to_time) for row in effects])
                if blocker is not None:
                    raise blocker
            target = transition.target
            conn.execute(
                _Q["set_status"],
                {"id": job_id, "from_status": current.status.value, "to_status": target.value,
                 "outcome": transition.outcome, "finished_at": now if target.is_final else None,
                 "now": now, "reset": transition.resets},
            )
            conn.execute(
                _Q["insert_event"],
                (job_id, current.attempts, "lifecycle", transition.event, now, None,
                 rows.transition_attrs(None, previous=current.status.value)),
            )
            return self._record(conn, job_id)

    @_translate_errors
    def replay(self, job_id: int) -> JobRecord:
        return self._transition(job_id, TRANSITIONS["replay"])

    @_translate_errors
    def discard(self, job_id: int) -> JobRecord:
        return self._transition(job_id, TRANSITIONS["discard"])

    @_translate_errors
    def cancel(self, job_id: int) -> JobRecord:
        return self._transition(job_id, TRANSITIONS["cancel"])

    @_translate_errors
    def unregister_worker(self, worker_id: str) -> None:
        self._conn().execute(_Q["delete_worker"], (worker_id,))

    def close(self) -> None:
        if os.getpid() != self._pid:
            return
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            with suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into complete statements."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statement = pending.strip()
            pending = ""
            if statement and not all(
                part.strip().startswith("--") or not part.strip()
                for part in statement.splitlines()
            ):
                yield statement
    if pending.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in pending.splitlines()
    ):
        raise StoreError(f"incomplete statement in migration: {pending.strip()[:80]}")


def _divergence_clauses(where: DivergenceFilter) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("job_name", where.job_name), ("kind", where.kind),
                          ("job_id", where.job_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if where.since is not None:
        clauses.append("at >= ?")
        params.append(where.since.timestamp())
    if where.before_id is not None:
        clauses.append("id < ?")
        params.append(where.before_id)
    return clauses, params
