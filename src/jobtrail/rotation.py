"""Rotating the encryption keys: every stored value under an older key of the keyring,
encrypted again under the current one (``jobtrail keys rotate``).

The rotation reads the rows that may hold encrypted values (`jobtrail.store.encrypted`),
table by table in batches, decrypts every value of a batch not under the current key and
encrypts it again; then it writes the batch in one transaction, with an event on job 0
(``keys`` ``rotated``: who, the table, how many rows, from which key ids to which) that
the audit trail seals. A value under a key id the keyring lacks, or one that was altered,
stops it before its batch is written (`DecryptionError`): the batches before it stay
rotated, and running it again, once the key is given, goes on. A row changed between the
read and the write (a job that finished, a group that was decided) is left as it is and
counted: the next rotation takes it. Running it again finds nothing more to do.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jobtrail.encryption import MARKER, Keyring, is_envelope, kids, sealed_kid
from jobtrail.secrecy import CONCURRENCY_KEY, EFFECT_KEY, IDEMPOTENCY_KEY, result_context
from jobtrail.store.base import Store
from jobtrail.store.encrypted import FIRST, TABLES, EncryptedRow

DEFAULT_BATCH = 500
Values = tuple[str | None, ...]


@dataclass
class RotationReport:
    """What a rotation did: rows read and re-encrypted per table, values re-encrypted, rows
    left because they changed meanwhile, and the key ids it read from and wrote to."""

    current: str
    read: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    rotated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    values: int = 0
    changed_meanwhile: int = 0
    old_kids: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {"current_kid": self.current, "from_kids": sorted(self.old_kids),
                "rows_read": self.read, "rows_reencrypted": self.rotated,
                "values_reencrypted": self.values,
                "changed_meanwhile": self.changed_meanwhile}


def rotate(store: Store, keyring: Keyring, *, batch: int = DEFAULT_BATCH,
           progress: Callable[[str, RotationReport], None] | None = None) -> RotationReport:
    """Re-encrypt under the current key every value of *store* under an older one; see the
    module docstring. *progress* is told after each batch."""
    report = RotationReport(keyring.current.kid)
    for table in TABLES:
        after = FIRST[table]
        while rows := store.encrypted_rows(table, after, batch):
            after = rows[-1].ident
            report.read[table] += len(rows)
            rewrites: list[tuple[EncryptedRow, Values]] = []
            from_kids: set[str] = set()
            count = 0
            for row in rows:
                rotation = _Rotation(keyring)
                values = rotation.row(row)
                if rotation.count:
                    rewrites.append((row, values))
                    count += rotation.count
                    from_kids |= rotation.from_kids
            if rewrites:
                attrs = json.dumps({"actor": store.actor, "table": table, "rows": len(rewrites),
                                    "values": count, "from": sorted(from_kids),
                                    "to": keyring.current.kid})
                changed = store.rewrite_encrypted(rewrites, attrs)
                report.rotated[table] += changed
                report.changed_meanwhile += len(rewrites) - changed
                report.values += count
                report.old_kids |= from_kids
            if progress is not None:
                progress(table, report)
    return report


class _Rotation:
    """The new values of one row, and how many of its values were re-encrypted."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self.count = 0
        self.from_kids: set[str] = set()

    def row(self, row: EncryptedRow) -> Values:
        if row.table == "jobs":
            payload, idempotency, concurrency = row.values
            what = f"job {row.ident} ({row.name})"
            assert payload is not None and row.name is not None
            return (self.payload(row.name, payload, what),
                    self.text(idempotency, IDEMPOTENCY_KEY, f"{what}: its idempotency key"),
                    self.text(concurrency, CONCURRENCY_KEY, f"{what}: its concurrency key"))
        if row.table == "effects":
            key, result = row.values
            assert key is not None
            what = f"effect {row.name!r}"
            plain = (key if sealed_kid(key) is None
                     else self.keyring.open_text(key, EFFECT_KEY, f"the key of {what}"))
            return (self.text(key, EFFECT_KEY, f"the key of {what}"),
                    self.result(plain, result, f"the result of {what}"))
        if row.table == "groups":
            then_calls, on_failure = row.values
            assert then_calls is not None
            what = f"workflow {row.ident}"
            calls = [self.call(call, what) for call in json.loads(then_calls)]
            return (json.dumps(calls) if self.count else then_calls,
                    None if on_failure is None
                    else self.rewritten(on_failure, lambda: json.dumps(
                        self.call(json.loads(on_failure), what))))
        (key,) = row.values
        return (self.text(key, IDEMPOTENCY_KEY, "an idempotency key of a receipt"),)

    def rewritten(self, old: str, new: Callable[[], str]) -> str:
        """*new()* when it re-encrypted something, else *old* as it was."""
        before = self.count
        made = new()
        return made if self.count > before else old

    def payload(self, job_name: str, text: str, what: str) -> str:
        values = json.loads(text)
        resealed, count = self.keyring.reseal_payload(job_name, values, f"{what}: its payload")
        if not count:
            return text
        self.count += count
        self.from_kids |= kids(values) - {self.keyring.current.kid}
        return json.dumps(resealed, separators=(",", ":"))

    def call(self, call: dict[str, Any], what: str) -> dict[str, Any]:
        """A workflow's stored call (`jobtrail.store.workflows.call_json`), re-encrypted."""
        name = str(call.get("job_name"))
        where = f"{what}, call of {name}"
        return {**call,
                "payload": self.payload(name, call["payload"], where),
                "idempotency_key": self.text(call.get("idempotency_key"), IDEMPOTENCY_KEY,
                                             f"{where}: its idempotency key"),
                "concurrency_key": self.text(call.get("concurrency_key"), CONCURRENCY_KEY,
                                             f"{where}: its concurrency key")}

    def text(self, text: str | None, context: str, what: str) -> str | None:
        kid = None if text is None else sealed_kid(text)
        if text is None or kid is None or kid == self.keyring.current.kid:
            return text
        self.count += 1
        self.from_kids.add(kid)
        return self.keyring.seal_text(self.keyring.open_text(text, context, what), context)

    def result(self, plain_key: str, text: str | None, what: str) -> str | None:
        if text is None:
            return None
        value = json.loads(text)
        if not is_envelope(value):
            return text
        kid = value[MARKER].get("kid")
        if kid == self.keyring.current.kid:
            return text
        self.count += 1
        self.from_kids.add(str(kid))
        context = result_context(plain_key)
        opened = self.keyring.open_value(value, context, what)
        return json.dumps(self.keyring.seal_value(opened, context), separators=(",", ":"))
