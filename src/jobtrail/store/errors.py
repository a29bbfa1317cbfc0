"""How a driver's error leaves the store: as one of jobtrail's store errors, in the user's terms.

Both backends wrap every operation with `translating`, which applies one policy:

- jobtrail's own errors (a key conflict, a lost lease) pass as they are;
- tables that do not exist: `SchemaOutdated` (run ``jobtrail db upgrade``);
- a value the database cannot take: `StoreRejected` (retrying the same write cannot help);
- a SQLite file that is not, or no longer, a sound database: `StoreLost`;
- any other driver error: `StoreError`;
- anything else (a ``MemoryError``, a bug) passes as it is.

A message says what failed, where and what to do, on one line: "cannot reach PostgreSQL
at db:5432: connection refused (is the server running ...?)" rather than the driver's text
of several lines. The driver's error stays chained on ``__cause__``.

Nothing here imports psycopg: the SQLite core needs no third-party package, and a psycopg
error can only be in hand once the PostgreSQL backend has imported it.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import sqlite3
from collections.abc import Callable
from typing import Any, Literal, ParamSpec, TypeVar

from jobtrail.errors import (
    JobtrailError,
    SchemaOutdated,
    StoreError,
    StoreLost,
    StoreRejected,
)
from jobtrail.store import URL_ENV

P = ParamSpec("P")
T = TypeVar("T")
Backend = Literal["sqlite", "postgres"]

#: The command that brings a database's schema up to date, as messages quote it.
UPGRADE_HINT = "`jobtrail db upgrade`"
#: What each operation of the store was doing, for the messages of errors that are not
#: about reaching the database.
DOING = {
    "migrate": "upgrading the schema",
    "schema_version": "reading the schema version",
    "enqueue": "enqueueing jobs",
    "fire": "firing a periodic job's tick",
    "schedules": "reading the ticks periodic jobs fired",
    "enqueue_workflow": "enqueueing a workflow",
    "settle_groups": "deciding workflows",
    "workflow": "reading a workflow",
    "job_links": "reading which job types enqueued which",
    "breakers": "reading circuit breakers",
    "retry_stats": "reading retries",
    "audit_head": "reading the audit trail's last seal",
    "audit_seals": "reading the audit trail's seals",
    "audit_append": "appending a seal to the audit trail",
    "audit_pending": "reading the events to seal",
    "audit_rows": "reading the audited events",
    "audit_digests": "reading the audited events' digests",
    "audit_now": "reading the database's clock",
    "audit_checkpoint_add": "storing a signed checkpoint of the audit trail",
    "audit_checkpoints": "reading the audit trail's signed checkpoints",
    "audit_prune": "removing the audit trail's seals before a checkpoint",
    "audit_pruned": "reading the records of history pruned",
    "audit_record": "writing an event of the audit trail",
    "prune_history": "removing the history of finished jobs",
    "encrypted_rows": "reading the rows that hold encrypted values",
    "rewrite_encrypted": "writing re-encrypted values",
    "attempt_usage": "reading what attempts used",
    "gauges": "reading the gauges of the metrics",
    "capacity_stats": "reading arrivals and service times",
    "breaker_apply": "changing a circuit breaker",
    "claim": "claiming jobs",
    "claim_job": "claiming a job",
    "claim_limited": "claiming jobs under flow limits",
    "heartbeat": "renewing leases",
    "finish": "recording outcomes",
    "completed_steps": "reading completed steps",
    "saved_path": "reading the path a job saved",
    "checkpoint": "writing a checkpoint",
    "begin_effect": "beginning an effect",
    "end_effect": "ending an effect",
    "effects": "reading a job's effects",
    "resolve_effect": "resolving an effect",
    "release": "releasing jobs",
    "reap_expired": "reaping expired leases",
    "expire_worker": "ending the leases of a dead worker",
    "record_run": "recording the summary of a run",
    "next_run_at": "reading when the next job is due",
    "get": "reading a job",
    "statuses": "reading the statuses of jobs",
    "list_jobs": "listing jobs",
    "count_jobs": "counting jobs",
    "dead_letters": "listing dead letters",
    "count_dead_letters": "counting dead letters",
    "events": "reading a job's path",
    "counts": "counting jobs",
    "_queue_stats": "reading the queues",
    "_queue_glance": "reading the queues at a glance",
    "job_id_by_key": "finding the job of an idempotency key",
    "divergences": "listing divergences",
    "divergence_counts": "counting divergences",
    "runs": "reading finished runs",
    "run_names": "reading the job names with runs",
    "children": "reading child jobs",
    "milestones": "reading milestones",
    "events_horizon": "reading how far back recent events reach",
    "workers": "listing workers",
    "replay": "replaying a job",
    "discard": "discarding a job",
    "cancel": "cancelling a job",
    "replay_many": "replaying jobs",
    "discard_many": "discarding jobs",
    "cancel_many": "cancelling jobs",
    "unregister_worker": "unregistering a worker",
    "token_create": "creating a token",
    "token_revoke": "revoking a token",
    "tokens": "listing tokens",
    "token_find": "looking a token up",
}
#: What SQLite says of a file that is not (or no longer) a sound database.
_DAMAGED = ("file is not a database", "database disk image is malformed")
#: The server libpq tried, in its connection failure text (the last one tried is what failed).
_SERVER = re.compile(
    r'connection to server (?:at "(?P<host>[^"]*)"(?: \([^)]*\))?, port (?P<port>\d+)'
    r'|on socket "(?P<socket>[^"]*)") failed: '
)
_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_$]*")
#: How psycopg's text of a connection attempt that failed begins.
_CONNECTING = ("connection failed:", "connection is bad:", "failed to resolve host")
#: Signs, in psycopg's text, of a connection the server closed during an operation.
_LOST = ("server closed the connection", "terminating connection", "consuming input failed",
         "the connection is lost")


def translating(backend: Backend) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorate a store operation so that its driver errors leave as `store_error` says.

    The operation's object names the database: its ``path`` for SQLite."""

    def decorate(method: Callable[P, T]) -> Callable[P, T]:
        doing = DOING.get(method.__name__, f"running {method.__name__}")

        @functools.wraps(method)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return method(*args, **kwargs)
            except JobtrailError:
                raise
            except Exception as exc:
                error = store_error(backend, exc, doing, getattr(args[0], "path", None))
                if error is None:
                    raise
                raise error from exc

        return wrapper

    return decorate


