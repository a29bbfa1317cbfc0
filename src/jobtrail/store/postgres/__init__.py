"""The PostgreSQL backend: a connection pool, one statement per batch, LISTEN/NOTIFY.

Every batch the worker's loop hands over (claim, heartbeat, finish) is one statement:
arrays travel as binary parameters and are expanded with ``unnest``, and the lifecycle
events are written by data-modifying CTEs of the same statement. Claiming reads partial
indexes that hold only waiting jobs, with ``FOR UPDATE SKIP LOCKED``, so workers never
block each other and the cost stays flat however many jobs have finished. Its SQL is in
``store/sql/postgres.sql``.

Unlike SQLite, the schema is not migrated on first use: run ``jobtrail db upgrade`` (or
pass ``auto_migrate=True``).

- `connection`: the pool, fork handling, each connection's settings;
- `schema`: the version and migrations, under an advisory lock;
- `watch`: the LISTEN connections (of idle workers, and of waiters);
- `values`: how batches and times travel;
- `producing`, `loop`, `limited`, `workflows`, `breakers`, `effects`, `encrypted`, `reading`,
  `operators`, `tokens`: the operations, by who calls them.
"""

from __future__ import annotations

from jobtrail.store.postgres.audit import Audit
from jobtrail.store.postgres.breakers import Breakers
from jobtrail.store.postgres.effects import Effects
from jobtrail.store.postgres.encrypted import Encrypted
from jobtrail.store.postgres.limited import LimitedClaims
from jobtrail.store.postgres.loop import WorkerLoop
from jobtrail.store.postgres.operators import Operators
from jobtrail.store.postgres.producing import Producing
from jobtrail.store.postgres.reading import Reading
from jobtrail.store.postgres.tokens import Tokens
from jobtrail.store.postgres.workflows import Workflows

__all__ = ["PostgresStore"]


class PostgresStore(Audit, Tokens, Workflows, Producing, WorkerLoop, LimitedClaims, Breakers,
                    Effects, Encrypted, Reading, Operators):
    """The `Store` contract on PostgreSQL (see the package docstring; the options are
    `Database`'s)."""

    # Writes on several connections proceed at once: a writer thread of its own pays off.
    concurrent_writes = True
