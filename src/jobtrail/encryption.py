"""Secrets at rest: the values of a job's ``redact=`` fields, encrypted where they are stored.

With ``App(encryption_key=...)`` (or ``$JOBTRAIL_ENCRYPTION_KEY``), a text of at least
`MIN_KEY_LENGTH` characters, every producer replaces the value of each declared field of a
payload (at any depth, by the rule of `jobtrail.redaction`) with an *envelope*, a JSON
value, so the payload stays JSON::

    {"$jobtrail_encrypted": {"v": 1, "kid": "3f9c0a1b2c3d4e5f", "nonce": "...", "ct": "..."}}

``ct`` is AES-256-GCM of the JSON of the original value (so numbers, lists and dicts come
back as they were), under a random 96-bit ``nonce``; both base64. The associated data
binds it to the job type, the key id and the field's path in the payload: a ciphertext
copied into another field, another job type or another key id does not decrypt.

The AES keys come from the text with HKDF-SHA256; the key id (``kid``) is 16 hex digits
of another HKDF output of the same text: it names the key, and says nothing of it. A
`Keyring` holds the current key, which encrypts, and older ones, which only decrypt
(``old_encryption_keys=``, ``$JOBTRAIL_OLD_ENCRYPTION_KEYS``, comma-separated).

Texts that must be found again by value (an effect key, an idempotency or concurrency
key holding a sensitive value) are *sealed* instead: AES-SIV, deterministic, so the same
key seals to the same text and lookups still work (`seal_text`). ``jobtrail keys
rotate`` re-encrypts envelopes and sealed texts under the current key
(`jobtrail.rotation`).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from jobtrail.errors import ConfigurationError, DecryptionError

#: The one key of an envelope object.
MARKER = "$jobtrail_encrypted"
#: What a sealed text starts with; then the key id, ``:`` and the base64 of the ciphertext.
SEALED = "jobtrail:sealed:"
MIN_KEY_LENGTH = 32
#: What separates the keys of ``$JOBTRAIL_OLD_ENCRYPTION_KEYS``.
KEY_SEPARATOR = ","
KEY_ENV = "JOBTRAIL_ENCRYPTION_KEY"
OLD_KEYS_ENV = "JOBTRAIL_OLD_ENCRYPTION_KEYS"
_VERSION = 1
_SALT = b"jobtrail secrets at rest"
_NONCE_BYTES = 12


@dataclass(frozen=True)
class Key:
    """One encryption key: its id and the ciphers derived from its text."""

    kid: str
    aead: AESGCM = field(repr=False)
    siv: AESSIV = field(repr=False)


def derive(text: object, setting: str = "encryption_key") -> Key:
    """The `Key` of *text*; `ConfigurationError` naming *setting* when it is not a str of at
    least `MIN_KEY_LENGTH` characters (the message never quotes the key)."""
    if not isinstance(text, str):
        raise ConfigurationError(
            f"App({setting}=...): must be a str of at least {MIN_KEY_LENGTH} characters, got "
            f"a {type(text).__name__}")
    if len(text) < MIN_KEY_LENGTH:
        raise ConfigurationError(
            f"App({setting}=...): must be at least {MIN_KEY_LENGTH} characters long, got "
            f"{len(text)}; make one with: python -c \"import secrets; "
            "print(secrets.token_urlsafe(32))\"")
    material = _hkdf(text, b"jobtrail aes-256-gcm and aes-siv-512", 32 + 64)
    kid = _hkdf(text, b"jobtrail key id", 8).hex()
    return Key(kid, AESGCM(material[:32]), AESSIV(material[32:]))


def _hkdf(text: str, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=_SALT,
                info=info).derive(text.encode("utf-8"))


class Keyring:
    """The current key, which encrypts, and the older ones, which still decrypt."""

    __slots__ = ("by_kid", "current")

    def __init__(self, current: Key, older: Iterable[Key] = ()) -> None:
        self.current = current
        self.by_kid = {key.kid: key for key in older}
        self.by_kid[current.kid] = current

    @classmethod
    def configured(cls, key: str | None, old_keys: Sequence[str] | None,
                   environ: Mapping[str, str] = os.environ) -> Keyring | None:
        """The keyring of ``App(encryption_key=..., old_encryption_keys=...)``, each read
        from its environment variable when not given; ``None`` without a key."""
        setting = "encryption_key"
        if key is None and environ.get(KEY_ENV):
            key, setting = environ[KEY_ENV], f"encryption_key from ${KEY_ENV}"
        olds: list[object]
        if old_keys is None:
            olds = [k.strip() for k in environ.get(OLD_KEYS_ENV, "").split(KEY_SEPARATOR)
                    if k.strip()]
            old_setting = f"old_encryption_keys from ${OLD_KEYS_ENV}"
        elif isinstance(old_keys, str) or not isinstance(old_keys, Iterable):
            raise ConfigurationError(
                f"App(old_encryption_keys=...): must be a list of keys, got a "
                f"{type(old_keys).__name__}")
        else:
            olds, old_setting = list(old_keys), "old_encryption_keys"
        if key is None:
            if olds:
                raise ConfigurationError(
                    f"App({old_setting}=...): older keys need a current one "
                    f"(encryption_key= or ${KEY_ENV})")
            return None
        return cls(derive(key, setting), [derive(k, f"{old_setting}[{i}]")
                                          for i, k in enumerate(olds)])

    def key(self, kid: str, what: str) -> Key:
        """The key named *kid*; `DecryptionError` saying what needs it when none is."""
        found = self.by_kid.get(kid)
        if found is None:
            raise DecryptionError(
                f"{what} is encrypted under key id {kid!r}, which is not in the keyring "
                f"(current {self.current.kid!r}"
                + (f", older {', '.join(repr(k) for k in self.older)}" if self.older else "")
                + f"); give that key as encryption_key or in old_encryption_keys "
                f"(${OLD_KEYS_ENV})")
        return found

    @property
    def older(self) -> list[str]:
        """The ids of the keys that only decrypt."""
        return sorted(kid for kid in self.by_kid if kid != self.current.kid)

    # -- envelopes --------------------------------------------------------------------------
    def seal_value(self, value: Any, context: str) -> dict[str, Any]:
        """The envelope of JSON-able *value*, bound to *context*."""
        key = self.current
        nonce = os.urandom(_NONCE_BYTES)
        plain = json.dumps(value, separators=(",", ":"), allow_nan=False).encode("utf-8")
        ct = key.aead.encrypt(nonce, plain, _aad(key.kid, context))
        return {MARKER: {"v": _VERSION, "kid": key.kid, "nonce": _b64(nonce), "ct": _b64(ct)}}

    def open_value(self, envelope: Mapping[str, Any], context: str, what: str) -> Any:
        """The value *envelope* holds; `DecryptionError` naming *what* when it cannot."""
        inner = envelope.get(MARKER)
        if not isinstance(inner, Mapping) or not isinstance(inner.get("kid"), str):
            raise DecryptionError(f"{what} is not a readable envelope (no key id)")
        key = self.key(inner["kid"], what)
        try:
            nonce, ct = _unb64(inner["nonce"]), _unb64(inner["ct"])
            plain = key.aead.decrypt(nonce, ct, _aad(key.kid, context))
        except (InvalidTag, KeyError, TypeError, ValueError, binascii.Error):
            raise DecryptionError(
                f"{what} does not decrypt under key id {key.kid!r}: it was altered, or "
                "moved from another field, job or key") from None
        return json.loads(plain)

    def seal_payload(self, job_name: str, values: Mapping[str, Any],
                     fields: frozenset[str]) -> dict[str, Any]:
        """A copy of *values* with the value of every field in *fields* (at any depth) in
        an envelope bound to *job_name* and its path."""
        sealed = self._seal(values, fields, job_name, ())
        assert isinstance(sealed, dict)
        return sealed

    def _seal(self, value: Any, fields: frozenset[str], job_name: str,
              path: tuple[str | int, ...]) -> Any:
        if isinstance(value, Mapping):
            return {key: (self.seal_value(item, payload_context(job_name, (*path, key)))
                          if key in fields and item is not None
                          else self._seal(item, fields, job_name, (*path, key)))
                    for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._seal(item, fields, job_name, (*path, i))
                    for i, item in enumerate(value)]
        return value

    def open_payload(self, job_name: str, values: Any, what: str) -> Any:
        """A copy of *values* with every envelope in it opened (*what*: whose payload)."""
        return _walk(values, (), lambda envelope, path: self.open_value(
            envelope, payload_context(job_name, path), f"{what}, field {_shown(path)},"))

    def reseal_payload(self, job_name: str, values: Any, what: str) -> tuple[Any, int]:
        """*values* with every envelope not under the current key opened and sealed again,
        and how many were."""
        count = 0

        def reseal(envelope: Mapping[str, Any], path: tuple[str | int, ...]) -> Any:
            nonlocal count
            if envelope[MARKER].get("kid") == self.current.kid:
                return dict(envelope)
            context = payload_context(job_name, path)
            count += 1
            return self.seal_value(
                self.open_value(envelope, context, f"{what}, field {_shown(path)},"), context)

        return _walk(values, (), reseal), count

    # -- sealed texts -----------------------------------------------------------------------
    def seal_text(self, text: str, context: str) -> str:
        """*text* sealed deterministically (the same text and context, the same result)."""
        key = self.current
        ct = key.siv.encrypt(text.encode("utf-8"), [_aad(key.kid, context)])
        return f"{SEALED}{key.kid}:{_b64(ct)}"

    def open_text(self, sealed: str, context: str, what: str) -> str:
        """The text *sealed* holds; `DecryptionError` naming *what* when it cannot."""
        kid, _, body = sealed.removeprefix(SEALED).partition(":")
        key = self.key(kid, what)
        try:
            return key.siv.decrypt(_unb64(body), [_aad(kid, context)]).decode("utf-8")
        except (InvalidTag, ValueError, binascii.Error):
            raise DecryptionError(
                f"{what} does not decrypt under key id {kid!r}: it was altered") from None

    def seal_texts(self, text: str, context: str) -> list[str]:
        """*text* sealed under each key of the ring, the current one first (to find what
        was stored before a rotation)."""
        sealed = [self.seal_text(text, context)]
        for kid in self.older:
            key = self.by_kid[kid]
            ct = key.siv.encrypt(text.encode("utf-8"), [_aad(kid, context)])
            sealed.append(f"{SEALED}{kid}:{_b64(ct)}")
        return sealed


def payload_context(job_name: str, path: Sequence[str | int]) -> str:
    """What a payload field's envelope is bound to: the job type and the field's path."""
    return f"payload\0{job_name}\0{json.dumps(list(path), separators=(',', ':'))}"


def sealed_kid(text: str) -> str | None:
    """The key id of a sealed text; ``None`` for a text that is not sealed."""
    if not text.startswith(SEALED):
        return None
    return text[len(SEALED):].partition(":")[0]


def is_envelope(value: Any) -> bool:
    """True for an envelope (`Keyring.seal_value`)."""
    return isinstance(value, Mapping) and len(value) == 1 and isinstance(value.get(MARKER),
                                                                        Mapping)


def kids(value: Any) -> set[str]:
    """The key ids of the envelopes in JSON-like *value*."""
    found: set[str] = set()

    def note(envelope: Mapping[str, Any], _path: tuple[str | int, ...]) -> Any:
        found.add(str(envelope[MARKER].get("kid")))
        return envelope

    _walk(value, (), note)
    return found


def _walk(value: Any, path: tuple[str | int, ...], visit: Any) -> Any:
    """A copy of *value* with each envelope replaced by ``visit(envelope, path)``."""
    if isinstance(value, Mapping):
        if is_envelope(value):
            return visit(value, path)
        return {key: _walk(item, (*path, key), visit) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, (*path, i), visit) for i, item in enumerate(value)]
    return value


def _aad(kid: str, context: str) -> bytes:
    return f"jobtrail/{_VERSION}\0{kid}\0{context}".encode()


def _shown(path: Sequence[str | int]) -> str:
    return repr(".".join(str(part) for part in path))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
