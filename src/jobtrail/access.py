"""Who may do what: roles, actors, the check the dashboard makes before each action, and
the actor an operator's action is recorded under.

Roles are ordered, each allowing what the one below it allows and more:

- ``viewer`` reads everything, masked for declared-sensitive fields: jobs, paths, dead
  letters, queues, metrics, the audit trail;
- ``operator`` also replays, discards and cancels jobs, pauses and resumes queues,
  resolves uncertain effects and opens or closes circuit breakers;
- ``admin`` also creates and revokes tokens, manages keys, prunes old runs and views raw
  (unmasked) payloads.

`MINIMUM_ROLE` holds that table: the least role each `Action` needs.

An `Actor` is a name, a role and where it comes from: ``token:<name>`` for a dashboard
token (`jobtrail.tokens`), ``os:<user>`` for the command line (which reaches the database
directly, so it acts as an admin). `require` is the check; `App`'s methods do not make it
themselves, since Python code that holds the app is trusted.

The actor of the action under way is kept in a context variable (`acting_as`), so that in
a web server each request's thread (or task) records its own actor: the stores read it
(`actor_label`) when they write an operator's event, before the actor set on the app.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from jobtrail.errors import AccessDenied, TokenError

__all__ = ["MINIMUM_ROLE", "Action", "Actor", "Role", "acting_as", "actor_label",
           "current_actor", "require"]


@functools.total_ordering
class Role(enum.Enum):
    """What an actor may do: ``viewer`` < ``operator`` < ``admin``."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Its place in the order, from 0 (``viewer``)."""
        return list(Role).index(self)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank < other.rank

    @classmethod
    def parse(cls, text: object) -> Role:
        """The role named *text*; `TokenError` naming the valid ones otherwise."""
        if isinstance(text, Role):
            return text
        for role in cls:
            if text == role.value:
                return role
        valid = ", ".join(role.value for role in cls)
        raise TokenError(f"role {str(text)[:40]!r} does not exist: choose one of {valid}")

    def may(self, action: Action) -> bool:
        """Whether this role allows *action*."""
        return self >= MINIMUM_ROLE[action]


class Action(enum.Enum):
    """What an actor asks to do, each allowed from a role up (`MINIMUM_ROLE`)."""

    READ = "read"
    REPLAY = "replay"
    DISCARD = "discard"
    CANCEL = "cancel"
    PAUSE = "pause"
    RESOLVE_EFFECT = "resolve_effect"
    BREAKER = "breaker"
    TOKENS = "tokens"
    KEYS = "keys"
    PRUNE = "prune"
    RAW_PAYLOAD = "raw_payload"


#: The least role that may take each action (the table of the module's docstring).
MINIMUM_ROLE: Mapping[Action, Role] = MappingProxyType({
    Action.READ: Role.VIEWER,
    Action.REPLAY: Role.OPERATOR,
    Action.DISCARD: Role.OPERATOR,
    Action.CANCEL: Role.OPERATOR,
    Action.PAUSE: Role.OPERATOR,
    Action.RESOLVE_EFFECT: Role.OPERATOR,
    Action.BREAKER: Role.OPERATOR,
    Action.TOKENS: Role.ADMIN,
    Action.KEYS: Role.ADMIN,
    Action.PRUNE: Role.ADMIN,
    Action.RAW_PAYLOAD: Role.ADMIN,
})

Source = Literal["token", "os"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who takes an action: a *name*, its *role*, and where it comes from (*source*)."""

    name: str
    role: Role
    source: Source = "token"

    @property
    def label(self) -> str:
        """How the audit trail names it: ``token:<name>`` or ``os:<user>``."""
        return f"{self.source}:{self.name}"

    def may(self, action: Action) -> bool:
        """Whether its role allows *action*."""
        return self.role.may(action)


def require(actor: Actor, action: Action) -> None:
    """Raise `AccessDenied` unless *actor*'s role allows *action*."""
    if not actor.may(action):
        needed = MINIMUM_ROLE[action]
        raise AccessDenied(
            f"{actor.label} ({actor.role.value}) may not {action.value.replace('_', ' ')}: "
            f"that needs the {needed.value} role or above")


# The one place besides the running job's context that holds state for the process: the
# actor of the action under way, per thread and per asyncio task.
_acting: ContextVar[Actor | None] = ContextVar("jobtrail_actor", default=None)


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    """Record the operators' actions taken inside the block (in this thread or task, on any
    store) under *actor*."""
    if not isinstance(actor, Actor):
        raise TypeError(f"acting_as({actor!r}): give an Actor (app.authenticate(token))")
    token = _acting.set(actor)
    try:
        yield actor
    finally:
        _acting.reset(token)


def current_actor() -> Actor | None:
    """The actor `acting_as` set for this thread or task, if any."""
    return _acting.get()


class ActingStore:
    """The ``actor`` of a store (`jobtrail.store.base.Store.actor`): who operators' actions
    through it are taken by, recorded on their events (the audit trail's actor) — the one
    acting in this thread or task (`acting_as`), else the one set on the store (the OS
    user for the command line). Both backends' connections derive from it."""

    _actor: str | None = None

    @property
    def actor(self) -> str | None:
        return actor_label(self._actor)

    @actor.setter
    def actor(self, actor: str | None) -> None:
        self._actor = actor


def actor_label(fallback: str | None) -> str | None:
    """The label of the actor acting in this context, else *fallback* (the store's)."""
    acting = _acting.get()
    return fallback if acting is None else acting.label
