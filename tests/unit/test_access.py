"""Roles, actors and the access check (`jobtrail.access`), and what a token and its name
may look like (`jobtrail.tokens`)."""

from __future__ import annotations

import hashlib
import threading

import pytest

from jobtrail.access import (
    MINIMUM_ROLE,
    Action,
    Actor,
    Role,
    acting_as,
    actor_label,
    current_actor,
    require,
)
from jobtrail.errors import AccessDenied, AccessError, TokenError
from jobtrail.tokens import MAX_NAME, PREFIX, check_name, digest, new_token

OPERATOR_ACTIONS = {Action.REPLAY, Action.DISCARD, Action.CANCEL, Action.PAUSE,
                    Action.RESOLVE_EFFECT, Action.BREAKER}
ADMIN_ACTIONS = {Action.TOKENS, Action.KEYS, Action.PRUNE, Action.RAW_PAYLOAD}


def test_roles_are_ordered_viewer_operator_admin() -> None:
    """viewer < operator < admin, and sorting roles gives that order."""
    assert Role.VIEWER < Role.OPERATOR < Role.ADMIN
    assert Role.ADMIN > Role.VIEWER and Role.OPERATOR >= Role.OPERATOR
    assert sorted([Role.ADMIN, Role.VIEWER, Role.OPERATOR]) == [Role.VIEWER, Role.OPERATOR,
                                                                Role.ADMIN]


def test_a_role_is_not_comparable_with_other_values() -> None:
    """Comparing a role with text is a TypeError, not an answer made up from the text."""
    with pytest.raises(TypeError):
        assert Role.ADMIN < "viewer"


def test_the_permission_table_names_every_action() -> None:
    """Each action has its least role: reading for viewers, acting on jobs for operators,
    the rest for admins."""
    assert set(MINIMUM_ROLE) == set(Action)
    assert {a for a, r in MINIMUM_ROLE.items() if r is Role.VIEWER} == {Action.READ}
    assert {a for a, r in MINIMUM_ROLE.items() if r is Role.OPERATOR} == OPERATOR_ACTIONS
    assert {a for a, r in MINIMUM_ROLE.items() if r is Role.ADMIN} == ADMIN_ACTIONS


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
@pytest.mark.parametrize("action", list(Action), ids=lambda action: action.value)
def test_a_role_may_what_its_rank_allows(role: Role, action: Action) -> None:
    """A role may take an action exactly when it is at least the action's least role, and
    `require` agrees."""
    actor = Actor("alice", role)
    allowed = role >= MINIMUM_ROLE[action]
    assert role.may(action) is allowed and actor.may(action) is allowed
    if allowed:
        require(actor, action)
    else:
        with pytest.raises(AccessDenied):
            require(actor, action)


def test_a_refusal_names_the_actor_the_action_and_the_role_needed() -> None:
    """The message of `AccessDenied` says who asked, with what role, for what, and the
    role it needs; it is an AccessError and a PermissionError."""
    with pytest.raises(AccessDenied) as refused:
        require(Actor("bob", Role.VIEWER), Action.RESOLVE_EFFECT)
    assert str(refused.value) == ("token:bob (viewer) may not resolve effect: that needs "
                                  "the operator role or above")
    assert isinstance(refused.value, AccessError) and isinstance(refused.value,
                                                                 PermissionError)


def test_roles_parse_from_their_names_only() -> None:
    """``Role.parse`` takes a role's name (or a role); anything else is a TokenError listing
    the valid names."""
    assert Role.parse("operator") is Role.OPERATOR
    assert Role.parse(Role.ADMIN) is Role.ADMIN
    for bad in ("Operator", "root", "", None, 2):
        with pytest.raises(TokenError, match="choose one of viewer, operator, admin"):
            Role.parse(bad)


def test_an_actor_is_labelled_by_where_it_comes_from() -> None:
    """A token's actor is ``token:<name>``; the command line's is ``os:<user>``."""
    assert Actor("alice", Role.OPERATOR).label == "token:alice"
    assert Actor("root", Role.ADMIN, "os").label == "os:root"


def test_acting_as_sets_the_actor_for_the_block_only() -> None:
    """Inside ``acting_as`` the acting actor wins over the store's; after it (even after an
    error) the store's is back, and nested blocks restore the outer actor."""
    alice, bob = Actor("alice", Role.OPERATOR), Actor("bob", Role.ADMIN)
    assert current_actor() is None and actor_label("os:me") == "os:me"
    with acting_as(alice):
        assert actor_label("os:me") == "token:alice"
        with acting_as(bob):
            assert current_actor() is bob
        assert current_actor() is alice
    with pytest.raises(RuntimeError), acting_as(bob):
        raise RuntimeError("boom")
    assert current_actor() is None and actor_label(None) is None


def test_acting_as_takes_an_actor_only() -> None:
    """A label in place of an Actor is refused at once (it would skip authentication)."""
    with pytest.raises(TypeError, match="give an Actor"), acting_as("token:alice"):  # type: ignore[arg-type]
        pass


def test_each_thread_has_its_own_acting_actor() -> None:
    """An actor set in one thread is not seen by another running at the same time."""
    seen: dict[str, str | None] = {}
    inside, done = threading.Event(), threading.Event()

    def act() -> None:
        with acting_as(Actor("alice", Role.OPERATOR)):
            inside.set()
            done.wait(5)
            seen["worker"] = actor_label(None)

    thread = threading.Thread(target=act)
    thread.start()
    assert inside.wait(5)
    seen["main"] = actor_label(None)
    done.set()
    thread.join(5)
    assert seen == {"main": None, "worker": "token:alice"}


def test_a_token_is_the_prefix_and_256_random_bits() -> None:
    """A new token is ``jt_`` and 43 URL-safe characters, different each time; its digest
    is the SHA-256 of its text."""
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    for token in tokens:
        assert token.startswith(PREFIX) and len(token) == len(PREFIX) + 43
        assert token[3:].replace("-", "").replace("_", "").isalnum()
        assert digest(token) == hashlib.sha256(token.encode()).hexdigest()


@pytest.mark.parametrize("name", ["alice", "ci-bot", "a", "ops.team_2", "x@example.org",
                                  "7", "a" * MAX_NAME])
def test_usable_names_are_accepted(name: str) -> None:
    """Letters, digits and ``. _ - @``, beginning with a letter or digit, up to the limit."""
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "a" * (MAX_NAME + 1), "al ice", "bob\n", "a\x1b[31m",
                                  "-rf", ".hidden", "alice\u2028", "élodie", "a/b", 5, None])
def test_hostile_or_unusable_names_are_refused_on_one_line(name: object) -> None:
    """Empty, overlong, spaced, control characters, leading punctuation, non-ASCII, not
    text: a TokenError of one line that says what a name may hold."""
    with pytest.raises(TokenError) as refused:
        check_name(name)
    message = str(refused.value)
    assert "\n" not in message and "\x1b" not in message and "\u2028" not in message
    assert "token name" in message
    if isinstance(name, str):
        assert "letters, digits and . _ - @" in message
