"""The tokens part of the store contract, on both backends: created and revoked with their
events in one transaction, refused without writing anything, found by hash, their last
use moved forward at most once a minute."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from jobtrail.clock import ManualClock
from jobtrail.errors import TokenError, TokenNotFound
from jobtrail.store import Store
from jobtrail.store.tokens import USE_RESOLUTION
from tests.support import rawsql

ALICE = "a" * 64
BOB = "b" * 64


def access_events(db_url: str) -> list[tuple[Any, ...]]:
    """(job id, attempt, name, attrs) of every event of kind ``access``, in order."""
    return [(row[0], row[1], row[2], json.loads(row[3])) for row in rawsql.fetch(
        db_url, "SELECT job_id, attempt, name, attrs FROM jobtrail_events "
        "WHERE kind = 'access' ORDER BY id")]


def table_size(db_url: str) -> tuple[int, int]:
    """How many tokens and events are stored."""
    ((tokens,),) = rawsql.fetch(db_url, "SELECT count(*) FROM jobtrail_tokens")
    ((events,),) = rawsql.fetch(db_url, "SELECT count(*) FROM jobtrail_events")
    return tokens, events


def test_a_created_token_is_listed_with_its_creator_and_recorded_on_job_0(
        store: Store, db_url: str) -> None:
    """``token_create`` stores a live token created by the store's actor and writes a
    ``token_created`` event of job 0 naming it, its role and the actor."""
    store.actor = "os:carol"
    record = store.token_create("alice", "operator", ALICE)
    assert (record.name, record.role, record.live) == ("alice", "operator", True)
    assert record.created_by == "os:carol" and record.revoked_at is None
    assert record.created_at.tzinfo is not None and record.last_used_at is None
    assert store.tokens() == [record]
    assert access_events(db_url) == [
        (0, 0, "token_created", {"name": "alice", "role": "operator", "actor": "os:carol"})]


def test_a_store_without_an_actor_records_none(store: Store, db_url: str) -> None:
    """With no actor set, the token has no creator and the event no ``actor``."""
    store.token_create("alice", "viewer", ALICE)
    assert store.tokens()[0].created_by is None
    assert access_events(db_url)[0][3] == {"name": "alice", "role": "viewer"}


def test_a_second_live_token_of_a_name_is_refused_and_nothing_is_written(
        store: Store, db_url: str) -> None:
    """Creating a token under a live token's name raises TokenError naming it, and adds
    neither a token nor an event."""
    store.token_create("alice", "operator", ALICE)
    before = table_size(db_url)
    with pytest.raises(TokenError, match="a live token is already named 'alice'"):
        store.token_create("alice", "admin", BOB)
    assert table_size(db_url) == before


def test_a_revoked_token_stops_being_found_and_frees_its_name(
        store: Store, db_url: str) -> None:
    """``token_revoke`` marks the token revoked by the actor with a ``token_revoked``
    event; it is no longer found, and its name can be given to a new token."""
    store.actor = "os:carol"
    store.token_create("alice", "operator", ALICE)
    assert store.token_find(ALICE) is not None
    store.actor = "os:dave"
    revoked = store.token_revoke("alice")
    assert revoked.live is False and revoked.revoked_by == "os:dave"
    assert revoked.revoked_at is not None and revoked.revoked_at >= revoked.created_at
    assert store.token_find(ALICE) is None
    again = store.token_create("alice", "viewer", BOB)
    assert [(r.name, r.role, r.live) for r in store.tokens()] == [
        ("alice", "operator", False), ("alice", "viewer", True)]
    assert store.token_find(BOB) == again
    assert [e[2:] for e in access_events(db_url)] == [
        ("token_created", {"name": "alice", "role": "operator", "actor": "os:carol"}),
        ("token_revoked", {"name": "alice", "role": "operator", "actor": "os:dave"}),
        ("token_created", {"name": "alice", "role": "viewer", "actor": "os:dave"})]


def test_revoking_an_unknown_or_revoked_name_is_refused_and_writes_nothing(
        store: Store, db_url: str) -> None:
    """TokenNotFound says whether the name never existed or was revoked already (when and
    by whom); no row changes."""
    with pytest.raises(TokenNotFound, match="no token is named 'ghost'"):
        store.token_revoke("ghost")
    store.actor = "os:carol"
    store.token_create("alice", "operator", ALICE)
    store.token_revoke("alice")
    before = table_size(db_url), rawsql.fetch(db_url, "SELECT * FROM jobtrail_tokens")
    with pytest.raises(TokenNotFound, match=r"token 'alice' is already revoked \(at "
                       r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC by os:carol\)"):
        store.token_revoke("alice")
    assert (table_size(db_url), rawsql.fetch(db_url, "SELECT * FROM jobtrail_tokens")) == before


def test_an_unknown_hash_finds_nothing(store: Store) -> None:
    """``token_find`` of a hash no token has is None."""
    store.token_create("alice", "operator", ALICE)
    assert store.token_find(BOB) is None


def test_the_last_use_moves_forward_at_most_once_a_minute(
        store: Store, clock: ManualClock) -> None:
    """The first find records the use; finds within `USE_RESOLUTION` seconds leave it;
    a find after that moves it forward. Each find returns the token as it was before."""
    store.token_create("alice", "operator", ALICE)
    first = store.token_find(ALICE)
    assert first is not None and first.last_used_at is None
    (used,) = [r.last_used_at for r in store.tokens()]
    assert used is not None
    clock.advance(USE_RESOLUTION / 2)
    found = store.token_find(ALICE)
    assert found is not None and found.last_used_at == used
    assert store.tokens()[0].last_used_at == used
    clock.advance(USE_RESOLUTION)
    store.token_find(ALICE)
    later = store.tokens()[0].last_used_at
    assert later is not None and (later - used).total_seconds() >= USE_RESOLUTION


def test_the_table_holds_the_hash_given_and_the_list_never_shows_it(
        store: Store, db_url: str) -> None:
    """The stored hash is the digest given; no field of a listed record holds it."""
    store.token_create("alice", "operator", ALICE)
    assert rawsql.fetch(db_url, "SELECT hash FROM jobtrail_tokens") == [(ALICE,)]
    (record,) = store.tokens()
    assert ALICE not in repr(record)


def test_concurrent_creations_of_one_name_make_one_token(store: Store, db_url: str) -> None:
    """Of concurrent creations under one name exactly one succeeds, with one event; the
    others get TokenError."""
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def create(n: int) -> None:
        start.wait(5)
        try:
            store.token_create("alice", "operator", f"{n:064x}")
            outcomes.append("created")
        except TokenError:
            outcomes.append("refused")

    threads = [threading.Thread(target=create, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes) == ["created", "refused", "refused", "refused"]
    assert table_size(db_url)[0] == 1 and len(access_events(db_url)) == 1
