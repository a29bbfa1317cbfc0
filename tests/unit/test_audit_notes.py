"""Signed notes and their keys (`jobtrail.audit.notes`): the C2SP signed-note format, byte
for byte with the format's published example, and every bad key or note refused with a
clear error that never quotes a private key."""

from __future__ import annotations

import pytest

from jobtrail import App
from jobtrail.audit.checkpoints import KEY_ENV, signing_key
from jobtrail.audit.notes import Note, SigningKey, VerifierKey
from jobtrail.errors import ConfigurationError, NoteError

# The example key and note of the signed-note format's reference implementation.
VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
TEXT = ("If you think cryptography is the answer to your problem,\n"
        "then you don't know what your problem is.\n")
SIGNED = (TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1"
          "FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")


def test_the_reference_example_signs_and_verifies_byte_for_byte() -> None:
    """The reference signing key signs the reference text into the reference note, and its
    verifier key reads back to the same text."""
    key = SigningKey.parse(SKEY)
    assert key.sign(TEXT) == SIGNED
    assert key.verifier.text() == VKEY and key.text() == SKEY
    assert Note.parse(SIGNED).signed_by(VerifierKey.parse(VKEY))


def test_an_altered_note_or_another_key_does_not_verify() -> None:
    """Changing one character of the text, or checking with another key of the same name,
    fails the signature."""
    verifier = VerifierKey.parse(VKEY)
    assert not Note.parse(SIGNED.replace("answer", "Answer")).signed_by(verifier)
    other = SigningKey.generate("PeterNeumann")
    assert not Note.parse(other.sign(TEXT)).signed_by(verifier)
    assert Note.parse(other.sign(TEXT)).signed_by(other.verifier)


@pytest.mark.parametrize(("text", "says"), [
    ("nonsense", "not a verifier key"),
    ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
    ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegw", "not an Ed25519"),
    ("PeterNeumann+c74f20a3+!!!!", "not valid base64"),
])
def test_a_bad_verifier_key_is_refused_with_what_is_wrong(text: str, says: str) -> None:
    """Garbage, a changed id, a short key and bad base64 each name what is wrong."""
    with pytest.raises(NoteError, match=says):
        VerifierKey.parse(text)


def test_a_bad_signing_key_never_appears_in_its_error() -> None:
    """A signing key with a changed id is refused without quoting the key, and its repr
    never shows it either."""
    changed = SKEY.replace("c74f20a3", "c74f20a4")
    with pytest.raises(NoteError, match="does not match its key") as caught:
        SigningKey.parse(changed)
    assert "AYEKFALVFGyN" not in str(caught.value)
    assert "AYEKFALVFGyN" not in repr(SigningKey.parse(SKEY))
    with pytest.raises(ConfigurationError, match=r"App\(audit_signing_key=...\): not a signing"):
        App("sqlite:///unused.db", audit_signing_key="PRIVATE+key")


@pytest.mark.parametrize("note", [
    TEXT,  # no signatures
    TEXT + "\nPeterNeumann x08go\n",  # no dash
    TEXT + "\n\u2014 PeterNeumann AAAA\n",  # too short
    SIGNED.rstrip("\n"),  # no final newline
])
def test_a_damaged_note_is_refused(note: str) -> None:
    """A note without a blank line, a signature line of the wrong form or length, or no
    final newline cannot be read."""
    with pytest.raises(NoteError):
        Note.parse(note)


def test_key_names_with_spaces_or_plus_are_refused() -> None:
    """A key name is one printable word without '+': it is a field of the key texts."""
    for name in ("", "two words", "a+b", "tab\there"):
        with pytest.raises(NoteError, match="key name"):
            SigningKey.generate(name)


def test_the_signing_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a key given, JOBTRAIL_AUDIT_SIGNING_KEY is read; an empty one means none."""
    monkeypatch.setenv(KEY_ENV, SKEY)
    made = signing_key(None)
    assert made is not None and made.verifier.text() == VKEY
    monkeypatch.setenv(KEY_ENV, "  ")
    assert signing_key(None) is None
    monkeypatch.setenv(KEY_ENV, "garbage")
    with pytest.raises(ConfigurationError, match=KEY_ENV):
        signing_key(None)
