"""Storage: the `Store` contract and the function that opens a backend from a URL.

URLs:

- ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (the embedded default
  is ``sqlite:///jobtrail.db``);
- ``postgresql://user@host:port/dbname`` (needs the ``postgres`` extra).
"""

from __future__ import annotations

import importlib.util
import os
import re
from typing import Any
from urllib.parse import urlsplit

from jobtrail.clock import Clock
from jobtrail.errors import ConfigurationError
from jobtrail.store.base import Store

DEFAULT_URL = "sqlite:///jobtrail.db"
URL_ENV = "JOBTRAIL_URL"

__all__ = [
    "DEFAULT_URL", "URL_ENV", "Store", "open_store", "parse_url", "redact_url", "resolve_url",
]


def resolve_url(url: str | None) -> str:
    """The URL to use: *url*, else ``$JOBTRAIL_URL``, else the embedded default."""
    return url or os.environ.get(URL_ENV) or DEFAULT_URL


def parse_url(url: str) -> tuple[str, str]:
    """Split a URL into (backend, target); raise `ConfigurationError` when it is unusable.

    Messages show the URL through `redact_url`: never its password."""
    if not isinstance(url, str):
        raise ConfigurationError(
            f"the database URL must be a str, got {type(url).__name__}: "
            "use sqlite:///path.db or postgresql://user@host/db"
        )
    shown = redact_url(url)
    if url.startswith("sqlite:"):
        if not url.startswith("sqlite:///"):
            raise ConfigurationError(
                f"SQLite URL {shown!r} must look like sqlite:///relative.db or "
                "sqlite:////abs/path.db"
            )
        path = url[len("sqlite:///"):]
        if "\x00" in path:
            raise ConfigurationError(f"SQLite URL {shown!r} holds a NUL character (\\x00)")
        if not path or path == ":memory:":
            raise ConfigurationError(
                f"SQLite URL {shown!r} must name a database file: workers in other threads and "
                "processes share it, which an in-memory database cannot do"
            )
        return "sqlite", path
    if url.startswith(("postgresql://", "postgres://")):
        problem = _postgres_url_problem(url)
        if problem:
            raise ConfigurationError(f"malformed PostgreSQL URL {shown!r}: {problem}")
        return "postgres", url
    if "=" in url and "://" not in url:
        raise ConfigurationError(
            f"database URL {shown!r} looks like a keyword connection string: write it as a "
            "URL, postgresql://user:password@host:port/dbname (or sqlite:///path.db)"
        )
    scheme = shown.split(":", 1)[0] if ":" in shown else shown
    raise ConfigurationError(
        f"unsupported database URL scheme {scheme!r} in {shown!r}: "
        "use sqlite:///path.db or postgresql://user@host/db"
    )


def _postgres_url_problem(url: str) -> str | None:
    """Why the host part of a PostgreSQL URL cannot be read, in words that quote nothing
    of it (``urlsplit``'s own messages can quote part of a password)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "unbalanced [ or ] around the host (write an IPv6 address as [::1])"
    try:
        parts.port  # noqa: B018  # parsing the port is the check
    except ValueError:
        return ("the port is not a number from 0 to 65535 (percent-encode any '/', '?', '#' "
                "or '@' in the password)")
    if _BAD_PERCENT.search(url):
        # libpq's message would quote the whole token around it: the password, often.
        return "a '%' is not followed by two hex digits (write a '%' in the password as %25)"
    return None


_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Keyword DSNs (``host=db password='a b'``) and query parameters (``?password=...``, also
# ``sslpassword``): the value runs to its closing quote, or to the next space (hiding the
# rest of a query: better too much than a password holding an ``&``).
_PASSWORD_SETTING = re.compile(
    # A URL's query parameter runs to the next "&"; a keyword setting to the next space,
    # or is quoted.
    r"""(?P<key>(?<=[?&])[\w.-]*password=)(?P<value>[^&\s]*)"""
    r"""|(?P<kw>(?:^|(?<=[\s;]))[\w.-]*password\s*=\s*)"""
    r"""(?P<kwvalue>'(?:[^'\\]|\\.)*(?:'|$)|\S*)""",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """*url* fit for a message: a password given in it (``user:password@``, a
    ``password=`` query parameter or keyword setting) is replaced by ``***``.

    Errs on the side of hiding: the user information runs to the *last* ``@``, so a
    password holding an unencoded ``@``, ``/`` or ``?`` is hidden whole (and an ``@`` in
    the query hides the host too)."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme != "sqlite":
        at = rest.rfind("@")
        if at >= 0:
            user, colon, _ = rest[:at].partition(":")
            if colon:
                rest = f"{user}:***{rest[at:]}"
        url = f"{scheme}{sep}{rest}"
    return _PASSWORD_SETTING.sub(lambda found: f"{found['key'] or found['kw']}***", url)


def open_store(url: str | None = None, *, clock: Clock | None = None, **options: Any) -> Store:
    """Open the backend a URL names, with the backend's *options*; raise
    `ConfigurationError` for a URL it cannot use.

    The store reads the time from *clock* (the system's by default; see `jobtrail.clock`)."""
    backend, target = parse_url(resolve_url(url))
    if clock is not None:
        options["clock"] = clock
    if backend == "sqlite":
        from jobtrail.store.sqlite import SQLiteStore

        return SQLiteStore(target, **options)
    if not all(importlib.util.find_spec(name) for name in ("psycopg", "psycopg_pool")):
        raise ConfigurationError(
            "PostgreSQL support needs the postgres extra: pip install 'jobtrail[postgres]'"
        )
    from jobtrail.store.postgres import PostgresStore

    return PostgresStore(target, **options)
