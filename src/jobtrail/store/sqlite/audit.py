"""The audit trail's seals and the rows they cover, on SQLite (`jobtrail.audit`)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from jobtrail.audit.encoding import Digest, Row, Seal, row_digest
from jobtrail.store.audit import (
    SealRow,
    prune_batch,
    pruned_attrs,
    rows_from_seconds,
    seal_columns,
)
from jobtrail.store.sqlfiles import queries, steps
from jobtrail.store.sqlite.connection import Database, translated

_Q = queries("sqlite")
_DIGESTS = steps("sqlite", "audit_digests_after")
_HISTORY = steps("sqlite", "prune_history")
_PRUNE = steps("sqlite", "audit_prune")


class Audit(Database):
    """`Store.audit_*` on SQLite."""

    @translated
    def audit_head(self) -> SealRow | None:
        row = self._conn().execute(_Q["audit_head"]).fetchone()
        return None if row is None else tuple(row)

    @translated
    def audit_seals(self, since: int, limit: int) -> list[SealRow]:
        found = self._conn().execute(_Q["audit_seals"], {"since": since, "limit": limit})
        return [tuple(row) for row in found.fetchall()]

    @translated
    def audit_append(self, seal: Seal) -> bool:
        with self._write() as conn:
            return conn.execute(_Q["audit_append"], seal_columns(seal)).fetchone() is not None

    @translated
    def audit_pending(self, after: int, waiting: Sequence[int], limit: int) -> list[Digest]:
        conn = self._conn()
        found = conn.execute(_DIGESTS["after"], {"after": after, "limit": limit}).fetchall()
        if waiting:
            found += conn.execute(_DIGESTS["waited"], {"ids": json.dumps(list(waiting))}).fetchall()
        return [(row[0], row_digest(row)) for row in rows_from_seconds(found)]

    @translated
    def audit_digests(self, first: int, last: int) -> list[Digest]:
        found = self._conn().execute(_Q["audit_digests_between"], {"first": first, "last": last})
        return [(row[0], row_digest(row)) for row in rows_from_seconds(found.fetchall())]

    @translated
    def audit_rows(self, first: int, last: int) -> list[Row]:
        found = self._conn().execute(_Q["audit_between"], {"first": first, "last": last})
        return rows_from_seconds(found.fetchall())

    @translated
    def audit_now(self) -> float:
        return self.clock.now()

    @translated
    def audit_checkpoint_add(self, seq: int, note: str, made_at: float) -> bool:
        with self._write() as conn:
            return conn.execute(_Q["audit_checkpoint_add"], {
                "seq": seq, "note": note, "made_at": made_at}).fetchone() is not None

    @translated
    def audit_checkpoints(self, since: int, limit: int) -> list[tuple[int, str]]:
        found = self._conn().execute(_Q["audit_checkpoints"], {"since": since, "limit": limit})
        return [(int(seq), str(note)) for seq, note in found.fetchall()]

    @translated
    def audit_prune(self, before: int) -> int:
        with self._write() as conn:
            removed = conn.execute(_PRUNE["seals"], {"before": before}).rowcount
            conn.execute(_PRUNE["checkpoints"], {"before": before})
            conn.execute(_PRUNE["event"], {"now": self.clock.now(),
                                           "attrs": pruned_attrs(before, removed, self.actor)})
        return int(removed)

    @translated
    def prune_history(self, before: float, limit: int) -> tuple[int, int]:
        with self._write() as conn:
            return prune_batch(conn, _HISTORY, before, limit, self.actor, json.dumps,
                               {"now": self.clock.now()})

    @translated
    def audit_pruned(self) -> list[tuple[int, str]]:
        return [(int(i), str(a)) for i, a in self._conn().execute(_Q["audit_pruned"]).fetchall()]

    @translated
    def audit_record(self, name: str, attrs: str) -> None:
        with self._write() as conn:
            conn.execute(_Q["audit_record"], {"name": name, "now": self.clock.now(),
                                              "attrs": attrs})
