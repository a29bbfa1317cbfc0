"""`Store.job_id_by_key`: which job holds an idempotency key (run on both backends)."""

from __future__ import annotations

from jobtrail.store import Store
from jobtrail.store.base import NewJob


def test_the_job_holding_a_key_is_found_and_an_unknown_key_is_none(store: Store) -> None:
    """A keyed job is found by its key, to the letter; a key no job holds gives None."""
    (plain,) = store.enqueue([NewJob("noop", "default", "{}", 1)])
    (keyed,) = store.enqueue([NewJob("noop", "default", "{}", 1, idempotency_key="order-7")])
    assert store.job_id_by_key("order-7") == keyed != plain
    assert store.job_id_by_key("order-") is None and store.job_id_by_key("ORDER-7") is None
