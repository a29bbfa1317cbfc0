"""Names every backend can store, and free text made storable."""

from __future__ import annotations

import pytest

from jobtrail.text import MAX_NAME, name_problem, storable


@pytest.mark.parametrize("name", ["charge", "send-email", "étape", "步骤", "a" * MAX_NAME])
def test_ordinary_names_pass(name: str) -> None:
    """Names in any script, up to the limit, have no problem."""
    assert name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "empty"),
        ("  \t", "empty"),
        ("a\x00b", "NUL"),
        ("é\x00", "NUL"),
        ("why" + chr(0xD800), "U+D800"),
        ("a" * (MAX_NAME + 1), "over the limit"),
        (7, "must be a str"),
        (None, "must be a str"),
    ],
)
def test_unstorable_names_are_named(name: object, problem: str) -> None:
    """Each kind of name that cannot be stored gets a reason that says which."""
    found = name_problem(name)
    assert found is not None and problem in found


def test_storable_escapes_only_what_cannot_be_stored() -> None:
    """NUL and lone surrogates are escaped; other text is returned as it was."""
    assert storable("a\x00b") == "a\\x00b"
    assert storable("é" + chr(0xDC80) + "x") == "é\\udc80x"
    text = "plain ünïcode"
    assert storable(text) is text
    assert storable("é" + chr(0xD800)).encode("utf-8") == "é\\ud800".encode()
