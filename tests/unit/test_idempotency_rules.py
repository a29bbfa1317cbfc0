"""The rules of idempotency keys, as properties over many generated payloads."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobtrail import App, IdempotencyConflict
from jobtrail.jobs import JobDef, hash_payload
from jobtrail.store import policy

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
payloads = st.fixed_dictionaries({"a": json_values, "b": json_values})


@pytest.fixture(scope="module")
def keyed_job() -> Iterator[JobDef[Any, Any]]:
    """A job taking two free-form arguments, on a real SQLite file shared by the examples."""
    with tempfile.TemporaryDirectory() as folder:
        app = App(f"sqlite:///{Path(folder) / 'keys.db'}")

        @app.job
        def sync(a: Any, b: Any) -> None:
            return None

        yield sync
        app.close()


@given(payloads)
def test_the_payload_hash_ignores_key_order(payload: dict[str, Any]) -> None:
    """Two dicts with the same items hash the same whatever their key order."""
    reordered = dict(reversed(list(payload.items())))
    assert hash_payload("sync", payload) == hash_payload("sync", reordered)


@given(payloads, payloads)
def test_the_payload_hash_tells_different_payloads_apart(first: dict[str, Any], second: dict[str, Any]) -> None:
    """Equal payloads hash equal; different payloads (as JSON) hash differently."""
    import json

    same = json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert (hash_payload("sync", first) == hash_payload("sync", second)) == same


@settings(max_examples=60, deadline=None)
@given(payloads, payloads)
def test_a_second_enqueue_dedupes_exactly_when_the_payload_is_the_same(
    keyed_job: JobDef[Any, Any], first: dict[str, Any], second: dict[str, Any]
) -> None:
    """Same key: same payload returns the first job; any other payload is a conflict."""
    key = f"k-{uuid.uuid4().hex}"
    original = keyed_job.enqueue(**first, idempotency_key=key)
    if hash_payload("sync", first) == hash_payload("sync", second):
        again = keyed_job.enqueue(**second, idempotency_key=key)
        assert again.id == original.id and again.deduplicated
    else:
        with pytest.raises(IdempotencyConflict):
            keyed_job.enqueue(**second, idempotency_key=key)


@given(
    finished_ago=st.none() | st.floats(0, 1000),
    retention=st.none() | st.floats(0, 1000),
    same_payload=st.booleans(),
)
def test_a_key_is_free_only_after_its_job_finished_longer_ago_than_the_retention(
    finished_ago: float | None, retention: float | None, same_payload: bool
) -> None:
    """Running jobs and kept keys always answer for their key; expired keys are free."""
    now = 10_000.0
    finished_at = None if finished_ago is None else now - finished_ago
    expired = finished_at is not None and retention is not None and finished_at + retention < now
    new_hash = "h" if same_payload else "other"
    if expired:
        assert policy.key_holder("k", new_hash, 7, "h", finished_at, now, retention) is None
    elif same_payload:
        assert policy.key_holder("k", new_hash, 7, "h", finished_at, now, retention) == 7
    else:
        with pytest.raises(IdempotencyConflict, match="belongs to job 7"):
            policy.key_holder("k", new_hash, 7, "h", finished_at, now, retention)
