"""Payload encoding: compact JSON, a byte limit, and errors that name the job."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobtrail.errors import ArgumentError, PayloadTooLarge
from jobtrail.payload import encode_payload, encode_result


def size_of(args: dict[str, Any]) -> int:
    """The UTF-8 size in bytes of the payload *args* encode to."""
    return len(encode_payload("probe", args, 10**9).encode("utf-8"))


def test_payload_is_compact_json_that_reads_back() -> None:
    """Arguments are stored as JSON without spaces and decode to the same data."""
    args = {"a": 1, "b": [1.5, "x", None, True], "c": {"d": {}}}
    text = encode_payload("job", args, 1_000)
    assert text == '{"a":1,"b":[1.5,"x",null,true],"c":{"d":{}}}'
    assert json.loads(text) == args


def test_tuples_are_stored_as_lists() -> None:
    """A tuple argument travels as a JSON array."""
    assert encode_payload("job", {"pair": (1, 2)}, 100) == '{"pair":[1,2]}'


def test_a_payload_exactly_at_the_limit_is_accepted() -> None:
    """The limit is inclusive: a payload of exactly *limit* bytes is stored."""
    args = {"s": "x" * 50}
    limit = size_of(args)
    assert encode_payload("job", args, limit)


def test_one_byte_over_the_limit_is_refused_naming_job_size_and_limit() -> None:
    """A payload one byte too large raises `PayloadTooLarge` saying by how much."""
    args = {"s": "x" * 50}
    size = size_of(args)
    with pytest.raises(PayloadTooLarge) as caught:
        encode_payload("upload", args, size - 1)
    message = str(caught.value)
    assert f"job 'upload': payload is {size} bytes, over the limit of {size - 1}" in message
    assert "max_payload_bytes" in message


def test_large_sizes_are_written_with_thousands_separators() -> None:
    """Sizes in the message are readable: 1,000,008 rather than 1000008."""
    with pytest.raises(PayloadTooLarge, match="payload is 1,000,008 bytes, over the limit of "
                       "1,000,000"):
        encode_payload("big", {"s": "x" * 1_000_000}, 1_000_000)


@pytest.mark.parametrize("text", ["é" * 40, "日本語テキスト" * 5, "🎉" * 10, "a\u0000b"])
def test_non_ascii_is_counted_in_utf8_bytes_of_the_stored_text(text: str) -> None:
    """The limit counts the UTF-8 bytes of what is stored, not characters."""
    args = {"s": text}
    stored = encode_payload("job", args, 10**6)
    size = len(stored.encode("utf-8"))
    assert encode_payload("job", args, size) == stored
    with pytest.raises(PayloadTooLarge, match=f"payload is {size} bytes, over the limit of "
                       f"{size - 1}"):
        encode_payload("job", args, size - 1)
    assert json.loads(stored) == args


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ({1, 2}, "set is not JSON serializable"),
        (object(), "object is not JSON serializable"),
        (b"bytes", "bytes is not JSON serializable"),
        (math.nan, "Out of range float values are not JSON compliant"),
        (math.inf, "Out of range float values are not JSON compliant"),
        ([1, {"deep": -math.inf}], "Out of range float values are not JSON compliant"),
    ],
)
def test_values_json_cannot_carry_are_argument_errors(value: Any, detail: str) -> None:
    """Sets, objects, bytes and NaN/infinity raise `ArgumentError` naming the job."""
    with pytest.raises(ArgumentError) as caught:
        encode_payload("report", {"x": value}, 10**6)
    message = str(caught.value)
    assert message.startswith("job 'report': arguments cannot be stored as JSON")
    assert detail in message
    assert isinstance(caught.value, TypeError)


@pytest.mark.parametrize("key", [1, 2.5, True, None])
def test_dicts_with_non_str_keys_are_refused_not_rewritten(key: Any) -> None:
    """JSON would silently turn ``{1: x}`` into ``{"1": x}``; the job must not get other data."""
    with pytest.raises(ArgumentError, match=rf"job 'j': .*dict key {key!r} is a "
                       rf"{type(key).__name__}; JSON object keys are str"):
        encode_payload("j", {"x": [{"ok": {key: "v"}}]}, 10**6)


def test_circular_values_are_argument_errors() -> None:
    """A list containing itself cannot be encoded and says so."""
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ArgumentError, match="Circular reference"):
        encode_payload("j", {"x": loop}, 10**6)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=15,
)


@given(st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=4))
def test_json_values_round_trip_and_respect_their_own_size(args: dict[str, Any]) -> None:
    """Any JSON value is stored, reads back equal, and fits a limit of exactly its size."""
    stored = encode_payload("j", args, 10**7)
    assert json.loads(stored) == args
    assert encode_payload("j", args, len(stored.encode("utf-8"))) == stored


def test_results_are_compact_json() -> None:
    """A job's return value is encoded like its arguments."""
    assert encode_result({"total": 3, "items": [1, 2]}) == '{"total":3,"items":[1,2]}'


def test_results_that_are_not_json_raise_type_error() -> None:
    """A return value JSON cannot carry raises `TypeError` explaining what to return."""
    with pytest.raises(TypeError, match="return value cannot be stored as JSON"):
        encode_result({1, 2})