def store_error(backend: Backend, exc: Exception, doing: str,
                path: str | None = None) -> StoreError | None:
    """The store error that *exc*, raised while *doing*, amounts to; ``None`` when it is no
    driver error (nor a value the driver refused) and must pass as it is. *path* names a
    SQLite database."""
    if backend == "sqlite":
        return _sqlite_error(exc, doing, path)
    return _postgres_error(exc, doing)


def _sqlite_error(exc: Exception, doing: str, path: str | None) -> StoreError | None:
    if isinstance(exc, sqlite3.OperationalError) and "no such table" in str(exc):
        return SchemaOutdated()
    if isinstance(exc, sqlite3.DataError | sqlite3.IntegrityError | ValueError | OverflowError):
        # ValueError includes UnicodeEncodeError: text that is not valid UTF-8.
        return StoreRejected(f"SQLite refused a value while {doing}: {_first_line(exc)}")
    if not isinstance(exc, sqlite3.Error):
        return None
    if is_damaged(exc):
        return StoreLost(damaged(path or "", exc))
    return StoreError(sqlite_message(exc, path, doing))


def _postgres_error(exc: Exception, doing: str) -> StoreError | None:
    import psycopg  # only a PostgreSQL store gets here, and it has imported psycopg

    if isinstance(exc, psycopg.errors.UndefinedTable):
        return SchemaOutdated()
    if isinstance(exc, psycopg.DataError | psycopg.IntegrityError | ValueError | OverflowError):
        # ValueError includes UnicodeEncodeError (text that is not valid UTF-8) and
        # psycopg's refusal of NUL characters before anything is sent.
        return StoreRejected(f"PostgreSQL refused a value while {doing}: {_first_line(exc)}")
    if not isinstance(exc, psycopg.Error):
        return None
    return StoreError(postgres_message(exc, doing))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- SQLite ------------------------------------------------------------------------------------
def is_damaged(exc: BaseException) -> bool:
    """True when SQLite says the file is not (or no longer) a sound database."""
    return any(text in str(exc) for text in _DAMAGED)


def damaged(path: str, exc: BaseException) -> str:
    """What to say of a file SQLite cannot read as a database."""
    return (f"{path!r} is not a usable SQLite database ({exc}): check the path, or "
            "restore the database from a backup")


