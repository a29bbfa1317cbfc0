"""Access tokens: what the dashboard and any HTTP API authenticate with (``app.tokens``).

A token is ``jt_`` followed by 43 characters of ``secrets.token_urlsafe(32)`` (256 random
bits), shown once when it is created and never again: the store keeps only the SHA-256 of
its text. A password needs a slow, salted hash because people choose guessable ones; a
token of 256 random bits cannot be guessed, so one fast hash is enough: whoever reads the
table (a backup, a replica, a leaked dump) learns names and roles but no token that
authenticates, and finding one from its hash means inverting SHA-256.

Each token has a name (unique among the live ones) and a role (`jobtrail.access.Role`);
it authenticates as the actor ``token:<name>`` until it is revoked. Creating and revoking
one are recorded on the audit trail with the actor who did it.
"""

from __future__ import annotations

import builtins
import hashlib
import re
import secrets
from collections.abc import Callable

from jobtrail.access import Actor, Role
from jobtrail.errors import NotAuthenticated, TokenError
from jobtrail.store.base import Store
from jobtrail.store.tokens import TokenRecord

__all__ = ["MAX_NAME", "PREFIX", "Tokens", "check_name", "digest", "new_token"]

#: What every token begins with, so that one pasted in the wrong place is recognisable
#: (and secret scanners can find it).
PREFIX = "jt_"
#: The longest name a token may have.
MAX_NAME = 64
#: A name: letters, digits and ``. _ - @``, beginning with a letter or a digit (no spaces,
#: no control characters: it is shown in tables and on the audit trail as it is).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")
#: A token's form: the prefix and 43 characters of URL-safe base64 (32 bytes).
_TOKEN = re.compile(r"jt_[A-Za-z0-9_-]{43}")


def new_token() -> str:
    """A new token's text: the prefix and 256 random bits."""
    return PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """What the store keeps of *token*: the SHA-256 of its text, in hex."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def check_name(name: object) -> str:
    """*name* if a token may be named so; `TokenError` saying what a name may hold."""
    if not isinstance(name, str):
        raise TokenError(f"token name {name!r}: must be text, not {type(name).__name__}")
    rule = (f"a name is 1 to {MAX_NAME} letters, digits and . _ - @, beginning with a letter "
            "or a digit")
    if not name:
        raise TokenError(f"token name '': empty; {rule}")
    if len(name) > MAX_NAME:
        raise TokenError(f"token name {name[:20]!r}... is {len(name):,} characters long; {rule}")
    if not _NAME.fullmatch(name):
        raise TokenError(f"token name {name!r} cannot be used; {rule}")
    return name


class Tokens:
    """The tokens of an app's store (``app.tokens``): create, revoke, list, authenticate.

    The actor recorded as creating or revoking one is the app's (``os:<user>`` on the
    command line), or the one acting (`jobtrail.access.acting_as`)."""

    def __init__(self, store: Callable[[], Store]) -> None:
        self._store = store

    def create(self, name: str, role: Role | str) -> str:
        """Create a token *name* of *role* and return its text: the only time it is
        available (the store keeps its hash). `TokenError` for a bad name or role, or a
        live token of that name; nothing is written then."""
        return self.issue(name, role)[0]

    def issue(self, name: str, role: Role | str) -> tuple[str, TokenRecord]:
        """`create`, returning the new token's record beside its text."""
        checked, parsed = check_name(name), Role.parse(role)
        token = new_token()
        return token, self._store().token_create(checked, parsed.value, digest(token))

    def revoke(self, name: str) -> TokenRecord:
        """Revoke the live token *name*: it no longer authenticates. `TokenNotFound` when
        no live token has that name (never created, or revoked already)."""
        return self._store().token_revoke(check_name(name))

    def list(self) -> builtins.list[TokenRecord]:
        """Every token, live and revoked, oldest first (their text is not stored)."""
        return self._store().tokens()

    def authenticate(self, token: object) -> Actor:
        """The actor *token* authenticates as (``token:<name>``, its role); one and the same
        `NotAuthenticated` for a malformed, unknown or revoked token, so that the answer
        tells a guesser nothing."""
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            raise NotAuthenticated()
        found = self._store().token_find(digest(token))
        if found is None:
            raise NotAuthenticated()
        return Actor(found.name, Role.parse(found.role), "token")
