"""The embedded SQLite backend: one database file, WAL mode, any number of processes.

Writes take the database's single write lock with ``BEGIN IMMEDIATE`` and hold it for
one short batched transaction. Idle workers notice new work by polling
``PRAGMA data_version`` (a read of shared memory, no disk I/O) every few milliseconds,
and at once when the job was enqueued in their own process. Its SQL is in
``store/sql/sqlite.sql``.

- `connection`: the file as this process uses it (connections, write lock, identity);
- `schema`: its version and migrations;
- `watch`: the ``PRAGMA data_version`` poller;
- `producing`, `loop`, `limited`, `workflows`, `breakers`, `effects`, `encrypted`, `reading`,
  `operators`, `tokens`: the operations, by who calls them.
"""

from __future__ import annotations

from jobtrail.store.sqlite.audit import Audit
from jobtrail.store.sqlite.breakers import Breakers
from jobtrail.store.sqlite.effects import Effects
from jobtrail.store.sqlite.encrypted import Encrypted
from jobtrail.store.sqlite.limited import LimitedClaims
from jobtrail.store.sqlite.loop import WorkerLoop
from jobtrail.store.sqlite.operators import Operators
from jobtrail.store.sqlite.producing import Producing
from jobtrail.store.sqlite.reading import Reading
from jobtrail.store.sqlite.tokens import Tokens
from jobtrail.store.sqlite.workflows import Workflows

__all__ = ["SQLiteStore"]


class SQLiteStore(Audit, Tokens, Workflows, Producing, WorkerLoop, LimitedClaims, Breakers,
                  Effects, Encrypted, Reading, Operators):
    """The `Store` contract on a SQLite file (see the package docstring; the options are
    `Database`'s)."""

    # Writers take turns on the file's one lock: a writer thread of its own gains nothing.
    concurrent_writes = False