def sqlite_message(exc: BaseException, path: str | None, doing: str | None = None) -> str:
    """A SQLite driver error, naming the database file when it is known."""
    text = str(exc)
    name = f"SQLite database {path!r}" if path else "SQLite database"
    if "readonly database" in text:
        return (f"cannot write to {name}: it is read-only "
                "(check the permissions of the file and of its directory)")
    if "database is locked" in text:
        return f"{name} stayed locked by another connection past the busy timeout: try again"
    if "file is not a database" in text:
        return f"cannot read {name}: the file is not a SQLite database"
    if "malformed" in text:
        return f"cannot read {name}: the file is damaged ({text})"
    if "unable to open" in text:
        return f"cannot open {name}: {text} (check that the file and its directory are readable)"
    return f"{name} failed while {doing}: {text}" if doing else f"{name}: {text}"


# -- PostgreSQL --------------------------------------------------------------------------------
def postgres_message(exc: BaseException, doing: str | None = None) -> str:
    """A psycopg error: a connection that failed said by what failed where, else the
    server's own message (its first line)."""
    text = str(exc).strip()
    servers = list(_SERVER.finditer(text))
    if not servers and not text.startswith(_CONNECTING):
        first = text.splitlines()[0] if text else type(exc).__name__
        if type(exc).__name__ == "PoolTimeout":
            return f"no PostgreSQL connection came free in time: {first}"
        if any(sign in text for sign in _LOST):
            return f"lost the connection to PostgreSQL: {first}"
        return f"PostgreSQL failed while {doing}: {first}" if doing else f"PostgreSQL: {first}"
    conn = _connection_facts(exc)
    reason = text[servers[-1].end():] if servers else text
    reason = re.sub(r"^(?:connection failed:)?\s*(?:FATAL:)?\s*", "", reason)
    where = _where(conn, servers[-1] if servers else None)
    at = f" at {where}" if where else ""
    return _connection_message(reason.splitlines()[0].strip(), at, conn)


def _where(conn: dict[str, str], server: re.Match[str] | None) -> str:
    """The server as the user named it (a host name rather than the address it resolved
    to), else as libpq's text says."""
    if server is not None and server["socket"]:
        conn.setdefault("host", os.path.dirname(server["socket"]))
        return f"socket {server['socket']}"
    if server is not None:
        conn.setdefault("host", server["host"])
        conn.setdefault("port", server["port"])
    return f"{conn['host']}:{conn.get('port', '5432')}" if conn.get("host") else ""


def _connection_message(reason: str, at: str, conn: dict[str, str]) -> str:
    missing = re.fullmatch(r'database "(.*)" does not exist', reason)
    if missing:
        name = missing.group(1)
        ident = name if _PLAIN_NAME.fullmatch(name) else '"' + name.replace('"', '""') + '"'
        return (f"database {name!r} does not exist on PostgreSQL{at}: create it with "
                f"`{_createdb(conn, name)}` (or CREATE DATABASE {ident}), then run "
                f"{UPGRADE_HINT}")
    role = re.fullmatch(r'role "(.*)" does not exist', reason)
    if role:
        return f"PostgreSQL{at} has no user {role.group(1)!r}: check the user in the URL"
    if reason.startswith("password authentication failed"):
        return f"PostgreSQL{at} refused the password: {reason} (check the password in the URL)"
    if "no password supplied" in reason:
        return (f"PostgreSQL{at} asks for a password: put it in the URL "
                f"(or ${URL_ENV}) or in ~/.pgpass")
    if reason.lower().startswith("connection refused"):
        return (f"cannot reach PostgreSQL{at}: connection refused "
                "(is the server running and accepting connections there?)")
    if reason.startswith("timeout expired"):
        return f"cannot reach PostgreSQL{at}: no answer within the connect timeout"
    if reason.startswith("No such file or directory"):
        return f"cannot reach PostgreSQL{at}: no such socket (is the server running locally?)"
    if reason.startswith("failed to resolve host"):
        return f"cannot reach PostgreSQL: {reason}"
    return f"cannot connect to PostgreSQL{at}: {reason}"


def _connection_facts(exc: Any) -> dict[str, str]:
    """Host, port and user of the connection attempt that failed, as far as psycopg kept
    them (a failed attempt still knows its parameters)."""
    facts: dict[str, str] = {}
    pgconn = getattr(exc, "pgconn", None)
    for name in ("host", "port", "user"):
        try:
            value = getattr(pgconn, name, None)
        except Exception:  # a connection in a state that no longer answers
            value = None
        if isinstance(value, bytes) and value:
            facts[name] = value.decode(errors="replace")
    return facts


def _createdb(conn: dict[str, str], name: str) -> str:
    words = ["createdb"]
    for flag, key in (("-h", "host"), ("-p", "port"), ("-U", "user")):
        if conn.get(key):
            words += [flag, conn[key]]
    return shlex.join([*words, name])
