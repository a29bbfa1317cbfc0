"""The audit trail: every change to every job, in a hash chain nobody can quietly rewrite.

**What is in it.** Every change jobtrail makes to a job is a row of ``jobtrail_events``,
written in the same transaction as the change itself: its submission (``enqueued``), each
claim and status transition, each path segment recorded, each lease lost or release, each
operator's action (``replayed``, ``cancelled``, ``discarded``, ``effect_resolved``). The
trail is those rows. Nothing more is written as a job moves, so the trail costs the
drain nothing on the way.

**How it is sealed** (`jobtrail.audit.sealing`). After the fact, a sealer — each worker, a
few times a second at most, and ``jobtrail audit seal`` — reads the rows written since the
last seal, in id order, and appends a *seal*: the ids it covers (as ranges), a digest of
each row (`jobtrail.audit.encoding`), the ids it found missing and waits for, and
``hash = SHA-256(previous hash ‖ canonical JSON of the seal)`` (RFC 8785). Seals are
numbered 1, 2, 3... with no gap: a sealer appends seal n + 1 only if nobody appended it
first (the primary key decides), so several sealers never fork the chain, and no commit
of the system ever waits for the chain: on PostgreSQL with many writers, the rows are
written concurrently as before and the chain is made of them afterwards.

A row whose id is missing when a seal is made belongs to a transaction still open (or
rolled back): the seal says it waits for it, and a later seal covers it once it is
committed — or stops waiting after `WAIT` (a transaction open that long is not one of
jobtrail's; a rolled-back one never commits).

**What verification proves** (`jobtrail.audit.verify`). ``jobtrail audit verify``
recomputes every seal's hash and every covered row's digest, and names the first seal or
row that was altered, removed, inserted or reordered. Someone with write access to the
database can still delete the whole trail, or rewrite it *and* recompute every hash after
it; what they cannot do is change a row and have the chain still verify against a seal
hash that left the database before the change: a signed checkpoint
(`jobtrail.audit.checkpoints`, Ed25519 in the C2SP signed-note format of
`jobtrail.audit.notes`), which anyone with the public key can check, an export included
(`jobtrail.audit.exported`).

**Pruning.** Old jobs' history is removed by `jobtrail.retention`, each batch recorded in
the trail so that verification takes the rows' absence for a recorded removal; old seals
are removed before a signed checkpoint, which then vouches for the trail's new start.
"""

from jobtrail.audit.encoding import GENESIS, Seal
from jobtrail.audit.sealing import seal
from jobtrail.audit.verify import Problem, Verdict, verify

__all__ = ["GENESIS", "Problem", "Seal", "Verdict", "seal", "verify"]
