"""The PostgreSQL backend: a connection pool, one statement per batch, LISTEN/NOTIFY.

Every batch the worker's loop hands over (claim, heartbeat, finish) is one statement:
arrays travel as binary parameters and are expanded with ``unnest``, and the lifecycle
events are written by data-modifying CTEs of the same statement. Claiming reads partial
indexes that hold only waiting jobs, with ``FOR UPDATE SKIP LOCKED``, so workers never
block each other and the cost stays flat however many jobs have finished.

Unlike SQLite, the schema is not migrated on first use: run ``jobtrail db upgrade`` (or
pass ``auto_migrate=True``).
"""

from __future__ import annotations

import logging
import math
import os
import select
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any, ParamSpec, TypeVar

import psycopg
from psycopg.rows import dict_row, tuple_row
from psycopg.types.datetime import TimestamptzLoader
from psycopg_pool import ConnectionPool, PoolTimeout

from jobtrail.errors import (
    JobNotFound,
    LeaseLost,
    SchemaOutdated,
    StoreError,
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
)
from jobtrail.store import policy, redact_url, rows, segments
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
from jobtrail.store.errors import translating
from jobtrail.store.segments import segment_row
from jobtrail.store.sqlfiles import latest_version, migrations, queries

P = ParamSpec("P")
T = TypeVar("T")
Conn = psycopg.Connection[tuple[Any, ...]]

_Q = queries("postgres")
BACKEND = "postgres"
MIGRATION_LOCK = 0x6A6F62747261696C  # "jobtrail": the advisory lock every migrator takes
_NEW_JOB_COLUMNS = (
    "job_name", "queue", "priority", "payload", "max_attempts", "run_at", "parent_job_id",
    "trace_id", "trace_context",
)
_OUTCOME_COLUMNS = ("id", "attempt", "status", "result", "error", "outcome", "delay", "final",
                    "variant", "code_version", "claim")
_TRANSITION_COLUMNS = ("ev_job", "ev_attempt", "ev_name", "ev_duration", "ev_attrs", "ev_path")
_SEGMENT_COLUMNS = ("ev_job", "ev_attempt", "ev_kind", "ev_name", "ev_at", "ev_duration",
                    "ev_attrs", "ev_path", "ev_claim")
_DIVERGENCE_COLUMNS = ("dv_job", "dv_job_name", "dv_attempt", "dv_kind", "dv_position",
                       "dv_found", "dv_expected", "dv_message")
# Rounds of the keyed enqueue: another one only when a concurrent enqueue moved the key
# between two statements of this one.
KEY_ROUNDS = 50
WATCH_POLL = 0.25
WATCH_MAX_BACKOFF = 5.0

log = logging.getLogger("jobtrail.store.postgres")

_translate_errors = translating("postgres")


def _columns(names: Sequence[str], records: Sequence[tuple[Any, ...]]) -> dict[str, list[Any]]:
    """One list per column of *records*: the arrays a statement expands with unnest."""
    columns = list(zip(*records, strict=True)) or [() for _ in names]
    return {name: list(column) for name, column in zip(names, columns, strict=True)}


def _float(value: float | None) -> float | None:
    # An array parameter holds one type: a delay given as an int must not sit beside floats.
    return None if value is None else float(value)


def _to_time(value: Any) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


class _ClampedTimestamptz(TimestamptzLoader):
    """Reads a time beyond what Python can hold (a job scheduled for the year 20000 by a
    version of jobtrail that did not bound delays) as the last (or first) time it can."""

    def load(self, data: Any) -> datetime:
        try:
            return super().load(data)
        except psycopg.DataError:
            text = bytes(data)
            early = text.startswith(b"-") or text.endswith(b"BC")
            return (datetime.min if early else datetime.max).replace(tzinfo=UTC)


