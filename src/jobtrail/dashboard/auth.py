"""Who is asking: tokens, sessions and the CSRF check of the dashboard.

A request authenticates with ``Authorization: Bearer <token>`` or with the session cookie
``POST /login`` sets. Tokens are the app's (``app.tokens``, `jobtrail.tokens`) and, for
simple setups, those of ``JOBTRAIL_DASHBOARD_TOKENS="role:token,..."`` (each acting as
``token:env-<role>-<n>``).

Once any token exists (a live stored one, or one from the environment) every request needs
one; that stays so for the life of the dashboard, even if every token is revoked later, so
that a dashboard listening beyond localhost never opens up. Without any, every visitor acts
as the user running the dashboard (``os:<user>``, an admin, as on the command line) and
the command line listens on localhost only.

The cookie holds a random session id, mapped here in memory to the session: never the
token. The token stays in memory to authenticate each request again, so that revoking it
ends its sessions at once. A session also holds a random CSRF value that every form
carries in a hidden field; a POST made with the cookie must send it back. A POST with a
bearer token needs none: a browser never adds that header on its own.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from jobtrail.access import Action, Actor, Role, require
from jobtrail.errors import AccessDenied, ConfigurationError, NotAuthenticated

__all__ = ["COOKIE", "ENV", "Forbidden", "Guard", "Session", "Unauthorized", "parse_tokens"]

#: The environment variable of the tokens of simple setups: ``role:token,...``.
ENV = "JOBTRAIL_DASHBOARD_TOKENS"
#: The name of the session cookie.
COOKIE = "jobtrail_session"
#: How long a session lasts after it was opened, in seconds.
SESSION_SECONDS = 12 * 3600
#: The shortest token ``JOBTRAIL_DASHBOARD_TOKENS`` accepts.
MIN_ENV_TOKEN = 16


class Unauthorized(Exception):
    """The request carries no valid token or session (401)."""


class Forbidden(Exception):
    """The request may not do this (403): its role, or a missing or wrong CSRF value."""


@dataclass(frozen=True, slots=True)
class Session:
    """A browser's session: the actor, the token it logged in with (kept here to check it
    again on each request), its CSRF value and when it ends."""

    id: str
    actor: Actor
    token: str | None
    csrf: str
    expires: float


def parse_tokens(spec: str) -> dict[bytes, Actor]:
    """The actors of ``role:token,...`` by the SHA-256 of their token;
    `ConfigurationError` naming what is wrong (never the token)."""
    found: dict[bytes, Actor] = {}
    counts: dict[Role, int] = {}
    for number, item in enumerate(part.strip() for part in spec.split(",")):
        if not item:
            continue
        role_text, sep, token = item.partition(":")
        if not sep or not token:
            raise ConfigurationError(
                f"{ENV}: item {number + 1} is not role:token (roles: viewer, operator, admin)")
        try:
            role = Role.parse(role_text.strip())
        except Exception as exc:
            raise ConfigurationError(f"{ENV}: item {number + 1}: {exc}") from None
        if len(token) < MIN_ENV_TOKEN:
            raise ConfigurationError(
                f"{ENV}: item {number + 1}: a token must be at least {MIN_ENV_TOKEN} "
                "characters long (`jobtrail tokens create` makes good ones)")
        counts[role] = counts.get(role, 0) + 1
        found[_digest(token)] = Actor(f"env-{role.value}-{counts[role]}", role, "token")
    return found


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def local_actor() -> Actor:
    """Who acts on a dashboard without tokens: the user running it, as an admin."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid-{os.getuid()}"
    return Actor(user, Role.ADMIN, "os")


class Guard:
    """Authenticates requests and keeps the sessions of one dashboard."""

    def __init__(self, authenticate: Callable[[str], Actor], has_stored: Callable[[], bool],
                 env_tokens: dict[bytes, Actor]) -> None:
        self._authenticate = authenticate
        self._has_stored = has_stored
        self._env = env_tokens
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._required = bool(env_tokens)
        self.local = local_actor()

    @property
    def required(self) -> bool:
        """Whether requests need a token: once true, true for good."""
        if not self._required and self._has_stored():
            self._required = True
        return self._required

    @property
    def environment_actors(self) -> list[Actor]:
        """The actors of the tokens given to the dashboard (``JOBTRAIL_DASHBOARD_TOKENS``):
        they are not stored, so the tokens page shows them apart, and cannot revoke them."""
        return list(self._env.values())

    def actor_of(self, token: str) -> Actor:
        """The actor *token* authenticates as; `Unauthorized` otherwise."""
        digest = _digest(token)
        for known, actor in self._env.items():
            if hmac.compare_digest(known, digest):
                return actor
        try:
            return self._authenticate(token)
        except NotAuthenticated:
            raise Unauthorized("this token is not valid (malformed, unknown or revoked)") \
                from None

    # -- sessions -------------------------------------------------------------------------
    def open_session(self, actor: Actor, token: str | None) -> Session:
        """A new session for *actor* (its cookie value is the session's id)."""
        session = Session(secrets.token_urlsafe(32), actor, token, secrets.token_urlsafe(32),
                          time.monotonic() + SESSION_SECONDS)
        with self._lock:
            now = time.monotonic()
            for key in [key for key, old in self._sessions.items() if old.expires < now]:
                del self._sessions[key]
            self._sessions[session.id] = session
        return session

    def session(self, session_id: str | None) -> Session | None:
        """The live session of this cookie value, if any."""
        if not session_id:
            return None
        with self._lock:
            found = self._sessions.get(session_id)
        if found is None or found.expires < time.monotonic():
            return None
        return found

    def close_session(self, session_id: str) -> None:
        """End a session (logging out)."""
        with self._lock:
            self._sessions.pop(session_id, None)

    # -- the check ------------------------------------------------------------------------
    def identify(self, authorization: str | None, cookie: str | None
                 ) -> tuple[Actor | None, Session | None]:
        """Who asks, from the request's Authorization header or its session cookie:
        (actor, session); the actor is ``None`` when nobody is authenticated, and the
        session when it came with a bearer token (or none is open)."""
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("the Authorization header must be: Bearer <token>")
            if not self.required:
                return self.local, None
            return self.actor_of(token.strip()), None
        session = self.session(cookie)
        if not self.required:
            return self.local, session
        if session is None:
            return None, None
        if session.token is None:  # opened before tokens existed: it no longer serves
            return None, None
        try:
            actor = self.actor_of(session.token)
        except Unauthorized:
            self.close_session(session.id)
            return None, None
        return actor, session


def allowed(actor: Actor | None, action: Action) -> Actor:
    """*actor* when it may take *action*; `Unauthorized` or `Forbidden` otherwise."""
    if actor is None:
        raise Unauthorized("log in, or send Authorization: Bearer <token>")
    try:
        require(actor, action)
    except AccessDenied as exc:
        raise Forbidden(str(exc)) from None
    return actor


def check_csrf(session: Session | None, given: str | None) -> None:
    """`Forbidden` unless *given* is the session's CSRF value."""
    if session is None or not given or not hmac.compare_digest(
            session.csrf.encode(), given.encode("utf-8", "surrogatepass")):
        raise Forbidden("this form is out of date or did not come from this dashboard "
                        "(missing or wrong CSRF value): reload the page and try again")
