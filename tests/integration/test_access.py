"""Tokens and actors through the app (both backends): what is stored of a token, who an
operator's action is recorded under when a token's actor acts, from several threads at
once, and the audit trail after tokens come and go."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable

import pytest

from jobtrail import Actor, App, NotAuthenticated, Role, TokenError
from jobtrail.access import Action, require
from jobtrail.audit import verify
from jobtrail.audit.sealing import seal_all
from jobtrail.errors import AccessDenied
from tests.support import rawsql


def actors_of(db_url: str, event: str) -> dict[int, str | None]:
    """The ``actor`` of each job's events named *event*."""
    return {row[0]: json.loads(row[1] or "{}").get("actor") for row in rawsql.fetch(
        db_url, "SELECT job_id, attrs FROM jobtrail_events WHERE name = ? ORDER BY id",
        (event,))}


def queued(app: App, count: int) -> list[int]:
    """*count* jobs waiting to run."""
    job = app.job(name="report")(lambda n: n)
    return [handle.id for handle in job.enqueue_many([{"n": n} for n in range(count)])]


def test_the_database_never_holds_a_token_s_text(make_app: Callable[..., App],
                                                  db_url: str) -> None:
    """After tokens are created, used and revoked, no cell of the tokens table nor of the
    events holds any token's text: only the SHA-256 of it, in the tokens table."""
    app = make_app()
    tokens = [app.tokens.create(f"user{n}", role) for n, role in enumerate(Role)]
    app.authenticate(tokens[0])
    app.tokens.revoke("user1")
    cells = [str(cell) for table in ("jobtrail_tokens", "jobtrail_events")
             for row in rawsql.fetch(db_url, f"SELECT * FROM {table}") for cell in row]
    assert cells
    for token in tokens:
        assert not any(token in cell or token[3:] in cell for cell in cells)
    stored = {row[0] for row in rawsql.fetch(db_url, "SELECT hash FROM jobtrail_tokens")}
    assert stored == {hashlib.sha256(token.encode()).hexdigest() for token in tokens}


def test_a_token_authenticates_as_its_name_and_role_until_revoked(
        make_app: Callable[..., App]) -> None:
    """``authenticate`` gives ``token:<name>`` with the token's role; once revoked, the
    same token is refused with the error a made-up or malformed one gets."""
    app = make_app()
    token = app.tokens.create("alice", "operator")
    actor = app.authenticate(token)
    assert actor == Actor("alice", Role.OPERATOR, "token") and actor.label == "token:alice"
    app.tokens.revoke("alice")
    refusals = set()
    for bad in (token, token[:-1] + ("A" if token[-1] != "A" else "B"), "jt_short", "",
                "Bearer " + token, token + "\n", None, 42):
        with pytest.raises(NotAuthenticated) as refused:
            app.authenticate(bad)
        refusals.add(str(refused.value))
    assert refusals == {"Not a valid token: it is malformed, unknown or revoked."}


def test_bad_names_and_roles_write_nothing(make_app: Callable[..., App],
                                           db_url: str) -> None:
    """A bad name or role is refused before the store is touched: no token, no event."""
    app = make_app()
    before = rawsql.fetch(db_url, "SELECT count(*) FROM jobtrail_events")
    for name, role in (("alice", "root"), ("al\nice", "viewer"), ("", "admin"),
                       ("x" * 65, "operator")):
        with pytest.raises(TokenError):
            app.tokens.create(name, role)
    assert rawsql.fetch(db_url, "SELECT count(*) FROM jobtrail_tokens") == [(0,)]
    assert rawsql.fetch(db_url, "SELECT count(*) FROM jobtrail_events") == before


