"""Reading and rewriting the rows that hold encrypted values, on PostgreSQL
(`jobtrail.store.encrypted`)."""

from __future__ import annotations

from collections.abc import Sequence

from jobtrail.store.encrypted import EncryptedRow, Table, encrypted_row, rewrite_params
from jobtrail.store.postgres.connection import Database, translated
from jobtrail.store.sqlfiles import queries, steps

_Q = queries("postgres")
_REWRITE = steps("postgres", "rewrite_encrypted")
_READ: dict[Table, str] = {"jobs": _Q["encrypted_jobs"], "effects": _Q["encrypted_effects"],
                           "groups": _Q["encrypted_groups"],
                           "receipts": _Q["encrypted_receipts"]}


class Encrypted(Database):
    """`Store.encrypted_rows` and `Store.rewrite_encrypted` on PostgreSQL."""

    @translated
    def encrypted_rows(self, table: Table, after: int | str, limit: int) -> list[EncryptedRow]:
        found = self._fetch(_READ[table], {"after": after, "limit": limit})
        return [encrypted_row(table, tuple(row)) for row in found]

    @translated
    def rewrite_encrypted(self, rewrites: Sequence[tuple[EncryptedRow, tuple[str | None, ...]]],
                          attrs: str) -> int:
        with self._tx() as conn:
            changed = 0
            for row, values in rewrites:
                changed += conn.execute(_REWRITE[row.table], rewrite_params(row, values)).rowcount
            conn.execute(_Q["audit_keys_rotated"], {"attrs": attrs})
            return changed
