"""The envelope of an encrypted value, the keyring and its key ids, and the keys' settings."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from jobtrail import App, ConfigurationError, DecryptionError
from jobtrail.encryption import MARKER, Keyring, derive, is_envelope, kids, sealed_kid

KEY = "k" * 32
OTHER = "x" * 40


def ring(*older: str, current: str = KEY) -> Keyring:
    return Keyring(derive(current), [derive(k) for k in older])


def sealed(value: Any, fields: frozenset[str] = frozenset({"card"})) -> dict[str, Any]:
    return ring().seal_payload("charge", {"card": value, "order": 7}, fields)


@pytest.mark.parametrize("value", ["4111", 42, 1.5, True, [1, "a"], {"n": {"m": None}}])
def test_values_of_every_json_type_come_back_as_they_were(value: Any) -> None:
    """The plaintext is the value's JSON: numbers, lists and dicts round-trip."""
    payload = sealed(value)
    assert is_envelope(payload["card"]) and payload["order"] == 7
    assert ring().open_payload("charge", json.loads(json.dumps(payload)), "job 1") == {
        "card": value, "order": 7}


def test_fields_at_any_depth_are_sealed_and_the_payload_stays_json() -> None:
    """A declared field nested in dicts and lists is sealed where it is."""
    payload = ring().seal_payload(
        "charge", {"orders": [{"card": "4111", "n": 1}], "card": None}, frozenset({"card"}))
    assert is_envelope(payload["orders"][0]["card"]) and payload["card"] is None
    assert "4111" not in json.dumps(payload)


def test_a_tampered_ciphertext_is_refused_naming_the_field() -> None:
    """A ciphertext with one byte changed does not decrypt: the error names field and key."""
    payload = sealed("4111")
    inner = payload["card"][MARKER]
    raw = bytearray(base64.urlsafe_b64decode(inner["ct"] + "=="))
    raw[0] ^= 1
    inner["ct"] = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(DecryptionError, match=r"field 'card'.*altered"):
        ring().open_payload("charge", payload, "job 1")


def test_a_ciphertext_moved_to_another_field_or_job_is_refused() -> None:
    """The associated data binds an envelope to its field's path and its job type."""
    payload = ring().seal_payload("charge", {"card": "4111", "pin": "1234"},
                                  frozenset({"card", "pin"}))
    swapped = {"card": payload["pin"], "pin": payload["card"]}
    with pytest.raises(DecryptionError, match="moved"):
        ring().open_payload("charge", swapped, "job 1")
    with pytest.raises(DecryptionError, match="moved"):
        ring().open_payload("refund", payload, "job 1")


def test_a_key_missing_from_the_keyring_is_named_by_its_id() -> None:
    """A value under a key the ring lacks names that key id and how to give it."""
    payload = sealed("4111")
    kid = derive(KEY).kid
    with pytest.raises(DecryptionError, match=rf"key id '{kid}', which is not in the keyring"):
        ring(current=OTHER).open_payload("charge", payload, "job 1")
    assert ring(KEY, current=OTHER).open_payload("charge", payload, "job 1")["card"] == "4111"


def test_reseal_moves_older_envelopes_to_the_current_key_only() -> None:
    """Resealing re-encrypts what an older key holds and counts it; twice finds nothing."""
    payload = sealed("4111")
    rotated = ring(KEY, current=OTHER)
    resealed, count = rotated.reseal_payload("charge", payload, "job 1")
    assert count == 1 and kids(resealed) == {derive(OTHER).kid}
    assert rotated.reseal_payload("charge", resealed, "job 1")[1] == 0
    assert ring(current=OTHER).open_payload("charge", resealed, "job 1")["card"] == "4111"


def test_sealed_texts_are_deterministic_and_open_only_in_their_context() -> None:
    """The same text seals to the same text (lookups work); another context refuses it."""
    text = ring().seal_text("mail-alice@example.com", "effect key")
    assert text == ring().seal_text("mail-alice@example.com", "effect key")
    assert sealed_kid(text) == derive(KEY).kid and "alice" not in text
    assert ring().open_text(text, "effect key", "a key") == "mail-alice@example.com"
    with pytest.raises(DecryptionError, match="altered"):
        ring().open_text(text, "idempotency key", "a key")


def test_the_key_id_is_stable_and_reveals_nothing_of_the_key() -> None:
    """A key id is 16 hex digits, the same for the same text, not a part of it."""
    kid = derive(KEY).kid
    assert kid == derive(KEY).kid != derive(OTHER).kid
    assert len(kid) == 16 and int(kid, 16) >= 0 and kid not in KEY


@pytest.mark.parametrize(("key", "says"), [
    ("short-key", "at least 32 characters long, got 9"),
    (b"k" * 40, "must be a str of at least 32 characters, got a bytes"),
])
def test_a_malformed_key_is_refused_when_the_app_is_made(key: Any, says: str) -> None:
    """A key too short or not a str is a `ConfigurationError` naming the setting, never
    quoting the key."""
    with pytest.raises(ConfigurationError, match="encryption_key") as caught:
        App("sqlite:///unused.db", encryption_key=key)
    assert says in str(caught.value) and "short-key" not in str(caught.value)
    with pytest.raises(ConfigurationError, match=r"old_encryption_keys\[0\]"):
        App("sqlite:///unused.db", encryption_key=KEY, old_encryption_keys=[key])


def test_keys_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``$JOBTRAIL_ENCRYPTION_KEY`` and the comma-separated
    ``$JOBTRAIL_OLD_ENCRYPTION_KEYS`` make the keyring when the app is given none."""
    monkeypatch.setenv("JOBTRAIL_ENCRYPTION_KEY", OTHER)
    monkeypatch.setenv("JOBTRAIL_OLD_ENCRYPTION_KEYS", f" {KEY} , {'z' * 32}")
    keyring = App("sqlite:///unused.db").keyring
    assert keyring is not None and keyring.current.kid == derive(OTHER).kid
    assert set(keyring.older) == {derive(KEY).kid, derive("z" * 32).kid}
    monkeypatch.setenv("JOBTRAIL_ENCRYPTION_KEY", "too-short")
    with pytest.raises(ConfigurationError, match=r"\$JOBTRAIL_ENCRYPTION_KEY"):
        App("sqlite:///unused.db")


def test_older_keys_without_a_current_one_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Older keys only decrypt: without a current key they are a `ConfigurationError`."""
    monkeypatch.delenv("JOBTRAIL_ENCRYPTION_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="older keys need a current one"):
        App("sqlite:///unused.db", old_encryption_keys=[KEY])
    assert App("sqlite:///unused.db").keyring is None
