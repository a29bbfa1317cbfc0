"""Signed checkpoints: a seal's number and hash, signed, to keep outside the database.

A checkpoint is a signed note (`jobtrail.audit.notes`) in the C2SP checkpoint layout::

    <origin: the signing key's name>
    <the seal's number>
    <the seal's hash, base64 of its 32 bytes>
    time <when the seal was made, ISO 8601 UTC>
    through <the highest event id the seal looked through>

    — <key name> <base64(key id ‖ Ed25519 signature)>

A seal's hash covers every seal before it (each names its predecessor's hash), so a
checkpoint of seal n vouches for seals 1..n and every event they cover: a trail rewritten
below n no longer reaches the checkpoint's hash, and a trail cut short before n no longer
has it. Workers sign one every `EVERY` seconds when the app has a signing key
(``App(audit_signing_key=...)`` or ``JOBTRAIL_AUDIT_SIGNING_KEY``), and store it in
``jobtrail_audit_checkpoints``; ``jobtrail audit checkpoint`` signs one now and prints it.
Its value is in leaving the database: an operator who can write to the database can
delete stored checkpoints, but not make a rewritten trail match one kept elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from typing import Any, Protocol

from jobtrail.audit.encoding import Seal, moment, seal_from_row
from jobtrail.audit.notes import Note, SigningKey, VerifierKey
from jobtrail.errors import ConfigurationError, NoteError

#: Seconds between two checkpoints a worker signs, at least.
EVERY = 300.0
#: Where the signing key is read from when the app is given none.
KEY_ENV = "JOBTRAIL_AUDIT_SIGNING_KEY"


class CheckpointStore(Protocol):
    """What checkpoints need of a `Store`."""

    def audit_head(self) -> tuple[Any, ...] | None: ...
    def audit_checkpoint_add(self, seq: int, note: str, made_at: float) -> bool: ...
    def audit_checkpoints(self, since: int, limit: int) -> list[tuple[int, str]]: ...
    def audit_now(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A checkpoint read back: whose, which seal, its hash (hex), and the whole note."""

    origin: str
    seq: int
    hash: str
    note: str

    @classmethod
    def parse(cls, note: str, key: VerifierKey | None = None) -> Checkpoint:
        """Read a checkpoint; with *key*, also check that *key* signed it (`NoteError`
        otherwise: forged, altered, or signed by another key)."""
        parsed = Note.parse(note)
        lines = parsed.text.rstrip("\n").split("\n")
        if len(lines) < 3 or not lines[1].isdigit():
            raise NoteError("not a checkpoint: expected an origin, a seal number and a hash "
                            "on its first three lines")
        try:
            raw = base64.b64decode(lines[2], validate=True)
        except (binascii.Error, ValueError):
            raise NoteError("not a checkpoint: its hash is not base64") from None
        if len(raw) != 32:
            raise NoteError(f"not a checkpoint: its hash is {len(raw)} bytes, not 32")
        checkpoint = cls(lines[0], int(lines[1]), raw.hex(), note)
        if key is not None and not parsed.signed_by(key):
            raise NoteError(f"checkpoint of seal {checkpoint.seq} is not signed by key "
                            f"{key.name!r} ({key.id.hex()}): forged, altered, or signed by "
                            "another key")
        return checkpoint


def text_of(origin: str, seal: Seal) -> str:
    """The checkpoint text (unsigned) of *seal*."""
    return (f"{origin}\n{seal.seq}\n{base64.b64encode(bytes.fromhex(seal.hash)).decode()}\n"
            f"time {moment(seal.sealed_at)}\nthrough {seal.through}\n")


def sign(seal: Seal, key: SigningKey) -> Checkpoint:
    """*seal*'s checkpoint, signed by *key* (whose name is the origin)."""
    return Checkpoint(key.name, seal.seq, seal.hash, key.sign(text_of(key.name, seal)))


def checkpoint(store: CheckpointStore, key: SigningKey) -> Checkpoint | None:
    """Sign the head seal and store its checkpoint (once per seal); None before any seal."""
    row = store.audit_head()
    if row is None:
        return None
    head = seal_from_row(row)
    made = sign(head, key)
    store.audit_checkpoint_add(made.seq, made.note, store.audit_now())
    return made


def stored(store: CheckpointStore, since: int = 1) -> list[Checkpoint]:
    """The checkpoints stored, from seal *since* on, read but not checked (a damaged one
    raises `NoteError`)."""
    found: list[Checkpoint] = []
    while True:
        page = store.audit_checkpoints(since, 500)
        for seq, note in page:
            made = Checkpoint.parse(note)
            if made.seq != seq:
                raise NoteError(f"the checkpoint stored for seal {seq} names seal {made.seq}")
            found.append(made)
        if len(page) < 500:
            return found
        since = page[-1][0] + 1


def signing_key(given: str | SigningKey | None) -> SigningKey | None:
    """The app's signing key: *given*, else ``JOBTRAIL_AUDIT_SIGNING_KEY``, else None. A key
    that cannot be read is a `ConfigurationError` that never quotes it."""
    if isinstance(given, SigningKey):
        return given
    where = "App(audit_signing_key=...)" if given is not None else KEY_ENV
    text = given if given is not None else os.environ.get(KEY_ENV)
    if text is None or (given is None and not text.strip()):
        return None
    if not isinstance(text, str):
        raise ConfigurationError(f"{where}: must be a str, as `jobtrail audit key --generate "
                                 f"NAME` prints, not {type(text).__name__}")
    try:
        return SigningKey.parse(text)
    except NoteError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None
