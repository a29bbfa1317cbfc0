"""The audit trail on both backends: events sealed into a hash chain, verified, and every
kind of tampering done in SQL behind jobtrail's back — an event edited, deleted, inserted,
two swapped; a seal edited, deleted, damaged, two reordered — named by `verify`."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobtrail.audit import Problem, Seal, verify
from jobtrail.audit.encoding import GENESIS, row_bytes, row_digest, seal_from_row
from jobtrail.audit.sealer import Sealer
from jobtrail.audit.sealing import MAX_SPAN, WAIT, seal, seal_all
from jobtrail.clock import ManualClock
from jobtrail.records import Status
from jobtrail.store import Store, open_store
from jobtrail.store.base import NewJob, Outcome
from tests.conftest import _pg_admin
from tests.support import rawsql

WORKER = "w-audit"


def run_jobs(store: Store, count: int) -> None:
    """Enqueue, claim and finish *count* jobs: a few events each."""
    store.enqueue([NewJob("j", "default", f'{{"n":{n}}}', 3) for n in range(count)])
    claimed = store.claim(WORKER, None, count, 30.0)
    store.finish(WORKER, [Outcome(job.id, job.attempt, Status.SUCCEEDED, result="1",
                                  claim=job.claim, duration=0.001) for job in claimed])


def event_ids(db_url: str) -> list[int]:
    return [row[0] for row in rawsql.fetch(db_url, "SELECT id FROM jobtrail_events ORDER BY id")]


def test_sealed_events_verify_and_each_is_covered_once(store: Store, db_url: str) -> None:
    """Seals chain from the genesis hash, cover every event once, in order, and verify;
    with nothing new, no seal is appended."""
    run_jobs(store, 20)
    assert seal_all(store) == 1
    run_jobs(store, 5)
    assert seal(store) is not None and seal(store) is None
    verdict = verify(store)
    everything = event_ids(db_url)  # (a new SQLite file's first: its migrations)
    assert verdict.ok and verdict.seals == 2 and verdict.events == len(everything)
    assert len(everything) >= 25 * 3
    first, second = (head_of_seq(store, 1), head_of_seq(store, 2))
    assert first.prev_hash == GENESIS and second.prev_hash == first.hash
    assert list(first.ids()) + list(second.ids()) == everything


def head_of_seq(store: Store, seq: int) -> Seal:
    return seal_from_row(store.audit_seals(seq, 1)[0])


def problem_of(store: Store) -> Problem:
    """The problem `verify` finds (the test fails when it finds none)."""
    problem = verify(store).problem
    assert problem is not None, "verify found nothing wrong"
    return problem


def test_verify_names_an_edited_event(store: Store, db_url: str) -> None:
    """An event whose name is changed in SQL is named, with the seal that covers it."""
    run_jobs(store, 10)
    seal_all(store)
    rawsql.execute(db_url, "UPDATE jobtrail_events SET name = 'succeeded' WHERE id = 7")
    verdict = verify(store)
    assert verdict.problem is not None
    assert (verdict.problem.kind, verdict.problem.event_id, verdict.problem.seq) == (
        "event_altered", 7, 1)


def test_verify_names_a_deleted_event(store: Store, db_url: str) -> None:
    """An event deleted in SQL is named as removed."""
    run_jobs(store, 10)
    seal_all(store)
    rawsql.execute(db_url, "DELETE FROM jobtrail_events WHERE id = 12")
    verdict = verify(store)
    assert verdict.problem is not None
    assert (verdict.problem.kind, verdict.problem.event_id) == ("event_removed", 12)


def test_verify_names_two_swapped_events(store: Store, db_url: str) -> None:
    """Two events whose contents are swapped (reordered) are found: the first is named."""
    run_jobs(store, 10)
    seal_all(store)
    rawsql.execute(db_url, "UPDATE jobtrail_events SET job_id = CASE id WHEN 3 THEN 4 "
                   "ELSE 3 END WHERE id IN (3, 4)")
    verdict = verify(store)
    assert verdict.problem is not None
    assert (verdict.problem.kind, verdict.problem.event_id) == ("event_altered", 3)


def test_verify_names_an_event_inserted_where_the_trail_stopped_waiting(
        store: Store, db_url: str, clock: ManualClock, backend: str) -> None:
    """An id missing when a seal was made is waited for; once the wait is over, a row
    that turns up with that id was inserted afterwards, and is named."""
    run_jobs(store, 10)
    row = rawsql.fetch(db_url, "SELECT job_id, attempt, kind, name, at FROM jobtrail_events "
                       "WHERE id = 15")[0]
    rawsql.execute(db_url, "DELETE FROM jobtrail_events WHERE id = 15")  # as if rolled back
    waiting = seal(store)
    assert waiting is not None and [i for i, _ in waiting.waiting] == [15]
    clock.advance(WAIT + 1)
    run_jobs(store, 1)
    later = seal(store)
    assert later is not None and later.waiting == ()
    assert verify(store).ok
    overriding = " OVERRIDING SYSTEM VALUE" if backend == "postgres" else ""
    rawsql.execute(db_url, "INSERT INTO jobtrail_events (id, job_id, attempt, kind, name, at)"
                   f"{overriding} VALUES (?, ?, ?, ?, ?, ?)", (15, *row))
    verdict = verify(store)
    assert verdict.problem is not None
    assert (verdict.problem.kind, verdict.problem.event_id) == ("event_inserted", 15)


def test_a_row_committed_late_is_sealed_by_a_later_seal(store: Store, db_url: str) -> None:
    """A missing id that turns up while it is waited for (a transaction that committed
    after later ones) is covered by the next seal, and the trail verifies."""
    run_jobs(store, 10)
    row = rawsql.fetch(db_url, "SELECT * FROM jobtrail_events WHERE id = 9")[0]
    columns = [c[0] for c in rawsql.fetch(
        db_url, "SELECT column_name FROM information_schema.columns WHERE table_name = "
        "'jobtrail_events' ORDER BY ordinal_position")] if db_url.startswith("postgres") else None
    rawsql.execute(db_url, "DELETE FROM jobtrail_events WHERE id = 9")
    first = seal(store)
    assert first is not None and [i for i, _ in first.waiting] == [9]
    if columns is None:
        rawsql.execute(db_url, f"INSERT INTO jobtrail_events VALUES ({', '.join('?' * len(row))})",
                       tuple(row))
    else:
        rawsql.execute(db_url, f"INSERT INTO jobtrail_events ({', '.join(columns)}) OVERRIDING "
                       f"SYSTEM VALUE VALUES ({', '.join('?' * len(row))})", tuple(row))
    late = seal(store)
    assert late is not None and list(late.ids()) == [9] and late.waiting == ()
    assert verify(store).ok


def test_verify_names_an_edited_a_deleted_and_a_reordered_seal(store: Store, db_url: str) -> None:
    """A seal whose fields are edited, one deleted from the middle, and two whose places
    are swapped are each named."""
    for _ in range(3):
        run_jobs(store, 3)
        seal(store)
    rawsql.execute(db_url, "UPDATE jobtrail_audit SET sealed_at = sealed_at + 1 WHERE seq = 2")
    assert problem_of(store).kind == "seal_altered"
    rawsql.execute(db_url, "UPDATE jobtrail_audit SET sealed_at = sealed_at - 1 WHERE seq = 2")
    assert verify(store).ok
    rawsql.execute(db_url, "UPDATE jobtrail_audit SET seq = seq + 10 WHERE seq IN (1, 2)")
    rawsql.execute(db_url, "UPDATE jobtrail_audit SET seq = 1 WHERE seq = 12")
    rawsql.execute(db_url, "UPDATE jobtrail_audit SET seq = 2 WHERE seq = 11")
    swapped = problem_of(store)
    assert (swapped.kind, swapped.seq) == ("seal_out_of_order", 1)
    for seq in (1, 2):  # back in their places
        rawsql.execute(db_url, f"UPDATE jobtrail_audit SET seq = {seq + 10} WHERE seq = {3 - seq}")
    rawsql.execute(db_url, "UPDATE jobtrail_audit SET seq = seq - 10 WHERE seq > 10")
    assert verify(store).ok
    rawsql.execute(db_url, "DELETE FROM jobtrail_audit WHERE seq = 2")
    missing = problem_of(store)
    assert (missing.kind, missing.seq) == ("seal_missing", 2)


def test_a_damaged_seal_is_named_not_a_crash(store: Store, db_url: str) -> None:
    """A seal whose JSON column was overwritten with garbage is reported as damaged."""
    run_jobs(store, 3)
    seal(store)
    rawsql.execute(db_url, "UPDATE jobtrail_audit SET covered = 'not json' WHERE seq = 1")
    problem = problem_of(store)
    assert (problem.kind, problem.seq) == ("seal_damaged", 1)


def test_concurrent_sealers_keep_one_chain(db_url: str, store: Store) -> None:
    """Four threads sealing while events are written append one linear chain: every event
    covered exactly once, and it verifies."""
    stop = threading.Event()
    stores = [open_store(db_url) for _ in range(4)]

    def sealing(own: Store) -> None:
        while not stop.is_set():
            seal(own, batch=7)

    threads = [threading.Thread(target=sealing, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    try:
        for _ in range(15):
            run_jobs(store, 4)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
        for own in stores:
            own.close()
    seal_all(store)
    covered: list[int] = []
    for row in store.audit_seals(1, 10_000):
        covered.extend(seal_from_row(row).ids())
    assert sorted(covered) == covered == event_ids(db_url)
    assert verify(store).ok


texts = st.text(st.characters(codec="utf-8"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(ids=st.tuples(*[st.integers(0, 2**63 - 1)] * 2), attempt=st.integers(0, 10**6),
       kind=texts, name=texts, at_us=st.integers(0, 2**53 - 1),
       duration=st.none() | st.floats(0, 10**6, allow_nan=False),
       attrs=st.none() | texts, path=st.none() | texts,
       claim=st.none() | st.integers(-(2**63), 2**63 - 1))
def test_row_bytes_match_rfc8785_for_any_row(
        ids: tuple[int, int], attempt: int, kind: str, name: str, at_us: int,
        duration: float | None, attrs: str | None, path: str | None, claim: int | None) -> None:
    """Whatever the text (control characters, quotes, any script) and numbers, a row's
    bytes are exactly its RFC 8785 canonical JSON."""
    import rfc8785

    row = (ids[0], ids[1], attempt, kind, name, at_us, duration, attrs, path, claim)
    expected = rfc8785.dumps([str(ids[0]), str(ids[1]), attempt, kind, name, at_us,
                              None if duration is None else round(duration * 1_000_000),
                              attrs, path, None if claim is None else str(claim)])
    assert row_bytes(row) == expected


def test_row_bytes_are_rfc8785(store: Store) -> None:
    """The bytes a row is hashed as are its RFC 8785 canonical JSON, hostile text
    included (quotes, control characters, non-ASCII)."""
    import rfc8785

    row = (2**62, 7, 1, "lifecycle", 'na"me\n\t\x01é😀', 1_796_497_291_036_159, 0.0001016,
           '{"k": "v"}', None, 2**63 - 1)
    expected = rfc8785.dumps([str(2**62), "7", 1, "lifecycle", 'na"me\n\t\x01é😀',
                              1_796_497_291_036_159, 102, '{"k": "v"}', None, str(2**63 - 1)])
    assert row_bytes(row) == expected


def test_an_open_transaction_is_waited_for_then_sealed_late(pg_url: str) -> None:
    """PostgreSQL, many writers: an enqueue whose transaction stays open while others
    commit and are sealed leaves its event's id missing; the seal waits for it, and once
    it commits, the next seal covers it. No commit waited for the chain."""
    import psycopg

    from tests.conftest import _empty_pg

    _empty_pg(pg_url)
    store = open_store(pg_url)
    try:
        with psycopg.connect(pg_url) as conn:
            with conn.transaction():
                (pending,) = store.enqueue([NewJob("j", "default", "{}", 3)], connection=conn)
                run_jobs(store, 5)  # committed meanwhile, with ids after the open one's
                first = seal(store)
                assert first is not None
                missing = [i for i, _ in first.waiting]
                assert len(missing) == 1 and missing[0] not in set(first.ids())
            late = seal(store)
            assert late is not None and list(late.ids()) == missing and late.waiting == ()
        assert verify(store).ok
        assert store.get(pending).status is Status.QUEUED
    finally:
        store.close()


HOSTILE = ['na"me\n\t\x01é😀\\', "", " ", "\x7f\u2028\u00a0", "x" * 3000, '{"a": [1, "b"]}']


def test_the_database_and_python_make_the_same_digests(store: Store, db_url: str) -> None:
    """The digests the store makes (in SQL on PostgreSQL) are those Python makes of the
    same rows, for hostile text, long text, no duration and durations on a half microsecond."""
    (job_id,) = store.enqueue([NewJob("j", "default", "{}", 3)])
    durations = [None, 0.0, 0.0000005, 0.0000015, 2.5e-6, 123.4567895, 1e-9]
    for n, text in enumerate(HOSTILE * 2):
        rawsql.execute(db_url, "INSERT INTO jobtrail_events (job_id, attempt, kind, name, at, "
                       "duration, attrs, path, claim) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (job_id, n, text, text[::-1],
                        "2026-12-05 12:00:00.123456+00" if "postgres" in db_url
                        else 1796479200.123456, durations[n % len(durations)],
                        None if n % 3 == 0 else text, None if n % 2 else text,
                        None if n % 4 == 0 else -(2**63) + n))
    rows = store.audit_rows(0, 10**9)
    assert len(rows) >= len(HOSTILE) * 2
    assert store.audit_digests(0, 10**9) == [(row[0], row_digest(row)) for row in rows]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_schema_migrations_are_events_of_the_trail(backend: str, tmp_path: Path,
                                                   request: pytest.FixtureRequest) -> None:
    """Migrating a new database writes one event of no job, ``migrated``, naming the
    versions applied, in the migrations' transaction; the trail seals it."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        base = request.getfixturevalue("pg_url").rsplit("/", 1)[0]
        name = f"jobtrail_fresh_{os.getpid()}"
        with _pg_admin() as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {name}")
        url = f"{base}/{name}"
    store = open_store(url)
    try:
        applied = store.migrate()
        assert store.migrate() == []  # nothing more: no second event
        found = rawsql.fetch(url, "SELECT job_id, kind, name, attrs FROM jobtrail_events")
        assert [(j, k, n) for j, k, n, _ in found] == [(0, "audit", "migrated")]
        assert json.loads(found[0][3]) == {"versions": applied, "to": applied[-1]}
        assert seal(store) is not None and verify(store).ok
    finally:
        store.close()
        if backend == "postgres":
            with _pg_admin() as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_sequence_moved_far_on_is_sealed_without_waiting_for_every_id(
        store: Store, db_url: str, backend: str) -> None:
    """Events whose ids jump by a billion (a sequence moved on by hand) are sealed at once:
    the seal waits for at most `MAX_SPAN` missing ids, and the trail verifies."""
    run_jobs(store, 2)
    far = max(event_ids(db_url)) + 10**9
    overriding = " OVERRIDING SYSTEM VALUE" if backend == "postgres" else ""
    rawsql.execute(db_url, "INSERT INTO jobtrail_events (id, job_id, attempt, kind, name, at)"
                   f"{overriding} VALUES (?, 1, 0, 'lifecycle', 'note', ?)",
                   (far, "2026-12-05 12:00:00+00" if backend == "postgres" else 1796479200.0))
    made = seal(store)
    assert made is not None and made.through == far
    assert 0 < len(made.waiting) <= MAX_SPAN
    assert verify(store).ok


