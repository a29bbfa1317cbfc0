"""One SQLite database file as a process uses it: a connection per thread, the write
transaction, the schema checked on first use, and the identity of the file.

A forked child never touches its parent's connections: it opens the file at the path
anew. The file this process opened is remembered by (device, inode): once it is deleted,
replaced or found damaged the store is lost for good, and every operation raises
`StoreLost` instead of writing to a file nobody else reads.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from jobtrail.access import ActingStore
from jobtrail.clock import Clock, SystemClock
from jobtrail.errors import SchemaOutdated, StoreError, StoreLost
from jobtrail.store.errors import Backend, sqlite_message, store_error, translating
from jobtrail.store.sqlfiles import latest_version, queries, steps
from jobtrail.store.sqlite import schema

BACKEND: Backend = "sqlite"
#: Wraps each operation: driver errors leave as jobtrail's store errors.
translated = translating(BACKEND)
_Q = queries(BACKEND)
_CONFIGURE = tuple(steps(BACKEND, "configure").values())


class Database(ActingStore):
    """The connections of one store to one SQLite file, in this process.

    ``busy_timeout`` (seconds) is how long a connection waits for another process's write
    lock; ``poll_interval`` how often an idle watcher looks for new work; ``auto_migrate``
    applies pending migrations on first use instead of raising `SchemaOutdated`; every
    time the store writes is read from ``clock`` (the system's by default).
    """

    def __init__(
        self,
        path: str,
        *,
        busy_timeout: float = 30.0,
        poll_interval: float = 0.005,
        auto_migrate: bool = True,
        clock: Clock | None = None,
    ) -> None:
        self.path = path
        self.clock: Clock = clock or SystemClock()
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
        self._wakers: list[Callable[[], None]] = []
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

    # -- this process's watchers -----------------------------------------------------
    def add_waker(self, wake: Callable[[], None]) -> None:
        """Call *wake* whenever this process enqueues: its watcher hears of that at once."""
        self._wakers.append(wake)

    def remove_waker(self, wake: Callable[[], None]) -> None:
        """Stop calling *wake*."""
        with suppress(ValueError):
            self._wakers.remove(wake)

    def _wake(self) -> None:
        for wake in list(self._wakers):
            wake()

    # -- connections -------------------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        """A new connection to the file, configured, owned by the caller."""
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise StoreError(
                f"cannot open SQLite database {self.path!r}: {directory} does not exist"
            )
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
            for statement in _CONFIGURE:
                conn.execute(statement)
        except sqlite3.Error as exc:
            error = store_error(BACKEND, exc, "opening the database", self.path)
            raise (error or StoreError(sqlite_message(exc, self.path))) from exc
        return conn

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection, the schema checked on first use."""
        if self._lost is not None:
            raise StoreLost(self._lost)
        if os.getpid() != self._pid:
            # A forked child must not touch its parent's connections; it opens the file
            # that is at the path now.
            self._pid = os.getpid()
            self._local = threading.local()
            self._connections = []
            self._wakers = []
            self._lock = threading.Lock()
            self._write_lock = threading.Lock()
            self._identity = None
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._adopt(self.connect())
            if self._identity is None:
                with suppress(OSError):
                    found = os.stat(self.path)
                    self._identity = (found.st_dev, found.st_ino)
            if not self._checked:
                self._check_schema(conn)
        return conn

    def _adopt(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        """Make *conn* this thread's connection, closed with the store."""
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        version = schema.version(conn)
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
            schema.migrate(conn, self.clock.now())
        self._checked = True

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection inside a write transaction, committed at the end."""
        conn = self._conn()
        with self._write_lock:
            conn.execute(_Q["begin_write"])
            try:
                yield conn
                conn.commit()
            except BaseException:
                # The error that got here is the one to report (a MemoryError must not turn
                # into "cannot rollback - no transaction is active").
                if conn.in_transaction:
                    with suppress(sqlite3.Error):
                        conn.rollback()
                raise

    # -- schema ------------------------------------------------------------------
    @translated
    def migrate(self) -> list[int]:
        """Apply pending migrations, all in one write transaction."""
        conn = getattr(self._local, "conn", None) if os.getpid() == self._pid else None
        if conn is None:
            conn = self._adopt(self.connect())
        applied = schema.migrate(conn, self.clock.now())
        self._checked = True
        return applied

    @translated
    def schema_version(self) -> int:
        """The newest migration applied to the file (0 for an empty one)."""
        conn = self.connect()
        try:
            return schema.version(conn)
        finally:
            conn.close()

    def close(self) -> None:
        """Close every connection this store opened in this process."""
        if os.getpid() != self._pid:
            return
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            with suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()
