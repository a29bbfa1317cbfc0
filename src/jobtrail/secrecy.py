"""What a job with ``redact=`` fields stores of its secrets when the app has an encryption
key (`jobtrail.encryption`), besides its payload's envelopes:

- a key the store finds again by value (an idempotency, concurrency or effect key) that
  holds a sensitive value is *sealed*, deterministically (`sealed_key`);
- an effect's result that holds one is stored in an envelope bound to its effect key, and
  opened when a later attempt replays the effect (`effect_result`, `opened_result`);
- a payload is opened for the worker right before the job runs (`opened_payload`).

A step result that holds one is not stored at all (`jobtrail.redaction`), with or without
a key: the step runs again on the next attempt.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from jobtrail.encryption import MARKER, Keyring, is_envelope, kids
from jobtrail.errors import DecryptionError
from jobtrail.redaction import Redactor

IDEMPOTENCY_KEY = "idempotency key"
CONCURRENCY_KEY = "concurrency key"
EFFECT_KEY = "effect key"


def sealed_key(redactor: Redactor | None, key: str | None, context: str) -> str | None:
    """*key* as stored: sealed when the app has a keyring and *key* holds a sensitive
    value of the attempt, as it is otherwise."""
    if key is None or redactor is None or redactor.keyring is None:
        return key
    if redactor.text(key) == key:
        return key
    return redactor.keyring.seal_text(key, context)


def sealed_keys(redactor: Redactor | None, key: str, context: str) -> Sequence[str]:
    """*key* as stored under each key of the ring, the current one first: how to find what
    an attempt stored before the keys were rotated. Just *key* when it is not sealed."""
    if redactor is None or redactor.keyring is None or redactor.text(key) == key:
        return (key,)
    return redactor.keyring.seal_texts(key, context)


def effect_result(redactor: Redactor | None, key: str, text: str | None) -> str | None:
    """An effect's JSON result *text* as stored: in an envelope bound to the effect's *key*
    when it holds a sensitive value and the app has a keyring."""
    if text is None or redactor is None or redactor.keyring is None:
        return text
    value = json.loads(text)
    if redactor.value(value) == value:
        return text
    envelope = redactor.keyring.seal_value(value, result_context(key))
    return json.dumps(envelope, separators=(",", ":"))


def opened_result(keyring: Keyring | None, name: str, key: str, text: str) -> Any:
    """The value of the stored result *text* of effect *name* (its unsealed *key*), opened
    when it is an envelope."""
    value = json.loads(text)
    if not is_envelope(value):
        return value
    what = f"the stored result of effect {name!r}"
    if keyring is None:
        raise DecryptionError(f"{what} is encrypted and this worker has no encryption key")
    return keyring.open_value(value, result_context(key), what)


def opened_payload(keyring: Keyring | None, job_id: int, job_name: str, text: str,
                   values: Any) -> Any:
    """The arguments of the job's payload *values* (its JSON *text*), its envelopes opened;
    `DecryptionError` naming the job and the key id when one cannot be."""
    if MARKER not in text:
        return values
    return opened_values(keyring, f"job {job_id} ({job_name}): its payload", job_name, values)


def opened_values(keyring: Keyring | None, what: str, job_name: str, values: Any) -> Any:
    """*values*, the decoded payload of a job *job_name*, with its envelopes opened;
    `DecryptionError` naming *what* and the key id when one cannot be."""
    if keyring is None:
        needed = ", ".join(repr(kid) for kid in sorted(kids(values)))
        if not needed:
            return values
        raise DecryptionError(
            f"{what} holds values encrypted under key id {needed}, and this worker has no "
            "encryption key (App(encryption_key=...) or $JOBTRAIL_ENCRYPTION_KEY)")
    return keyring.open_payload(job_name, values, what)


def result_context(key: str) -> str:
    """What the envelope of an effect's result is bound to: its (unsealed) key."""
    return f"effect result\0{key}"
