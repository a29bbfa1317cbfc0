"""Access tokens on SQLite (`jobtrail.tokens`): created and revoked with their events in
one write transaction each, found by the hash of their text."""

from __future__ import annotations

from jobtrail.records import utc_from_epoch
from jobtrail.store.sqlfiles import queries, steps
from jobtrail.store.sqlite.connection import Database, translated
from jobtrail.store.tokens import (
    USE_RESOLUTION,
    TokenRecord,
    event_attrs,
    name_taken,
    not_live,
    token_record,
)

_Q = queries("sqlite")
_CREATE = steps("sqlite", "token_create")
_REVOKE = steps("sqlite", "token_revoke")
_FIND = steps("sqlite", "token_find")


class Tokens(Database):
    """`Store.token_create`, `token_revoke`, `tokens` and `token_find` on SQLite."""

    @translated
    def token_create(self, name: str, role: str, digest: str) -> TokenRecord:
        actor = self.actor
        with self._write() as conn:
            now = self.clock.now()
            row = conn.execute(_CREATE["token"], {
                "name": name, "role": role, "hash": digest, "now": now,
                "actor": actor}).fetchone()
            if row is None:
                raise name_taken(name)
            conn.execute(_CREATE["event"], {"now": now,
                                            "attrs": event_attrs(name, role, actor)})
        return token_record(row, utc_from_epoch)

    @translated
    def token_revoke(self, name: str) -> TokenRecord:
        actor = self.actor
        with self._write() as conn:
            now = self.clock.now()
            row = conn.execute(_REVOKE["revoke"], {"name": name, "now": now,
                                                   "actor": actor}).fetchone()
            if row is None:
                last = conn.execute(_REVOKE["revoked"], {"name": name}).fetchone()
                raise not_live(name, None if last is None else token_record(last,
                                                                            utc_from_epoch))
            conn.execute(_REVOKE["event"], {"now": now,
                                            "attrs": event_attrs(name, row[2], actor)})
        return token_record(row, utc_from_epoch)

    @translated
    def tokens(self) -> list[TokenRecord]:
        found = self._conn().execute(_Q["tokens"]).fetchall()
        return [token_record(row, utc_from_epoch) for row in found]

    @translated
    def token_find(self, digest: str) -> TokenRecord | None:
        row = self._conn().execute(_FIND["find"], {"hash": digest}).fetchone()
        if row is None:
            return None
        now = self.clock.now()
        if row[7] is None or row[7] < now - USE_RESOLUTION:
            with self._write() as conn:
                conn.execute(_FIND["touch"], {"id": row[0], "now": now,
                                              "stale_before": now - USE_RESOLUTION})
        return token_record(row, utc_from_epoch)
