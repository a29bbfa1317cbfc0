"""Signed notes and their Ed25519 keys, in the C2SP signed-note format.

A *signed note* is a UTF-8 text ending in a newline, a blank line, then one line per
signature: ``— <key name> <base64(key id ‖ signature)>`` (an em dash). The key id is the
first 4 bytes of SHA-256(key name ‖ "\\n" ‖ 0x01 ‖ public key), 0x01 naming Ed25519; the
signature is Ed25519 over the text. Keys are written as:

- the signing key: ``PRIVATE+KEY+<name>+<key id, 8 hex>+<base64(0x01 ‖ 32-byte seed)>``;
- the verifier key (public): ``<name>+<key id, 8 hex>+<base64(0x01 ‖ 32-byte key)>``.

So a checkpoint (`jobtrail.audit.checkpoints`) can be checked with any signed-note
verifier, and jobtrail's keys read by other tools of the format.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from jobtrail.errors import NoteError

ED25519 = b"\x01"
DASH = "\u2014"
_PRIVATE = "PRIVATE+KEY+"


def key_id(name: str, public: bytes) -> bytes:
    """The 4-byte id of a key: SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key), cut short."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public).digest()[:4]


def _check_name(name: str) -> str:
    if not name or any(c.isspace() or c == "+" or not c.isprintable() for c in name):
        raise NoteError(f"key name {name!r}: must be non-empty, without spaces, '+' or "
                        "control characters (say, example.com/billing-audit)")
    return name


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A public key that checks signatures: its name, id and Ed25519 key."""

    name: str
    id: bytes
    public: Ed25519PublicKey

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Read ``<name>+<id>+<base64 key>`` (`NoteError` when it is not one)."""
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("not a verifier key: expected <name>+<key id>+<key>, as "
                            "`jobtrail audit key` prints")
        name, hex_id, encoded = parts
        raw = _b64(encoded, "the verifier key")
        if len(raw) != 33 or raw[:1] != ED25519:
            raise NoteError("not an Ed25519 verifier key (its key is not 0x01 and 32 bytes)")
        public = Ed25519PublicKey.from_public_bytes(raw[1:])
        if hex_id.lower() != key_id(_check_name(name), raw[1:]).hex():
            raise NoteError(f"verifier key {name!r}: its id {hex_id} does not match its key "
                            "(the key text was changed)")
        return cls(name, bytes.fromhex(hex_id), public)

    def text(self) -> str:
        raw = self.public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return f"{self.name}+{self.id.hex()}+{base64.b64encode(ED25519 + raw).decode()}"

    def verify(self, text: str, signature: bytes) -> bool:
        try:
            self.public.verify(signature, text.encode())
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private key that signs notes."""

    name: str
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> SigningKey:
        return cls(_check_name(name), Ed25519PrivateKey.generate())

    @classmethod
    def parse(cls, text: str) -> SigningKey:
        """Read ``PRIVATE+KEY+<name>+<id>+<base64 seed>``; the error never quotes the key."""
        if not text.strip().startswith(_PRIVATE):
            raise NoteError("not a signing key: expected PRIVATE+KEY+<name>+<key id>+<key>, as "
                            "`jobtrail audit key --generate NAME` prints")
        parts = text.strip()[len(_PRIVATE):].split("+", 2)
        if len(parts) != 3:
            raise NoteError("not a signing key: expected PRIVATE+KEY+<name>+<key id>+<key>")
        name, hex_id, encoded = parts
        raw = _b64(encoded, "the signing key")
        if len(raw) != 33 or raw[:1] != ED25519:
            raise NoteError("not an Ed25519 signing key (its key is not 0x01 and 32 bytes)")
        key = cls(_check_name(name), Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if hex_id.lower() != key.verifier.id.hex():
            raise NoteError(f"signing key {name!r}: its id {hex_id} does not match its key "
                            "(the key text was changed)")
        return key

    @property
    def verifier(self) -> VerifierKey:
        public = self.private.public_key()
        return VerifierKey(self.name, key_id(self.name, public.public_bytes(
            Encoding.Raw, PublicFormat.Raw)), public)

    def text(self) -> str:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        seed = self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return (f"{_PRIVATE}{self.name}+{self.verifier.id.hex()}+"
                f"{base64.b64encode(ED25519 + seed).decode()}")

    def sign(self, text: str) -> str:
        """*text* (ending in a newline) as a signed note."""
        if not text.endswith("\n") or "\n\n" in text:
            raise NoteError("a note's text ends in one newline and has no blank line")
        signature = self.verifier.id + self.private.sign(text.encode())
        return f"{text}\n{DASH} {self.name} {base64.b64encode(signature).decode()}\n"

    def __repr__(self) -> str:  # never the key itself in a log or traceback
        return f"SigningKey(name={self.name!r})"


@dataclass(frozen=True, slots=True)
class Note:
    """A signed note read back: its text and its signatures (key name, key id, signature)."""

    text: str
    signatures: tuple[tuple[str, bytes, bytes], ...]

    @classmethod
    def parse(cls, note: str) -> Note:
        text, sep, lines = note.partition("\n\n")
        if not sep or not note.endswith("\n"):
            raise NoteError("not a signed note: no blank line before its signatures, or no "
                            "final newline")
        found = []
        for line in lines.rstrip("\n").split("\n"):
            head, _, rest = line.partition(" ")
            name, _, encoded = rest.partition(" ")
            if head != DASH or not name or not encoded:
                raise NoteError(f"not a signature line: {line[:60]!r}")
            raw = _b64(encoded, "a signature")
            if len(raw) != 68:
                raise NoteError(f"signature by {name!r} is {len(raw)} bytes, not 4 + 64")
            found.append((name, raw[:4], raw[4:]))
        return cls(text + "\n", tuple(found))

    def signed_by(self, key: VerifierKey) -> bool:
        """Whether a signature of *key* (its name and id) checks; False when none does."""
        return any(name == key.name and kid == key.id and key.verify(self.text, signature)
                   for name, kid, signature in self.signatures)


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not valid base64") from None
