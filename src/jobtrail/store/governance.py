"""The part of the storage contract (`jobtrail.store.base.Store`) that governs the rest:
access tokens, secrets at rest, and the audit trail with its checkpoints and pruning."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from jobtrail.audit.encoding import Digest, Row, Seal
    from jobtrail.store.audit import SealRow
    from jobtrail.store.encrypted import EncryptedRow, Table
    from jobtrail.store.tokens import TokenRecord


class GovernanceStore(Protocol):
    """Tokens, secrets at rest, the audit trail. Every method is safe to call from any
    thread."""

    # -- access tokens (`jobtrail.tokens`); the token's text is never given, only its hash --
    def token_create(self, name: str, role: str, digest: str) -> TokenRecord:
        """Store a live token *name* of *role* whose text hashes to *digest*, created by
        ``actor``, with its ``token_created`` event (job 0), in one transaction; a live
        token of that name already: `TokenError`, nothing written."""

    def token_revoke(self, name: str) -> TokenRecord:
        """Revoke the live token *name*, by ``actor``, with its ``token_revoked`` event (job
        0), in one transaction; none: `TokenNotFound`, nothing written."""

    def tokens(self) -> list[TokenRecord]:
        """Every token, live and revoked, oldest first (never its hash)."""

    def token_find(self, digest: str) -> TokenRecord | None:
        """The live token whose text hashes to *digest*, as it was before this use; its
        ``last_used_at`` moves to now when older than
        `jobtrail.store.tokens.USE_RESOLUTION` seconds."""
    # -- secrets at rest (`jobtrail.rotation`) --------------------------------------------
    def encrypted_rows(self, table: Table, after: int | str, limit: int) -> list[EncryptedRow]:
        """At most *limit* rows of *table* that may hold encrypted values, by id or key
        after *after*, in order."""

    def rewrite_encrypted(self, rewrites: Sequence[tuple[EncryptedRow, tuple[str | None, ...]]],
                          attrs: str) -> int:
        """Give each row its new values, only where it still holds those read, and record
        the rotation (*attrs*, JSON) on job 0, in one transaction; return the rows changed."""

    # -- the audit trail (`jobtrail.audit`) -----------------------------------------------
    def audit_head(self) -> SealRow | None:
        """The last seal of the trail, as stored; ``None`` before the first."""

    def audit_seals(self, since: int, limit: int) -> list[SealRow]:
        """At most *limit* seals from number *since* on, in order, as stored."""

    def audit_append(self, seal: Seal) -> bool:
        """Append *seal*; false when another sealer appended its number first."""

    def audit_pending(self, after: int, waiting: Sequence[int], limit: int) -> list[Digest]:
        """The ids and digests (`jobtrail.audit.encoding`) of the event rows after id
        *after* (at most *limit*, in order), and of those of the ids in *waiting* that are
        there now."""

    def audit_digests(self, first: int, last: int) -> list[Digest]:
        """The ids and digests of the event rows with ids from *first* to *last*."""

    def audit_rows(self, first: int, last: int) -> list[Row]:
        """The event rows with ids from *first* to *last*, in order, as the trail hashes
        them (for an export)."""

    def audit_now(self) -> float:
        """The store's clock, in epoch seconds."""

    def audit_checkpoint_add(self, seq: int, note: str, made_at: float) -> bool:
        """Store the signed checkpoint *note* of seal *seq*; false when one was stored for
        it already."""

    def audit_checkpoints(self, since: int, limit: int) -> list[tuple[int, str]]:
        """At most *limit* stored checkpoints from seal *since* on: (seal number, note)."""

    def prune_history(self, before: float, limit: int) -> tuple[int, int]:
        """Remove at most *limit* jobs that succeeded or were cancelled before *before*
        (epoch seconds), with their events, effects and divergences — none whose children
        are still to finish, nor one of a group still waiting — and record it in the trail
        (an event of job 0, ``history_pruned``, naming the event ids) in the same
        transaction; the jobs and events removed."""

    def audit_pruned(self) -> list[tuple[int, str]]:
        """The ``history_pruned`` and ``seals_pruned`` events: (id, attributes as stored)."""

    def audit_record(self, name: str, attrs: str) -> None:
        """Write an event of no job (job 0, kind ``audit``) named *name* for the trail."""

    def audit_prune(self, before: int) -> int:
        """Remove the seals and checkpoints before seal *before*, recording it in the trail
        (an event of job 0, ``seals_pruned``) in the same transaction; the seals removed."""
