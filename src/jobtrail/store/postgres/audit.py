"""The audit trail's seals and the rows they cover, on PostgreSQL (`jobtrail.audit`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from jobtrail.audit.encoding import Digest, Row, Seal
from jobtrail.store.audit import SealRow, prune_batch, pruned_attrs, seal_columns
from jobtrail.store.postgres.connection import Database, translated
from jobtrail.store.sqlfiles import queries, steps

_Q = queries("postgres")
_DIGESTS = steps("postgres", "audit_digests_after")
_HISTORY = steps("postgres", "prune_history")
_PRUNE = steps("postgres", "audit_prune")


class Audit(Database):
    """`Store.audit_*` on PostgreSQL."""

    @translated
    def audit_head(self) -> SealRow | None:
        found = self._fetch(_Q["audit_head"])
        return found[0] if found else None

    @translated
    def audit_seals(self, since: int, limit: int) -> list[SealRow]:
        return self._fetch(_Q["audit_seals"], {"since": since, "limit": limit})

    @translated
    def audit_append(self, seal: Seal) -> bool:
        return bool(self._fetch(_Q["audit_append"], seal_columns(seal)))

    @translated
    def audit_pending(self, after: int, waiting: Sequence[int], limit: int) -> list[Digest]:
        found = self._fetch(_DIGESTS["after"], {"after": after, "limit": limit})
        if waiting:
            found += self._fetch(_DIGESTS["waited"], {"ids": list(waiting)})
        return cast("list[Digest]", found)

    @translated
    def audit_digests(self, first: int, last: int) -> list[Digest]:
        return cast("list[Digest]",
                    self._fetch(_Q["audit_digests_between"], {"first": first, "last": last}))

    @translated
    def audit_rows(self, first: int, last: int) -> list[Row]:
        return cast("list[Row]", self._fetch(_Q["audit_between"], {"first": first, "last": last}))

    @translated
    def audit_now(self) -> float:
        return float(self._fetch(_Q["audit_now"])[0][0])

    @translated
    def audit_checkpoint_add(self, seq: int, note: str, made_at: float) -> bool:
        return bool(self._fetch(_Q["audit_checkpoint_add"], {
            "seq": seq, "note": note, "made_at": made_at}))

    @translated
    def audit_checkpoints(self, since: int, limit: int) -> list[tuple[int, str]]:
        found = self._fetch(_Q["audit_checkpoints"], {"since": since, "limit": limit})
        return [(int(seq), str(note)) for seq, note in found]

    @translated
    def audit_prune(self, before: int) -> int:
        with self._tx() as conn:
            removed = conn.execute(_PRUNE["seals"], {"before": before}).rowcount
            conn.execute(_PRUNE["checkpoints"], {"before": before})
            conn.execute(_PRUNE["event"], {"attrs": pruned_attrs(before, removed, self.actor)})
        return int(removed)

    @translated
    def prune_history(self, before: float, limit: int) -> tuple[int, int]:
        with self._tx() as conn:
            return prune_batch(conn, _HISTORY, before, limit, self.actor, list, {})

    @translated
    def audit_pruned(self) -> list[tuple[int, str]]:
        return [(int(i), str(a)) for i, a in self._fetch(_Q["audit_pruned"])]

    @translated
    def audit_record(self, name: str, attrs: str) -> None:
        self._fetch(_Q["audit_record"], {"name": name, "attrs": attrs})