def _configure(conn: Conn) -> None:
    """Settings of every pooled connection.

    Bitmap scans are off: they lose the ready index's order, and when the planner's
    statistics lag behind a fresh queue (a new table, a bulk enqueue autovacuum has not
    analysed yet) it picks one for the claim and sorts every queued job on each claim,
    ten times slower. jobtrail's own statements are all served by plain index scans;
    the setting is session-local and never touches the caller's connections.
    """
    conn.execute("SET enable_bitmapscan = off")
    conn.adapters.register_loader("timestamptz", _ClampedTimestamptz)




def _usable(conn: Conn) -> bool:
    """False when the server dropped *conn* while it sat idle in the pool.

    An idle connection has nothing to read unless the server said goodbye (a restart,
    ``pg_terminate_backend``), so a zero-timeout poll finds dead connections without a
    round-trip, and the operation gets a fresh one instead of failing.
    """
    if conn.closed or conn.broken:
        return False
    poller = select.poll()  # not select(): it fails on descriptors above 1023
    poller.register(conn.pgconn.socket, select.POLLIN)
    return not poller.poll(0)


class _ListenWatch:
    """LISTENs on a dedicated connection and reports every notification."""

    def __init__(self, store: PostgresStore, on_change: Callable[[], None]) -> None:
        self._store, self._on_change, self._stopped = store, on_change, threading.Event()
        self._thread = threading.Thread(target=self._run, name="jobtrail-pg-watch", daemon=True)
        self._thread.start()

    def _notify(self) -> None:
        try:
            self._on_change()
        except Exception:
            log.exception("watch callback failed")

    def _run(self) -> None:
        backoff = 0.0
        while not self._stopped.is_set():
            try:
                with psycopg.connect(
                    self._store._conninfo, autocommit=True,
                    connect_timeout=self._store._libpq_timeout,
                ) as conn:
                    conn.execute("LISTEN jobtrail")
                    backoff = 0.0
                    self._notify()  # work may have arrived while no one was listening
                    while not self._stopped.is_set():
                        for _ in conn.notifies(timeout=WATCH_POLL):
                            self._notify()
            except psycopg.Error as exc:
                if self._stopped.is_set():
                    break
                report = log.warning if backoff == 0.0 else log.debug
                backoff = min(WATCH_MAX_BACKOFF, max(0.1, backoff * 2))
                report("watch connection lost (reconnecting in %.1fs): %s", backoff, exc)
                self._stopped.wait(backoff)

    def stop(self) -> None:
        self._stopped.set()
        with suppress(ValueError):  # close() may be stopping it at the same time
            self._store._watches.remove(self)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=WATCH_POLL * 4 + self._store.connect_timeout)