def test_a_submission_records_the_payloads_hash_and_who_never_the_payload(
        store: Store, db_url: str) -> None:
    """Each ``enqueued`` event carries the SHA-256 of the payload as stored and the actor
    when there is one — the same text on both backends, for one job or a batch."""
    payload = '{"card":"4111-1111","amount":12}'
    digest = hashlib.sha256(payload.encode()).hexdigest()
    (alone,) = store.enqueue([NewJob("charge", "default", payload, 3)])
    store.actor = "token:alice"
    batch = store.enqueue([NewJob("charge", "default", payload, 3) for _ in range(2)])
    keyed = store.enqueue([NewJob("charge", "default", payload, 3, idempotency_key="k1",
                                  payload_hash="h")])
    found = dict(rawsql.fetch(db_url, "SELECT job_id, attrs FROM jobtrail_events "
                                      "WHERE name = 'enqueued'"))
    assert found[int(alone)] == f'{{"payload_sha256":"{digest}"}}'
    for job_id in [*batch, *keyed]:
        assert found[int(job_id)] == (f'{{"payload_sha256":"{digest}",'
                                      f'"actor":"token:alice"}}')
    assert all("4111" not in attrs for attrs in found.values())


def test_sealers_take_turns_rather_than_repeat_each_others_work(store: Store) -> None:
    """Two sealers on one store while events keep coming: one does the sealing, the other
    leaves it the rounds; once the first stops, the second takes over within a round or
    two, and the trail verifies throughout."""
    first, second = (Sealer(store, every=0.1) for _ in range(2))
    first.start()
    time.sleep(0.05)
    second.start()
    try:
        for _ in range(15):
            run_jobs(store, 2)
            time.sleep(0.1)
        assert first.appended >= 5 and second.appended < first.appended // 2, (
            first.appended, second.appended)
        first.stop()
        taken_over = second.appended
        for _ in range(10):
            run_jobs(store, 2)
            time.sleep(0.1)
        assert second.appended >= taken_over + 3
    finally:
        first.stop()
        second.stop()
    seal_all(store)
    assert verify(store).ok
