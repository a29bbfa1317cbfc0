"""Signed checkpoints on both backends: a checkpoint vouches for the chain up to its seal, so
a trail rewritten with every hash recomputed, cut short, or pruned without a checkpoint
is caught; a forged checkpoint is named; an export verifies without the database."""

from __future__ import annotations

import io
import time

from jobtrail.audit import checkpoints, exported, verify
from jobtrail.audit.checkpoints import Checkpoint
from jobtrail.audit.encoding import make_seal, row_digest, seal_from_row
from jobtrail.audit.exported import ExportedTrail
from jobtrail.audit.notes import SigningKey
from jobtrail.audit.sealer import Sealer
from jobtrail.audit.sealing import seal_all
from jobtrail.audit.verify import Verdict
from jobtrail.store import Store
from tests.store.test_audit_trail import run_jobs
from tests.support import rawsql

KEY = SigningKey.generate("example.com/audit")
OTHER = SigningKey.generate("example.com/audit")


def kind_of(verdict: Verdict) -> str | None:
    """The kind of problem *verdict* names, None when it names none."""
    return None if verdict.problem is None else verdict.problem.kind


def signed_trail(store: Store, rounds: int = 3) -> list[Checkpoint]:
    """Run jobs and seal *rounds* times, signing a checkpoint after each seal."""
    made = []
    for _ in range(rounds):
        run_jobs(store, 4)
        seal_all(store)
        checkpoint = checkpoints.checkpoint(store, KEY)
        assert checkpoint is not None
        made.append(checkpoint)
    return made


def rewrite_chain(store: Store, db_url: str) -> None:
    """What an operator with write access would do: change an event, then recompute every
    seal's digests and hashes so that the chain verifies again."""
    rawsql.execute(db_url, "UPDATE jobtrail_events SET name = 'cancelled' "
                           "WHERE name = 'succeeded' AND id = (SELECT min(id) FROM "
                           "jobtrail_events WHERE name = 'succeeded')")
    seals = [seal_from_row(row) for row in store.audit_seals(1, 1000)]
    prev = "0" * 64
    for old in seals:
        rows = [r for first, last in old.covered for r in store.audit_rows(first, last)]
        new = make_seal(old.seq, old.sealed_at, old.through, old.covered, old.waiting,
                        "".join(row_digest(r) for r in rows), prev)
        rawsql.execute(db_url, f"UPDATE jobtrail_audit SET digests = '{new.digests}', "
                               f"prev_hash = '{new.prev_hash}', hash = '{new.hash}' "
                               f"WHERE seq = {old.seq}")
        prev = new.hash


def test_a_checkpoint_is_a_signed_note_of_the_head(store: Store) -> None:
    """The checkpoint names the key, the head seal's number and hash, and verifies with the
    key's public half; the trail then reports it as signed."""
    made = signed_trail(store, 1)[0]
    lines = made.note.split("\n")
    assert lines[0] == "example.com/audit" and lines[1] == str(made.seq)
    assert lines[5] == "" and lines[6].startswith("\u2014 example.com/audit ")
    assert Checkpoint.parse(made.note, KEY.verifier) == made
    verdict = verify(store, key=KEY.verifier)
    assert verdict.ok and verdict.signed == made and verdict.checkpoints == 1


def test_a_rewritten_chain_verifies_alone_but_not_against_a_checkpoint(
        store: Store, db_url: str) -> None:
    """After an event is changed and every hash recomputed, the chain on its own looks
    intact; the checkpoint signed before names the first seal that differs."""
    made = signed_trail(store)
    kept_elsewhere = Checkpoint.parse(made[-1].note, KEY.verifier)
    rewrite_chain(store, db_url)
    rawsql.execute(db_url, "DELETE FROM jobtrail_audit_checkpoints")  # the stored ones go too
    assert verify(store).ok
    verdict = verify(store, key=KEY.verifier, anchors=[kept_elsewhere])
    assert verdict.problem is not None and verdict.problem.kind == "checkpoint_mismatch"
    assert verdict.problem.seq == kept_elsewhere.seq


def test_a_trail_cut_short_is_caught_by_a_later_checkpoint(store: Store, db_url: str) -> None:
    """Deleting the newest seals (and their events) leaves a chain that links up, but a
    checkpoint of a later seal says it was longer."""
    made = signed_trail(store)
    rawsql.execute(db_url, f"DELETE FROM jobtrail_audit WHERE seq > {made[0].seq}")
    rawsql.execute(db_url, "DELETE FROM jobtrail_audit_checkpoints")
    assert verify(store, key=KEY.verifier).ok
    verdict = verify(store, key=KEY.verifier, anchors=[made[-1]])
    assert verdict.problem is not None and verdict.problem.kind == "seal_missing"
    assert "cut short" in verdict.problem.message


