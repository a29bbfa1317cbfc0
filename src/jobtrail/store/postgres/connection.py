"""A PostgreSQL database as a process uses it: a pool of connections (opened anew in a
forked child), each configured and checked before use, and the schema checked on first use.

Pooled connections are in autocommit mode: an operation that is one statement (every call
of the worker's loop) is its own transaction, which spares the round-trips of BEGIN and
COMMIT; an operation of several statements runs in an explicit one (`Database._tx`).
"""

from __future__ import annotations

import math
import os
import select
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, Protocol
from weakref import WeakKeyDictionary

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from jobtrail.access import ActingStore
from jobtrail.clock import Clock, SystemClock
from jobtrail.errors import SchemaOutdated, StoreError
from jobtrail.store import redact_url
from jobtrail.store.errors import Backend, translating
from jobtrail.store.postgres import schema
from jobtrail.store.postgres.claims import HeldClaims
from jobtrail.store.postgres.presence import Presence
from jobtrail.store.postgres.values import ClampedTimestamptz
from jobtrail.store.sqlfiles import latest_version, queries

Conn = psycopg.Connection[tuple[Any, ...]]
BACKEND: Backend = "postgres"
#: Wraps each operation: driver errors leave as jobtrail's store errors.
translated = translating(BACKEND)
_Q = queries(BACKEND)
#: Rounds of an operation that decides on a row another transaction may move meanwhile
#: (a keyed enqueue, the start of an effect): another one only when it did.
KEY_ROUNDS = 50


class _Watch(Protocol):
    def notify(self) -> None: ...
    def stop(self) -> None: ...


class Database(ActingStore):
    """The connections of one store to one PostgreSQL database, in this process.

    ``min_size`` and ``max_size`` bound the connection pool (opened on first use, and
    again in a forked child); ``connect_timeout`` (seconds) limits both opening a
    connection and waiting for a free one; ``auto_migrate`` applies pending migrations
    on first use instead of raising `SchemaOutdated`. The server keeps the time; a
    ``clock`` other than the system's moves it by its `Clock.offset`.
    """

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10,
                 auto_migrate: bool = False, connect_timeout: float = 5.0,
                 clock: Clock | None = None) -> None:
        if min_size < 0 or max_size < max(1, min_size):
            raise StoreError(f"bad pool size: min_size={min_size}, max_size={max_size}")
        self.clock: Clock = clock or SystemClock()
        # The clock offset each pooled connection was configured with.
        self._offsets: WeakKeyDictionary[Conn, float] = WeakKeyDictionary()
        self._conninfo, self.url = url, redact_url(url)
        self.min_size, self.max_size = min_size, max_size
        self.auto_migrate, self.connect_timeout = auto_migrate, connect_timeout
        # libpq takes whole seconds and treats 1 as 2.
        self._libpq_timeout = max(2, math.ceil(connect_timeout))
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._pool: ConnectionPool[Conn] | None = None
        self._inherited: list[ConnectionPool[Conn]] = []
        self._watches: list[_Watch] = []
        #: Whether a process waits for jobs here, so that finishes notify it.
        self.presence = Presence()
        self._checked = False
        # What each worker of this process holds, for the claim after one that failed.
        self._claims = HeldClaims()

    # -- connections -------------------------------------------------------------
    def connect(self, application_name: str | None = None) -> Conn:
        """A new connection outside the pool (in autocommit mode), owned by the caller;
        *application_name* names it to the server (``pg_stat_activity``)."""
        named: dict[str, Any] = {"application_name": application_name} if application_name else {}
        conn: Conn = psycopg.connect(self._conninfo, autocommit=True,
                                     connect_timeout=self._libpq_timeout, **named)
        return conn

    def _get_pool(self) -> ConnectionPool[Conn]:
        if os.getpid() != self._pid:
            # A forked child must neither use nor close its parent's connections: the
            # parent's pool stays referenced, so it is not even garbage-collected here.
            if self._pool is not None:
                self._inherited.append(self._pool)
            self._pool, self._pid, self._watches = None, os.getpid(), []
            self.presence = Presence()
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
                        configure=self._configure,
                    )
                    pool.open(wait=False)
                    self._pool = pool
        return pool

    def _configure(self, conn: Conn) -> None:
        """Settings of every pooled connection (see ``configure`` in postgres.sql)."""
        conn.adapters.register_loader("timestamptz", ClampedTimestamptz)
        self._set_clock(conn, self.clock.offset())

    def _set_clock(self, conn: Conn, offset: float) -> None:
        conn.execute(_Q["configure"], {"clock_offset": repr(float(offset))})
        self._offsets[conn] = offset

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
        """A pooled connection that the server has not dropped."""
        pool = self._get_pool()
        conn = self._getconn(pool)
        for _ in range(pool.max_size):
            if _usable(conn):
                break
            conn.close()  # the pool sees it closed and opens a replacement
            pool.putconn(conn)
            conn = self._getconn(pool)
        try:
            offset = self.clock.offset()
            if self._offsets.get(conn) != offset:  # a test moved the clock meanwhile
                self._set_clock(conn, offset)
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
            version = schema.version(conn)
        latest = latest_version(BACKEND)
        if version > latest or (version < latest and not self.auto_migrate):
            hint = "upgrade jobtrail" if version > latest else "run `jobtrail db upgrade`"
            raise SchemaOutdated(
                f"database {self.url!r} has schema version {version}, expected {latest}: {hint}"
            )
        if version < latest:
            with conn.transaction():
                schema.migrate(conn)
        self._checked = True

    # -- watchers ---------------------------------------------------------------------
    def add_watch(self, watch: _Watch) -> None:
        """Stop *watch* when the store closes."""
        self._watches.append(watch)

    def remove_watch(self, watch: _Watch) -> None:
        """Forget *watch*, which stopped."""
        with suppress(ValueError):  # close() may be stopping it at the same time
            self._watches.remove(watch)

    # -- schema ------------------------------------------------------------------
    @translated
    def migrate(self) -> list[int]:
        """Apply pending migrations in one transaction, serialised by an advisory lock."""
        with self._connection() as conn, conn.transaction():
            applied = schema.migrate(conn)
        self._checked = True
        return applied

    @translated
    def schema_version(self) -> int:
        """The newest migration applied to the database (0 for an empty one)."""
        with self._connection() as conn, conn.transaction():
            return schema.version(conn)

    def close(self) -> None:
        """Stop this store's watchers and close its pool, in this process."""
        if os.getpid() != self._pid:
            return
        for watch in list(self._watches):
            watch.stop()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close(timeout=5.0)


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
