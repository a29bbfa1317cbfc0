"""Access tokens on PostgreSQL (`jobtrail.tokens`): created and revoked with their events
in one transaction each, found by the hash of their text."""

from __future__ import annotations

from jobtrail.store.postgres.connection import Database, translated
from jobtrail.store.postgres.values import to_time
from jobtrail.store.sqlfiles import queries, steps
from jobtrail.store.tokens import (
    USE_RESOLUTION,
    TokenRecord,
    event_attrs,
    name_taken,
    not_live,
    token_record,
)

_Q = queries("postgres")
_CREATE = steps("postgres", "token_create")
_REVOKE = steps("postgres", "token_revoke")


class Tokens(Database):
    """`Store.token_create`, `token_revoke`, `tokens` and `token_find` on PostgreSQL."""

    @translated
    def token_create(self, name: str, role: str, digest: str) -> TokenRecord:
        actor = self.actor
        with self._tx() as conn:
            row = conn.execute(_CREATE["token"], {
                "name": name, "role": role, "hash": digest, "actor": actor}).fetchone()
            if row is None:
                raise name_taken(name)
            conn.execute(_CREATE["event"], {"attrs": event_attrs(name, role, actor)})
        return token_record(row, to_time)

    @translated
    def token_revoke(self, name: str) -> TokenRecord:
        actor = self.actor
        with self._tx() as conn:
            row = conn.execute(_REVOKE["revoke"], {"name": name, "actor": actor}).fetchone()
            if row is None:
                last = conn.execute(_REVOKE["revoked"], {"name": name}).fetchone()
                raise not_live(name, None if last is None else token_record(last, to_time))
            conn.execute(_REVOKE["event"], {"attrs": event_attrs(name, row[2], actor)})
        return token_record(row, to_time)

    @translated
    def tokens(self) -> list[TokenRecord]:
        return [token_record(row, to_time) for row in self._fetch(_Q["tokens"])]

    @translated
    def token_find(self, digest: str) -> TokenRecord | None:
        found = self._fetch(_Q["token_find"], {"hash": digest, "resolution": USE_RESOLUTION})
        return token_record(found[0], to_time) if found else None
