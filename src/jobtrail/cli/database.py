"""The database a command works on, as the person at the terminal sees it.

Its URL is shown with the password masked (`masked_url`), and its errors are said in the
user's terms (`describe_store_error`): the backends wrap a driver error as
``StoreError("PostgreSQL list_jobs failed: <driver text>")``, which names an internal
method and keeps the driver's text of several lines. `describe_store_error` rewrites such
an error from the driver error chained on its ``__cause__``: what failed, where, and what
to do about it.

Nothing here imports a driver: the SQLite core needs no third-party package, and a
psycopg error can only be in hand when psycopg is already imported.
"""

from __future__ import annotations

import os
import re
import shlex
import sqlite3
import sys
from typing import Any
from urllib.parse import urlsplit

from jobtrail.errors import ConfigurationError, StoreError
from jobtrail.store import URL_ENV, parse_url, redact_url

MASK = "***"
UPGRADE = "jobtrail db upgrade"
#: The form the backends give a wrapped driver error: "<backend> <method> failed: <driver text>".
INTERNAL_FORM = re.compile(r"^(?:PostgreSQL|SQLite) \w+ failed: ")
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


def password_of(url: str) -> str | None:
    """The password a database URL holds, in the authority or as ``?password=``."""
    try:
        password = urlsplit(url).password
    except ValueError:  # an unparsable port: the authority is still readable below
        password = None
    found = re.search(r"[?&]password=([^&]*)", url)
    return password or (found.group(1) if found else None)


def masked_url(url: str) -> str:
    """*url* with its password shown as ``***``, fit for anything printed."""
    return redact_url(url)


def hide_password(text: str, url: str | None) -> str:
    """*text* with *url*'s password masked wherever a URL in it spells it out.

    Only its spellings inside a URL are masked (``:password@``, ``password=``): a short
    password masked everywhere would garble the message (a user named like it, a number).
    """
    password = password_of(url) if url else None
    if not password or password == MASK:
        return text
    text = text.replace(f":{password}@", f":{MASK}@")
    return re.sub(rf"([?&\s]password=){re.escape(password)}(?=&|\s|$)", rf"\g<1>{MASK}", text)


def url_argument(url: str) -> str:
    """``--url URL`` as a shell reads it, the password masked."""
    return f"--url {shlex.quote(masked_url(url))}"


def run_hint(command: str) -> str:
    """*command* quoted for a message, with what to put for a masked password."""
    note = f" (with the password in place of {MASK})" if MASK in command else ""
    return f"`{command}`{note}"


def describe_store_error(error: StoreError, url: str | None = None,
                         upgrade: str = UPGRADE) -> str:
    """*error*'s message in the user's terms, on one line, with no password.

    A message of the backends' internal form is rebuilt from the driver error it wraps;
    any other is kept, its bare `jobtrail db upgrade` hint replaced by *upgrade*, the
    command that upgrades this database. *url* names the database (for SQLite, whose
    errors do not name the file).
    """
    message = str(error)
    cause = error.__cause__
    if INTERNAL_FORM.match(message):
        if isinstance(cause, sqlite3.Error):
            message = _sqlite_message(cause, _sqlite_path(url))
        elif _is_psycopg_error(cause):
            message = _postgres_message(cause, upgrade)
    else:  # e.g. SchemaOutdated: its hint names no database, and may name the wrong one
        message = message.replace(f"`{UPGRADE}`", run_hint(upgrade))
    return " ".join(hide_password(message, url).split())


def _sqlite_path(url: str | None) -> str | None:
    if url is None:
        return None
    try:
        backend, path = parse_url(url)
    except ConfigurationError:
        return None
    return path if backend == "sqlite" else None


def _sqlite_message(cause: sqlite3.Error, path: str | None) -> str:
    """A SQLite driver error, naming the database file when it is known."""
    text = str(cause)
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
    return f"{name}: {text}"


def _is_psycopg_error(cause: BaseException | None) -> bool:
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(cause, psycopg.Error)


def _postgres_message(cause: Any, upgrade: str) -> str:
    """A psycopg error: a connection that failed said by what failed where, else the
    server's own message."""
    text = str(cause).strip()
    servers = list(_SERVER.finditer(text))
    if not servers and not text.startswith(_CONNECTING):
        first = text.splitlines()[0] if text else type(cause).__name__
        if type(cause).__name__ == "PoolTimeout":
            return f"no PostgreSQL connection came free in time: {first}"
        if any(sign in text for sign in _LOST):
            return f"lost the connection to PostgreSQL: {first}"
        return f"PostgreSQL error: {first}"
    conn = _connection_facts(cause)
    reason = text[servers[-1].end():] if servers else text
    reason = re.sub(r"^(?:connection failed:)?\s*(?:FATAL:)?\s*", "", reason)
    where = _where(conn, servers[-1] if servers else None)
    at = f" at {where}" if where else ""
    return _connection_message(reason.splitlines()[0].strip(), at, conn, upgrade)


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


def _connection_message(reason: str, at: str, conn: dict[str, str], upgrade: str) -> str:
    missing = re.fullmatch(r'database "(.*)" does not exist', reason)
    if missing:
        name = missing.group(1)
        ident = name if _PLAIN_NAME.fullmatch(name) else '"' + name.replace('"', '""') + '"'
        return (f"database {name!r} does not exist on PostgreSQL{at}: create it with "
                f"`{_createdb(conn, name)}` (or CREATE DATABASE {ident}), then run "
                f"{run_hint(upgrade)}")
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


def _connection_facts(cause: Any) -> dict[str, str]:
    """Host, port and user of the connection attempt that failed, as far as psycopg kept
    them (a failed attempt still knows its parameters)."""
    facts: dict[str, str] = {}
    pgconn = getattr(cause, "pgconn", None)
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