def test_an_action_taken_acting_as_a_token_records_its_name(
        make_app: Callable[..., App], db_url: str) -> None:
    """A cancel inside ``app.acting_as(actor)`` records ``token:<name>`` on its event; one
    after the block records the app's own actor again."""
    app = make_app()
    app.actor = "os:deploy"
    first, second = queued(app, 2)
    actor = app.authenticate(app.tokens.create("alice", "operator"))
    require(actor, Action.CANCEL)
    with app.acting_as(actor):
        app.cancel(first)
    app.cancel(second)
    assert actors_of(db_url, "cancelled") == {first: "token:alice", second: "os:deploy"}


def test_a_viewer_is_refused_an_operator_s_action(make_app: Callable[..., App]) -> None:
    """The check the dashboard makes: a viewer's token may read but not replay, an
    operator's may replay but not manage tokens, an admin's may do both."""
    app = make_app()
    viewer, operator, admin = (app.authenticate(app.tokens.create(role.value, role))
                               for role in Role)
    require(viewer, Action.READ)
    with pytest.raises(AccessDenied, match=r"token:viewer \(viewer\) may not replay"):
        require(viewer, Action.REPLAY)
    require(operator, Action.REPLAY)
    with pytest.raises(AccessDenied, match="needs the admin role"):
        require(operator, Action.TOKENS)
    require(admin, Action.TOKENS)
    require(admin, Action.RAW_PAYLOAD)


def test_a_token_created_or_revoked_while_acting_names_the_acting_admin(
        make_app: Callable[..., App], db_url: str) -> None:
    """Tokens managed from the dashboard record the admin's token as their actor, on the
    token's row and on the events."""
    app = make_app()
    app.actor = "os:root"
    admin = app.authenticate(app.tokens.create("boss", "admin"))
    with app.acting_as(admin):
        app.tokens.create("alice", "viewer")
        app.tokens.revoke("alice")
    alice = next(record for record in app.tokens.list() if record.name == "alice")
    assert (alice.created_by, alice.revoked_by) == ("token:boss", "token:boss")
    events = [json.loads(row[0]) for row in rawsql.fetch(
        db_url, "SELECT attrs FROM jobtrail_events WHERE kind = 'access' ORDER BY id")]
    assert [e["actor"] for e in events] == ["os:root", "token:boss", "token:boss"]


def test_threads_acting_as_different_tokens_at_once_record_their_own(
        make_app: Callable[..., App], db_url: str) -> None:
    """Three threads share one app and its store, as a web server's do: two act as
    different tokens and one as nobody, cancelling jobs turn and turn about; every
    ``cancelled`` event names the actor of the thread that cancelled that job."""
    app = make_app()
    app.actor = "os:server"
    ids = queued(app, 60)
    actors = [app.authenticate(app.tokens.create(name, "operator")) for name in ("ann", "ben")]
    mine: dict[str, list[int]] = {"token:ann": ids[0::3], "token:ben": ids[1::3],
                                  "os:server": ids[2::3]}
    turns = threading.Barrier(3)
    failures: list[BaseException] = []

    def cancel_all(label: str, actor: Actor | None) -> None:
        try:
            for job_id in mine[label]:
                turns.wait(10)
                if actor is None:
                    app.cancel(job_id)
                else:
                    with app.acting_as(actor):
                        app.cancel(job_id)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
            turns.abort()

    threads = [threading.Thread(target=cancel_all, args=(a.label, a)) for a in actors]
    threads.append(threading.Thread(target=cancel_all, args=("os:server", None)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    recorded = actors_of(db_url, "cancelled")
    assert recorded == {job_id: label for label, jobs in mine.items() for job_id in jobs}


def test_the_trail_verifies_after_tokens_come_and_go(make_app: Callable[..., App]) -> None:
    """Token events are sealed like any other: after creations and revocations the trail
    verifies intact and covers them."""
    app = make_app()
    app.tokens.create("alice", "operator")
    seal_all(app.store)
    app.tokens.create("bob", "viewer")
    app.tokens.revoke("alice")
    seal_all(app.store)
    verdict = verify(app.store)
    assert verdict.ok and verdict.seals == 2
    assert verdict.events == len(app.store.audit_rows(1, 10**9))
