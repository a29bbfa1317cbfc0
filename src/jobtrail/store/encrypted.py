"""Rows that hold values encrypted under an app's keys, as ``jobtrail keys rotate`` reads
and rewrites them (`jobtrail.rotation`): the same shapes on every backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Table = Literal["jobs", "effects", "groups", "receipts"]
#: Every table that may hold encrypted values, in the order a rotation goes through them.
TABLES: tuple[Table, ...] = ("jobs", "groups", "effects", "receipts")
#: What each table's rows are read after first: ids are numbers, keys texts.
FIRST: dict[Table, int | str] = {"jobs": 0, "groups": 0, "effects": "", "receipts": ""}


@dataclass(frozen=True, slots=True)
class EncryptedRow:
    """One row that may hold encrypted values.

    ``ident`` is its id (jobs, groups) or key (effects, receipts); ``name`` the job's name
    (jobs) or the effect's (effects); ``values`` the columns that may be encrypted: a job's
    payload, idempotency and concurrency keys; an effect's key and result; a group's
    ``then_calls`` and ``on_failure``; a receipt's idempotency key.
    """

    table: Table
    ident: int | str
    name: str | None
    values: tuple[str | None, ...]


def rewrite_params(row: EncryptedRow, values: tuple[str | None, ...]) -> dict[str, Any]:
    """The named parameters of step *row.table* of ``rewrite_encrypted``."""
    params: dict[str, Any] = {"ident": row.ident}
    for index, (old, new) in enumerate(zip(row.values, values, strict=True)):
        params[f"old{index}"] = old
        params[f"new{index}"] = new
    return params


def encrypted_row(table: Table, found: tuple[Any, ...]) -> EncryptedRow:
    """The row *found* by query ``encrypted_<table>``."""
    if table == "jobs":
        return EncryptedRow(table, found[0], found[1], tuple(found[2:5]))
    if table == "effects":
        return EncryptedRow(table, found[0], found[1], (found[0], found[2]))
    if table == "groups":
        return EncryptedRow(table, found[0], None, (found[1], found[2]))
    return EncryptedRow(table, found[0], None, (found[0],))
