"""Circuit breakers on PostgreSQL: read, and changed with their row locked (the policy is
`jobtrail.store.breakers`'s)."""

from __future__ import annotations

from collections.abc import Sequence

from jobtrail.store import breakers
from jobtrail.store.breakers import Action, BreakerRecord, BreakerSettings, columns, record
from jobtrail.store.postgres.connection import Database, translated
from jobtrail.store.sqlfiles import queries, steps

_Q = queries("postgres")
_APPLY = steps("postgres", "breaker_apply")


class Breakers(Database):
    """`Store.breakers` and `Store.breaker_apply` on PostgreSQL."""

    @translated
    def breakers(self, names: Sequence[str]) -> dict[str, BreakerRecord]:
        return {row[0]: record(row) for row in self._fetch(_Q["breakers"], {"names": list(names)})}

    @translated
    def breaker_apply(self, name: str, action: Action,
                      settings: BreakerSettings) -> BreakerRecord:
        with self._tx() as conn:
            conn.execute(_APPLY["ensure"], {"name": name})
            row = conn.execute(_APPLY["read"], {"name": name}).fetchone()
            assert row is not None  # ensured above, in this transaction
            before = record(row)
            after = breakers.apply(before, action, row[6], settings)
            conn.execute(_APPLY["write"], columns(after))
            attrs = breakers.change_attrs(before.state, after, action, self.actor)
            if attrs is not None:
                conn.execute(_APPLY["event"], {"name": after.state, "attrs": attrs})
        return after