def test_a_forged_stored_checkpoint_is_named(store: Store, db_url: str) -> None:
    """A stored checkpoint re-signed by another key, or with its hash edited, does not
    check against the key: `checkpoint_forged`, naming its seal."""
    made = signed_trail(store, 2)
    forged = OTHER.sign(checkpoints.text_of(KEY.name, seal_from_row(
        store.audit_seals(made[0].seq, 1)[0])))
    rawsql.execute(db_url, "UPDATE jobtrail_audit_checkpoints SET note = '"
                   + forged.replace("'", "''") + f"' WHERE seq = {made[0].seq}")
    verdict = verify(store, key=KEY.verifier)
    assert verdict.problem is not None
    assert (verdict.problem.kind, verdict.problem.seq) == ("checkpoint_forged", made[0].seq)
    edited = made[1].note.replace(made[1].note.split("\n")[2], "A" * 43 + "=")
    rawsql.execute(db_url, "UPDATE jobtrail_audit_checkpoints SET note = '"
                   + edited + f"' WHERE seq = {made[1].seq}")
    rawsql.execute(db_url, f"DELETE FROM jobtrail_audit_checkpoints WHERE seq = {made[0].seq}")
    assert kind_of(verify(store, key=KEY.verifier)) == "checkpoint_forged"
    without_key = verify(store)
    assert without_key.problem is not None
    assert without_key.problem.kind == "checkpoint_mismatch"


def test_pruned_seals_leave_a_trail_verifiable_from_the_checkpoint(
        store: Store, db_url: str) -> None:
    """Seals before a checkpoint removed (the removal an event of the trail): the trail
    verifies from that seal on with the key, tampering after it is still found, and a
    trail pruned with no checkpoint to vouch for it is reported unanchored."""
    made = signed_trail(store, 3)
    anchor = made[1]
    assert store.audit_prune(anchor.seq) == anchor.seq - 1
    seal_all(store)
    verdict = verify(store, key=KEY.verifier)
    assert verdict.ok, verdict.problem
    assert verdict.signed is not None and verdict.signed.seq >= anchor.seq
    names = rawsql.fetch(db_url, "SELECT name, attrs FROM jobtrail_events WHERE job_id = 0 "
                                 "AND name = 'seals_pruned'")
    assert len(names) == 1 and f'"before": {anchor.seq}' in names[0][1]
    assert kind_of(verify(store)) == "chain_unanchored"
    rawsql.execute(db_url, "DELETE FROM jobtrail_audit_checkpoints")
    unvouched = verify(store, key=KEY.verifier)
    assert unvouched.problem is not None and unvouched.problem.kind == "chain_unanchored"
    last = seal_from_row(store.audit_seals(anchor.seq + 1, 1)[0])
    rawsql.execute(db_url, f"UPDATE jobtrail_events SET attrs = '{{}}' "
                           f"WHERE id = {last.covered[0][0]}")
    assert kind_of(verify(store, key=KEY.verifier, anchors=[made[2]])) == "event_altered"


def test_an_export_verifies_without_the_database(store: Store, db_url: str) -> None:
    """An export carries seals, events and checkpoints: it verifies with the public key
    alone, and an event edited in the file, or a forged checkpoint, is named."""
    signed_trail(store)
    out = io.StringIO()
    exported.write(store, out)
    text = out.getvalue()
    trail = ExportedTrail.read(io.StringIO(text))
    verdict = verify(trail, key=KEY.verifier)
    assert verdict.ok and verdict.signed is not None and verdict.events > 30
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if '"name": "succeeded"' in line)
    lines[at] = lines[at].replace('"succeeded"', '"cancelled"')
    edited = verify(ExportedTrail.read(io.StringIO("\n".join(lines))), key=KEY.verifier)
    assert edited.problem is not None and edited.problem.kind == "event_altered"
    assert kind_of(verify(trail, key=OTHER.verifier)) == "checkpoint_forged"
    job_only = io.StringIO()
    exported.write(store, job_only, job_id=3)
    partial = ExportedTrail.read(io.StringIO(job_only.getvalue()))
    assert partial.partial and verify(partial, key=KEY.verifier, partial=True).ok


def test_the_sealer_signs_checkpoints_as_it_seals(store: Store) -> None:
    """A sealer with a key stores a checkpoint of the head once the chain moved on, and
    not again until it moves on and the interval has passed."""
    run_jobs(store, 3)
    sealer = Sealer(store, every=0.05, key=KEY, checkpoint_every=0.0)
    sealer.start()
    try:
        for _ in range(100):
            if store.audit_checkpoints(1, 10):
                break
            time.sleep(0.05)
    finally:
        sealer.stop()
    stored = store.audit_checkpoints(1, 10)
    assert len(stored) == 1
    assert verify(store, key=KEY.verifier).signed is not None


def test_seals_deleted_behind_jobtrails_back_are_not_a_prune(store: Store, db_url: str) -> None:
    """The first seals deleted in SQL, even with a later checkpoint still vouching for
    the rest, are named: no prune of them is recorded in the trail."""
    made = signed_trail(store, 3)
    rawsql.execute(db_url, f"DELETE FROM jobtrail_audit WHERE seq < {made[1].seq}")
    verdict = verify(store, key=KEY.verifier)
    assert kind_of(verdict) == "seal_missing"
    assert verdict.problem is not None and "no prune of them is recorded" in verdict.problem.message


def test_verifying_from_a_checkpoint_checks_only_what_is_newer(store: Store, db_url: str) -> None:
    """Starting after a checkpoint's seal checks the seals after it, and that the seal it
    starts from is the one signed: a trail rewritten before it no longer matches."""
    made = signed_trail(store, 3)
    start = made[1]
    newer = verify(store, since=start.seq + 1, key=KEY.verifier, anchors=[start])
    assert newer.ok and newer.seals == made[2].seq - start.seq
    rewrite_chain(store, db_url)
    rawsql.execute(db_url, "DELETE FROM jobtrail_audit_checkpoints")
    again = verify(store, since=start.seq + 1, key=KEY.verifier, anchors=[start])
    assert kind_of(again) == "checkpoint_mismatch"