class PostgresStore:
    """The `Store` contract on PostgreSQL (see the module docstring).

    ``min_size`` and ``max_size`` bound the connection pool (opened on first use, and
    again in a forked child); ``connect_timeout`` (seconds) limits both opening a
    connection and waiting for a free one; ``auto_migrate`` applies pending migrations
    on first use instead of raising `SchemaOutdated`.

    Pooled connections are in autocommit mode: an operation that is one statement (every
    call of the worker's loop) is its own transaction, which spares the round-trips of
    BEGIN and COMMIT; an operation of several statements runs in an explicit one (`_tx`).
    """

    concurrent_writes = True

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10,
                 auto_migrate: bool = False, connect_timeout: float = 5.0) -> None:
        if min_size < 0 or max_size < max(1, min_size):
            raise StoreError(f"bad pool size: min_size={min_size}, max_size={max_size}")
        self._conninfo, self.url = url, redact_url(url)
        self.min_size, self.max_size = min_size, max_size
        self.auto_migrate, self.connect_timeout = auto_migrate, connect_timeout
        # libpq takes whole seconds and treats 1 as 2.
        self._libpq_timeout = max(2, math.ceil(connect_timeout))
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._pool: ConnectionPool[Conn] | None = None
        self._inherited: list[ConnectionPool[Conn]] = []
        self._watches: list[_ListenWatch] = []
        self._checked = False
        # Per worker: the (job, claim) pairs handed over and not yet finished or released;
        # until when a failed claim may have left leases behind that it did not report.
        self._held: dict[str, set[tuple[int, int]]] = {}
        self._unsure: dict[str, float] = {}

    # -- connections -------------------------------------------------------------
    def _get_pool(self) -> ConnectionPool[Conn]:
        if os.getpid() != self._pid:
            # A forked child must neither use nor close its parent's connections: the
            # parent's pool stays referenced, so it is not even garbage-collected here.
            if self._pool is not None:
                self._inherited.append(self._pool)
            self._pool, self._pid, self._watches = None, os.getpid(), []
            self._lock = threading.Lock()
        pool = self._pool
        if pool is None:
            with self._lock:
                pool = self._pool
                if pool is None:
                    # The pool's own reconnection backs off without bound: giving up soon
                    # lets the next request try afresh at once when the server is back.
                    pool = ConnectionPool(
                        self._conninfo, min_size=self.min_size, max_size=self.max_size,
                        kwargs={"autocommit": True, "connect_timeout": self._libpq_timeout},
                        name="jobtrail", timeout=self.connect_timeout, open=False,
                        reconnect_timeout=max(2.0, self.connect_timeout),
                        configure=_configure,
                    )
                    pool.open(wait=False)
                    self._pool = pool
        return pool

    def _getconn(self, pool: ConnectionPool[Conn]) -> Conn:
        try:
            return pool.getconn(timeout=min(1.0, self.connect_timeout))
        except PoolTimeout:
            # Busy pool or unreachable server? A connection of our own tells, and says why
            # (refused, unknown database, bad password): the caller fails fast and retries.
            psycopg.connect(self._conninfo, connect_timeout=self._libpq_timeout).close()
            return pool.getconn()

    @contextmanager
    def _connection(self) -> Iterator[Conn]:
        pool = self._get_pool()
        conn = self._getconn(pool)
        for _ in range(pool.max_size):
            if _usable(conn):
                break
            conn.close()  # the pool sees it closed and opens a replacement
            pool.putconn(conn)
            conn = self._getconn(pool)
        try:
            yield conn
        finally:
            pool.putconn(conn)

    @contextmanager
    def _conn(self) -> Iterator[Conn]:
        """A pooled connection, the schema checked on first use."""
        with self._connection() as conn:
            if not self._checked:
                self._check_schema(conn)
            yield conn

    def _fetch(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement (its own transaction) and return its rows."""
        with self._conn() as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    @contextmanager
    def _tx(self) -> Iterator[Conn]:
        """A pooled connection inside an explicit transaction."""
        with self._conn() as conn, conn.transaction():
            yield conn

    def _check_schema(self, conn: Conn) -> None:
        with conn.transaction():
            version = self._version(conn)
        latest = latest_version(BACKEND)
        if version > latest or (version < latest and not self.auto_migrate):
            hint = "upgrade jobtrail" if version > latest else "run `jobtrail db upgrade`"
            raise SchemaOutdated(
                f"database {self.url!r} has schema version {version}, expected {latest}: {hint}"
            )
        if version < latest:
            with conn.transaction():
                self._migrate(conn)
        self._checked = True

    def _ready_query(
        self, name: str, queues: Sequence[str] | None, limit: int = 0
    ) -> tuple[str, dict[str, Any]]:
        """The query *name* for the queues a worker serves, shaped to fit a partial index."""
        params: dict[str, Any] = {}
        if not queues:
            where = ""
        elif len(queues) == 1:
            where, params["queue"] = "AND queue = %(queue)s", queues[0]
        else:
            where, params["queues"] = "AND queue = ANY(%(queues)b)", list(queues)
        return _Q[name].format(queue_filter=where, limit=int(limit)), params

    # -- schema ------------------------------------------------------------------
    @staticmethod
    def _version(conn: Conn) -> int:
        ((exists,),) = conn.execute(_Q["schema_table_exists"]).fetchall()
        return int(conn.execute(_Q["schema_version"]).fetchall()[0][0]) if exists else 0

    def _migrate(self, conn: Conn) -> list[int]:
        # Held until commit: a concurrent migrator waits, then finds nothing left to do.
        conn.execute(_Q["migration_lock"], {"key": MIGRATION_LOCK})
        conn.execute(_Q["create_schema_table"])
        current = self._version(conn)
        applied: list[int] = []
        for migration in migrations(BACKEND):
            if migration.version > current:
                conn.execute(migration.sql)  # no parameters: runs as a multi-statement script
                conn.execute(
                    _Q["record_migration"],
                    {"version": migration.version, "description": migration.description},
                )
                applied.append(migration.version)
        return applied

    @_translate_errors
    def migrate(self) -> list[int]:
        """Apply pending migrations in one transaction, serialised by an advisory lock."""
        with self._connection() as conn, conn.transaction():
            applied = self._migrate(conn)
        self._checked = True
        return applied

    @_translate_errors
    def schema_version(self) -> int:
        with self._connection() as conn, conn.transaction():
            return self._version(conn)

    # -- producing ---------------------------------------------------------------
    @_translate_errors
    def enqueue(self, jobs: Sequence[NewJob], connection: Any = None) -> list[Enqueued]:
        if connection is not None and not isinstance(connection, psycopg.Connection):
            raise StoreError(
                "enqueue(connection=...) on PostgreSQL needs an open psycopg.Connection "
                f"(psycopg 3, not async), got {type(connection).__name__}"
            )
        if not jobs:
            return []
        if any(job.idempotency_key is not None for job in jobs):
            return self._enqueue_keyed(jobs, connection)
        params = self._new_job_params(jobs)
        if connection is not None:
            # Inside the caller's transaction, which commits the jobs with its own writes
            # (or not); the notification goes out when it commits.
            with connection.cursor(row_factory=tuple_row) as cur:
                return [Enqueued(row[0]) for row in cur.execute(_Q["enqueue"], params)]
        return [Enqueued(row[0]) for row in self._fetch(_Q["enqueue"], params)]

    @staticmethod
    def _new_job_params(jobs: Sequence[NewJob]) -> dict[str, Any]:
        params = {name: [getattr(job, name) for job in jobs] for name in _NEW_JOB_COLUMNS}
        params["delay"] = [_float(job.delay) for job in jobs]
        return params

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
                found = conn.execute(_Q["enqueue"], self._new_job_params(jobs[start:index]))
                ids.extend(Enqueued(row[0]) for row in found.fetchall())
            ids.append(self._insert_keyed(conn, job))
            start = index + 1
        if start < len(jobs):
            found = conn.execute(_Q["enqueue"], self._new_job_params(jobs[start:]))
            ids.extend(Enqueued(row[0]) for row in found.fetchall())
        return ids

    @staticmethod
    def _insert_keyed(conn: Conn | psycopg.Cursor[Any], job: NewJob) -> Enqueued:
        """Store *job* unless the job (or receipt) holding its key says otherwise.

        The insert comes first: the unique index makes concurrent enqueues of one key wait
        for the first and then find it. A finished holder past its retention is freed only
        if it is still the one decided on, then the insert is tried again.
        """
        key = job.idempotency_key
        assert key is not None
        params = {name: getattr(job, name) for name in _NEW_JOB_COLUMNS}
        params.update(delay=_float(job.delay), key=key, payload_hash=job.payload_hash)
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

    # -- the worker's loop -----------------------------------------------------------
    @_translate_errors
    def claim(
        self, worker_id: str, queues: Sequence[str] | None, limit: int, lease: float
    ) -> list[ClaimedJob]:
        if limit <= 0:
            return []
        held = self._held.setdefault(worker_id, set())
        found: list[tuple[Any, ...]] = []
        if self._unsure.get(worker_id, 0.0) > time.monotonic():
            found = self._fetch(_Q["reclaim"], {
                "worker": worker_id, "limit": limit, "lease": float(lease),
                **_columns(("held_ids", "held_claims"), sorted(held)),
            })
        if len(found) < limit:
            sql, params = self._ready_query("claim", queues, limit - len(found))
            try:
                found += self._fetch(sql, {"worker": worker_id, "lease": float(lease),
                                           "token": policy.claim_token(), **params})
            except psycopg.Error:
                # The claim may have committed with its answer lost on the way: for as long
                # as those leases last, the next claims hand over what this worker was given.
                self._unsure[worker_id] = time.monotonic() + lease
                raise
        claimed = [ClaimedJob(*row) for row in found]
        held.update((job.id, job.claim) for job in claimed)
        return claimed

    @_translate_errors
    def heartbeat(self, worker: WorkerInfo, job_ids: Sequence[int], lease: float) -> set[int]:
        kept = self._fetch(
            _Q["heartbeat"],
            {"worker": worker.id, "hostname": worker.hostname, "pid": worker.pid,
             "queues": ",".join(worker.queues) if worker.queues else None,
             "concurrency": worker.concurrency, "lease": float(lease), "ids": list(job_ids)},
        )
        return set(job_ids) - {row[0] for row in kept}

    @_translate_errors
    def finish(self, worker_id: str, outcomes: Sequence[Outcome]) -> set[int]:
        if not outcomes:
            return set()
        transitions = [
            (o.job_id, o.attempt, o.event_name, _float(o.duration),
             rows.transition_attrs(o.error, delay=o.retry_delay, outcome=o.outcome),
             segments.path_text(o.events))
            for o in outcomes
        ]
        outcome_rows = [
            (o.job_id, o.attempt, o.status.value, o.result, o.error.to_json() if o.error else None,
             o.outcome, _float(o.retry_delay), o.status.is_final,
             o.run.variant if o.run else None, o.run.code_version if o.run else None, o.claim)
            for o in outcomes
        ]
        found = [row for o in outcomes for row in rows.divergence_rows(o)]
        params = {"worker": worker_id, **_columns(_OUTCOME_COLUMNS, outcome_rows),
                  **_columns(_TRANSITION_COLUMNS, transitions),
                  **_columns(_DIVERGENCE_COLUMNS, found)}
        applied = {row[0] for row in self._fetch(_Q["finish"], params)}
        self._held.get(worker_id, set()).difference_update((o.job_id, o.claim) for o in outcomes)
        return {o.job_id for o in outcomes} - applied

    @_translate_errors
    def completed_steps(self, job_ids: Sequence[int]) -> dict[int, dict[str, str]]:
        texts_of: dict[int, list[str]] = {}
        if job_ids:
            for job_id, text in self._fetch(_Q["path_segments"], {"ids": list(job_ids)}):
                texts_of.setdefault(job_id, []).append(text)
        found = {job_id: segments.steps_from(texts) for job_id, texts in texts_of.items()}
        return {job_id: steps for job_id, steps in found.items() if steps}

    @_translate_errors
    def checkpoint(self, worker_id: str, segments: Sequence[PathSegment]) -> None:
        records = [(*segment_row(seg.job_id, seg.attempt, seg.events), seg.claim)
                   for seg in segments if seg.events]
        if records:
            self._fetch(
                _Q["insert_segments_if_held"],
                {"worker": worker_id, **_columns(_SEGMENT_COLUMNS, records)},
            )

    @_translate_errors
    def begin_effect(
        self, job_id: int, claim: int, attempt: int, name: str, key: str, repeat_safe: bool
    ) -> EffectRecord | None:
        params = {"key": key, "job_id": job_id, "claim": claim, "name": name,
                  "attempt": attempt, "repeat_safe": repeat_safe}
        lost = LeaseLost(f"job {job_id}: attempt {attempt} no longer holds the job, so it may "
                         f"not begin effect {name!r} (key {key!r})")
        with self._conn() as conn:
            for _ in range(KEY_ROUNDS):
                # A new key is one statement; a known one is decided on its locked row.
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
                    existing = rows.effect_record(row, _to_time)
                    if existing.status == "done":
                        return existing
                    unknown = policy.effect_is_uncertain(existing, job_id, claim)
                    if unknown and not repeat_safe:
                        return existing
                    conn.execute(_Q["restart_effect"], params)
                    return existing if unknown else None
        raise StoreError(f"effect key {key!r} kept changing hands during begin_effect")

    @_translate_errors
    def end_effect(
        self, key: str, job_id: int, claim: int, result: str | None, error: str | None
    ) -> None:
        self._fetch(
            _Q["end_effect"],
            {"key": key, "job_id": job_id, "claim": claim, "result": result, "error": error},
        )

    @_translate_errors
    def effects(self, job_id: int) -> list[EffectRecord]:
        return [rows.effect_record(row, _to_time)
                for row in self._fetch(_Q["job_effects"], {"id": job_id})]

    @_translate_errors
    def resolve_effect(
        self, job_id: int, name: str, done: bool, result: str | None
    ) -> EffectRecord:
        with self._tx() as conn:
            record = self._record(conn, _Q["lock_job"], job_id)
            found = [rows.effect_record(row, _to_time)
                     for row in conn.execute(_Q["job_effects"], {"id": job_id}).fetchall()]
            effect = policy.effect_to_resolve(job_id, name, found)
            status = "done" if done else "failed"
            row = conn.execute(
                _Q["resolve_effect"],
                {"key": effect.key, "status": status, "result": result, "job_id": job_id,
                 "attempt": record.attempts,
                 "attrs": rows.transition_attrs(None, effect=name, key=effect.key,
                                                verdict=status)},
            ).fetchone()
        assert row is not None  # the effect was just read: effects are never deleted
        return rows.effect_record(row, _to_time)

    @_translate_errors
    def release(self, worker_id: str, job_ids: Sequence[int]) -> int:
        if not job_ids:
            return 0
        ((released, _),) = self._fetch(_Q["release"], {"worker": worker_id, "ids": list(job_ids)})
        gone = set(job_ids)
        self._held[worker_id] = {p for p in self._held.get(worker_id, ()) if p[0] not in gone}
        return int(released)

    @_translate_errors
    def reap_expired(self, limit: int = 500) -> int:
        with self._tx() as conn:
            expired = conn.execute(_Q["expired_leases"], {"limit": limit}).fetchall()
            if not expired:
                return 0
            reaped = []
            for job_id, attempts, max_attempts, worker in expired:
                error = policy.lease_error(worker, attempts, max_attempts)
                status = policy.after_lost_lease(attempts, max_attempts)
                attrs = rows.transition_attrs(error, worker=worker, next=status.value)
                reaped.append((job_id, status.value, error.to_json(), attrs))
            params = _columns(("id", "status", "error", "attrs"), reaped)
            (reaped_count, _) = conn.execute(_Q["expire_leases"], params).fetchall()[0]
        return int(reaped_count)

    @_translate_errors
    def expire_worker(self, worker_id: str, error: ErrorInfo) -> list[int]:
        with self._tx() as conn:
            held = conn.execute(_Q["worker_leases"], {"worker": worker_id}).fetchall()
            if not held:
                return []
            ended = []
            for job_id, attempts, max_attempts, worker in held:
                status = policy.after_lost_lease(attempts, max_attempts)
                attrs = rows.transition_attrs(error, worker=worker, next=status.value)
                ended.append((job_id, status.value, error.to_json(), attrs))
            params = {"worker": worker_id, **_columns(("id", "status", "error", "attrs"), ended)}
            return [row[0] for row in conn.execute(_Q["expire_worker_leases"], params)]

    @_translate_errors
    def next_run_at(self, queues: Sequence[str] | None) -> datetime | None:
        ((due,),) = self._fetch(*self._ready_query("next_run_at", queues))
        return _to_time(due)

    def watch(self, on_change: Callable[[], None]) -> _ListenWatch:
        self._get_pool()  # a forked child forgets its parent's watchers first
        watch = _ListenWatch(self, on_change)
        self._watches.append(watch)
        return watch

    # -- reading -------------------------------------------------------------------
    @staticmethod
    def _record(conn: Conn, sql: str, job_id: int) -> JobRecord:
        row = conn.cursor(row_factory=dict_row).execute(sql, {"id": job_id}).fetchone()
        if row is None:
            raise JobNotFound(f"no job with id {job_id}")
        return rows.job_record(row, _to_time)

    @_translate_errors
    def get(self, job_id: int) -> JobRecord:
        with self._conn() as conn:
            return self._record(conn, _Q["get_job"], job_id)

    @_translate_errors
    def list_jobs(self, where: JobFilter) -> list[JobRecord]:
        statuses = [s.value for s in where.statuses] if where.statuses else None
        params = {"statuses": statuses, "queue": where.queue, "job_name": where.job_name,
                  "before_id": where.before_id, "limit": where.limit}
        with self._conn() as conn, conn.cursor(row_factory=dict_row) as cur:
            # Never prepared: planned for the values at hand, the filters left unused fold
            # away and a status listing can use the partial index that matches it.
            found = cur.execute(_Q["list_jobs"], params, prepare=False).fetchall()
        return [rows.job_record(row, _to_time) for row in found]

    @_translate_errors
    def events(self, job_id: int) -> list[Event]:
        return segments.expand(self._fetch(_Q["job_events"], {"id": job_id}), _to_time)

    @_translate_errors
    def divergences(self, where: DivergenceFilter) -> list[DivergenceRecord]:
        found = self._fetch(_Q["divergences"], _divergence_params(where))
        return [rows.divergence_record(row, _to_time) for row in found]

    @_translate_errors
    def divergence_counts(self, where: DivergenceFilter) -> dict[tuple[str, str], int]:
        found = self._fetch(_Q["divergence_counts"], _divergence_params(where))
        return {(job_name, kind): count for job_name, kind, count in found}

    @_translate_errors
    def runs(self, job_name: str, since: datetime | None = None) -> list[RunRecord]:
        found = self._fetch(_Q["runs"], {"job_name": job_name, "since": since})
        return [rows.run_record(row, _to_time) for row in found]

    @_translate_errors
    def children(self, parent_ids: Sequence[int], job_name: str) -> list[JobRecord]:
        with self._conn() as conn, conn.cursor(row_factory=dict_row) as cur:
            found = cur.execute(_Q["children"], {"job_name": job_name, "ids": list(parent_ids)},
                                prepare=False).fetchall()
        return [rows.job_record(row, _to_time) for row in found]

    @_translate_errors
    def milestones(self, name: str, since: datetime | None = None) -> list[Event]:
        found = self._fetch(_Q["milestones"], {"needle": encode_basestring(name), "since": since})
        return segments.milestones(found, name, _to_time, since)

    @_translate_errors
    def counts(self) -> dict[tuple[str, Status], int]:
        return {(queue, Status(status)): n for queue, status, n in self._fetch(_Q["counts"])}

    @_translate_errors
    def workers(self) -> list[WorkerRecord]:
        return [
            WorkerRecord(wid, host, pid, tuple(queues.split(",")) if queues else None, conc,
                         started.astimezone(UTC), seen.astimezone(UTC))
            for wid, host, pid, queues, conc, started, seen in self._fetch(_Q["list_workers"])
        ]

    # -- operators -------------------------------------------------------------------
    def _transition(self, job_id: int, transition: Transition) -> JobRecord:
        with self._tx() as conn:
            current = self._record(conn, _Q["lock_job"], job_id)
            refusal = policy.transition_refusal(transition, job_id, current.status)
            if refusal is not None:
                raise refusal
            if transition.resets:
                effects = conn.execute(_Q["job_effects"], {"id": job_id}).fetchall()
                blocker = policy.replay_blocker(
                    job_id, [rows.effect_record(row, _to_time) for row in effects])
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
            if target.is_waiting:
                conn.execute(_Q["notify"], {"queue": current.queue})
            return rows.job_record(row, _to_time)

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
        self._fetch(_Q["delete_worker"], {"id": worker_id})

    def close(self) -> None:
        if os.getpid() != self._pid:
            return
        for watch in list(self._watches):
            watch.stop()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close(timeout=5.0)


def _divergence_params(where: DivergenceFilter) -> dict[str, Any]:
    return {"job_name": where.job_name, "kind": where.kind, "job_id": where.job_id,
            "since": where.since, "before_id": where.before_id, "limit": where.limit}
