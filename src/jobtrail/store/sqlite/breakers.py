"""Circuit breakers on SQLite: read, and changed in one write transaction each (the policy
is `jobtrail.store.breakers`'s)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from jobtrail.store import breakers
from jobtrail.store.breakers import Action, BreakerRecord, BreakerSettings, columns, record
from jobtrail.store.sqlfiles import queries, steps
from jobtrail.store.sqlite.connection import Database, translated

_Q = queries("sqlite")
_APPLY = steps("sqlite", "breaker_apply")


class Breakers(Database):
    """`Store.breakers` and `Store.breaker_apply` on SQLite."""

    @translated
    def breakers(self, names: Sequence[str]) -> dict[str, BreakerRecord]:
        found = self._conn().execute(_Q["breakers"], {"names": json.dumps(list(names))})
        return {row[0]: record(row) for row in found.fetchall()}

    @translated
    def breaker_apply(self, name: str, action: Action,
                      settings: BreakerSettings) -> BreakerRecord:
        with self._write() as conn:
            now = self.clock.now()
            row = conn.execute(_APPLY["read"], {"name": name}).fetchone()
            before = record(row) if row is not None else BreakerRecord(name)
            after = breakers.apply(before, action, now, settings)
            conn.execute(_APPLY["write"], columns(after))
            attrs = breakers.change_attrs(before.state, after, action, self.actor)
            if attrs is not None:
                conn.execute(_APPLY["event"], {"name": after.state, "now": now, "attrs": attrs})
        return after

