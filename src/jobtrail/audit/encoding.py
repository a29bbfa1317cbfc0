"""How rows and seals are written down to be hashed: the same bytes on every backend and
for anyone who checks an export without jobtrail.

**A row** of ``jobtrail_events`` is the JSON array (RFC 8785 canonical form, UTF-8)::

    [id, job_id, attempt, kind, name, at_us, duration_us, attrs, path, claim]

with ``id``, ``job_id`` and ``claim`` as decimal strings (they may pass 2^53), ``at_us``
the row's time in integer microseconds since the epoch, ``duration_us`` its duration in
integer microseconds (``floor(duration * 10^6 + 0.5)``, in IEEE doubles) or null, and
``attrs`` and ``path`` the stored JSON texts as strings, or null. Its digest is the first
32 hex digits (128 bits) of the SHA-256 of those bytes. On PostgreSQL the database makes
the digests (the view ``jobtrail_event_digests``), so sealing reads 40 bytes per row;
tests hold both ways, and the ``rfc8785`` package, to the same bytes.

**A seal** is the JSON object (RFC 8785)::

    {"covered": [["first id", "last id"], ...], "digests": "<32 hex per covered row>",
     "prev_hash": "<64 hex>", "sealed_at": "<ISO 8601, microseconds, UTC>", "seq": n,
     "through": "<the highest id looked through>", "waiting": [["id", "<ISO 8601 since>"], ...]}

and its hash the SHA-256 of the previous seal's hash (32 bytes; all zeros before the
first seal) followed by those bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import rfc8785

#: The hash before the first seal.
GENESIS = "0" * 64
#: Hex digits of a row's digest kept in a seal.
DIGEST_HEX = 32

#: A row as the stores read it: (id, job_id, attempt, kind, name, at in epoch µs,
#: duration in seconds or None, attrs, path, claim).
Row = tuple[int, int, int, str, str, int, float | None, str | None, str | None, int | None]
#: An event's id and its digest.
Digest = tuple[int, str]


def row_bytes(row: Row) -> bytes:
    """The canonical bytes of *row* (see the module docstring), written out by hand: a
    third of ``json.dumps``'s time, the same bytes (a test holds it to ``rfc8785``)."""
    event_id, job_id, attempt, kind, name, at_us, duration, attrs, path, claim = row
    return (f'["{int(event_id)}","{int(job_id)}",{int(attempt)},{_text(kind)},{_text(name)},'
            f'{int(at_us)},{"null" if duration is None else micros(duration)},'
            f'{"null" if attrs is None else _text(attrs)},'
            f'{"null" if path is None else _text(path)},'
            f'{"null" if claim is None else chr(34) + str(int(claim)) + chr(34)}]').encode()


def micros(seconds: float) -> int:
    """Seconds as integer microseconds, rounded half up (PostgreSQL computes the same)."""
    return math.floor(seconds * 1_000_000 + 0.5)


#: A string as JSON writes it without escaping what is not ASCII (RFC 8785's way).
_text = json.encoder.encode_basestring


def row_digest(row: Row) -> str:
    """The digest of *row* kept in its seal."""
    return hashlib.sha256(row_bytes(row)).hexdigest()[:DIGEST_HEX]


@dataclass(frozen=True, slots=True)
class Seal:
    """One link of the chain: the rows it covers (``covered``: id ranges, in order), a
    digest of each (``digests``: 32 hex digits per row, in id order), the highest id the
    chain has looked through (``through``: every id up to it is covered, by this seal or
    an earlier one, or waited for), the ids it waits for (``waiting``: id and since when,
    epoch seconds), and its hash."""

    seq: int
    sealed_at: float
    through: int
    covered: tuple[tuple[int, int], ...]
    waiting: tuple[tuple[int, float], ...]
    digests: str
    prev_hash: str
    hash: str

    def ids(self) -> Iterator[int]:
        """The ids of the rows it covers, in order."""
        for first, last in self.covered:
            yield from range(first, last + 1)

    def digest_of(self, index: int) -> str:
        """The digest of its *index*-th covered row."""
        return self.digests[index * DIGEST_HEX:(index + 1) * DIGEST_HEX]

    @property
    def count(self) -> int:
        return len(self.digests) // DIGEST_HEX

    def expected_hash(self) -> str:
        """Its hash recomputed from its fields."""
        return chain_hash(self.prev_hash, canonical(self))

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "sealed_at": moment(self.sealed_at), "through": str(self.through),
                "covered": [[str(a), str(b)] for a, b in self.covered],
                "waiting": [[str(i), moment(since)] for i, since in self.waiting],
                "digests": self.digests, "prev_hash": self.prev_hash, "hash": self.hash}


def make_seal(seq: int, sealed_at: float, through: int, covered: Sequence[tuple[int, int]],
              waiting: Sequence[tuple[int, float]], digests: str, prev_hash: str) -> Seal:
    """A seal with its hash computed."""
    unsealed = Seal(seq, sealed_at, through, tuple(covered), tuple(waiting), digests,
                    prev_hash, "")
    return Seal(seq, sealed_at, through, tuple(covered), tuple(waiting), digests, prev_hash,
                unsealed.expected_hash())


def canonical(seal: Seal) -> bytes:
    """The RFC 8785 bytes of *seal* that its hash covers."""
    body = seal.to_json()
    del body["hash"]
    return rfc8785.dumps(body)


def chain_hash(prev_hash: str, body: bytes) -> str:
    """SHA-256 of the previous hash's bytes followed by *body*."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + body).hexdigest()


def moment(epoch: float) -> str:
    """An epoch time as ISO 8601 with microseconds, UTC."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds")


def ranges(ids: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted distinct *ids* as inclusive ranges: 1 2 3 5 → (1, 3) (5, 5)."""
    found: list[tuple[int, int]] = []
    for event_id in sorted(set(ids)):
        if found and found[-1][1] == event_id - 1:
            found[-1] = (found[-1][0], event_id)
        else:
            found.append((event_id, event_id))
    return found


def covered_text(covered: Sequence[tuple[int, int]]) -> str:
    return json.dumps([[a, b] for a, b in covered], separators=(",", ":"))


def waiting_text(waiting: Sequence[tuple[int, float]]) -> str:
    return json.dumps([[i, since] for i, since in waiting], separators=(",", ":"))


def seal_from_row(row: Sequence[Any]) -> Seal:
    """A seal as stored: (seq, sealed_at, through, covered, waiting, digests, prev_hash,
    hash), its JSON columns read back; raises ValueError when damaged."""
    seq, sealed_at, through, covered, waiting, digests, prev_hash, hash_ = row
    try:
        spans = tuple((int(a), int(b)) for a, b in json.loads(covered))
        waits = tuple((int(i), float(since)) for i, since in json.loads(waiting))
        return Seal(int(seq), float(sealed_at), int(through), spans, waits, str(digests),
                    str(prev_hash), str(hash_))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"seal {seq} cannot be read: {exc}") from None
