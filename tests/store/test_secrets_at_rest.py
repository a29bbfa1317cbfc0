"""Secrets at rest, on both backends: with an encryption key, no ``redact=`` value is
stored in any table; the worker decrypts to run, replays and rotations keep jobs runnable,
and a worker without the key fails the attempt, loses nothing."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import pytest

from jobtrail import App, Context, DecryptionError, Retry, Status
from jobtrail.encryption import MARKER
from jobtrail.redaction import MASK, written_forms
from jobtrail.rotation import rotate
from jobtrail.store import parse_url
from jobtrail.testing import run_until_idle
from tests.support import rawsql

KEY = "current-key-" + "c" * 30
OLD_KEY = "older-key-" + "o" * 30
OTHER_KEY = "unrelated-key-" + "u" * 30
EMAIL = "alice.secret@example.com"
CARD = "4111-2222-3333-4444"
RETRY = Retry(max_attempts=2, base=0, jitter="none")


def dump(url: str) -> str:
    """Every row of every table of the database at *url*, as text."""
    backend, target = parse_url(url)
    lines: list[str] = []
    if backend == "sqlite":
        with sqlite3.connect(target) as conn:
            tables = [row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                lines += [f"{table}: {row!r}" for row in conn.execute(f'SELECT * FROM "{table}"')]
        return "\n".join(lines)
    tables = [row[0] for row in rawsql.fetch(
        url, "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")]
    for table in tables:
        lines += [f"{table}: {row!r}" for row in rawsql.fetch(url, f'SELECT * FROM "{table}"')]
    return "\n".join(lines)


def drain(app: App) -> None:
    """Run jobs until none waits (a retry due now may not be runnable yet at the first try)."""
    for _ in range(50):
        run_until_idle(app)
        if not app.jobs(status=["queued", "retrying"]):
            return
        time.sleep(0.02)
    raise AssertionError("jobs still wait to run")


def assert_nowhere(text: str, *secrets: str) -> None:
    for secret in secrets:
        for form in {secret, *written_forms(secret)}:
            assert form not in text, f"{form!r} is stored"


def declare(app: App) -> dict[str, Any]:
    """The jobs of these tests: each uses its secret in every way a job can store it."""

    @app.job(redact=["card"], retry=RETRY)
    def charge_child(card: str, order: int) -> str:
        return f"charged {card[-4:]} for {order}"

    @app.job(redact=["email", "card"], retry=RETRY,
             idempotency_key=lambda email, card, fail: f"signup-{email}-{fail}",
             concurrency_key=lambda email, card, fail: f"user-{email}", concurrency_limit=5)
    def signup(ctx: Context, email: str, card: dict[str, Any], fail: str) -> str:
        sent = ctx.effect("mail", lambda: {"to": email, "card": card}, key=f"mail-{email}")
        assert sent == {"to": email, "card": card}
        shouted = ctx.step("shout", lambda: email.upper())
        ctx.event("mailed", to=email)
        ctx.decide("domain", email.split("@")[1])
        ctx.enqueue(charge_child, card=card["number"], order=1)
        if fail == "always" or (fail == "once" and ctx.attempt == 1):
            raise ValueError(f"could not sign up {email} with card {card['number']}")
        return f"{shouted} {email}"

    return {"signup": signup, "charge_child": charge_child}


def test_no_table_holds_a_redacted_value(make_app: Callable[..., App], db_url: str) -> None:
    """Effects keyed and returning secrets, steps, events, decisions, errors, retries, a
    dead letter and its replay, children, a chain: no table holds a secret in any form."""
    app = make_app(encryption_key=KEY)
    jobs = declare(app)
    card = {"number": CARD, "cvc": 123}
    ok = jobs["signup"].enqueue(email=EMAIL, card=card, fail="once")
    dead = jobs["signup"].enqueue(email="b" + EMAIL, card=card, fail="always")
    app.chain(*[jobs["charge_child"].prepare(card=CARD, order=n) for n in (2, 3)])
    drain(app)
    assert app.get(ok.id).status is Status.SUCCEEDED
    assert app.get(dead.id).status is Status.DEAD
    assert_nowhere(dump(db_url), EMAIL, CARD, "b" + EMAIL)
    app.replay(dead.id)
    drain(app)
    again = app.get(dead.id)
    assert again.status is Status.DEAD and again.attempts == 2
    assert MASK in again.error.message  # type: ignore[union-attr]
    children = app.jobs(job_name="charge_child")
    assert len(children) == 8 and all(j.status is Status.SUCCEEDED for j in children)
    assert_nowhere(dump(db_url), EMAIL, CARD, "b" + EMAIL)


def test_views_show_the_mask_never_a_ciphertext(make_app: Callable[..., App]) -> None:
    """``App.get`` and ``App.effects`` show a redacted argument, effect key and result as
    the mask, not the envelope nor the value."""
    app = make_app(encryption_key=KEY)
    jobs = declare(app)
    handle = jobs["signup"].enqueue(email=EMAIL, card={"number": CARD}, fail="never")
    drain(app)
    job = app.get(handle.id)
    assert job.args == {"email": MASK, "card": MASK, "fail": "never"}
    assert MARKER not in job.raw_payload and EMAIL not in job.raw_payload
    (effect,) = app.effects(handle.id)
    assert effect.key == MASK and effect.result == json.dumps(MASK)


def test_a_worker_without_the_key_fails_the_attempt_and_a_replay_runs_it(
        make_app: Callable[..., App]) -> None:
    """A worker with no key, or another one, does not run the job: the attempt fails with
    a `DecryptionError` naming the key id it needs, the job follows its retry policy to
    the dead letters, and a replay once a worker has the key runs it."""
    producer = make_app(encryption_key=KEY)
    handle = declare(producer)["signup"].enqueue(email=EMAIL, card={"number": CARD},
                                                 fail="never")
    kid = producer.keyring.current.kid  # type: ignore[union-attr]
    for keys in ({}, {"encryption_key": OTHER_KEY}):
        blind = make_app(**keys)
        declare(blind)
        drain(blind)
        job = blind.get(handle.id)
        assert job.status is Status.DEAD and job.attempts == 2
        assert job.error is not None and job.error.type == DecryptionError.__name__
        assert f"key id {kid!r}" in job.error.message
        blind.replay(handle.id)
    drain(producer)
    assert producer.get(handle.id).status is Status.SUCCEEDED


def test_rotation_moves_every_value_to_the_new_key_and_the_old_key_can_go(
        make_app: Callable[..., App], db_url: str) -> None:
    """After a rotation under old and new keys, an app with only the new key runs waiting
    jobs and the rest of a chain, and replays a dead one (its effect done before is not
    repeated); a second rotation finds nothing; each batch is a ``keys rotated`` event on
    job 0 naming the actor."""
    old = make_app(encryption_key=OLD_KEY)
    jobs = declare(old)
    dead = jobs["signup"].enqueue(email=EMAIL, card={"number": CARD}, fail="always")
    drain(old)
    waiting = jobs["signup"].enqueue(email="w" + EMAIL, card={"number": CARD}, fail="never")
    chained = old.chain(*[jobs["charge_child"].prepare(card=CARD, order=n) for n in (7, 8)])
    both = make_app(encryption_key=KEY, old_encryption_keys=[OLD_KEY])
    both.actor = "ops:rotator"
    report = rotate(both.store, both.keyring, batch=2)  # type: ignore[arg-type]
    assert report.rotated == {"jobs": 5, "groups": 1, "effects": 1, "receipts": 1}
    assert report.old_kids == {old.keyring.current.kid}  # type: ignore[union-attr]
    assert rotate(both.store, both.keyring).values == 0  # type: ignore[arg-type]
    rotated = [e for e in both.store.events(0) if (e.kind, e.name) == ("keys", "rotated")]
    assert rotated and all(e.attrs["actor"] == "ops:rotator" for e in rotated)
    assert sum(e.attrs["rows"] for e in rotated) == sum(report.rotated.values())
    old_kid = old.keyring.current.kid  # type: ignore[union-attr]
    stored = dump(db_url).replace('\\"', '"')
    assert f'"kid":"{old_kid}"' not in stored and f"jobtrail:sealed:{old_kid}" not in stored

    new = make_app(encryption_key=KEY)
    declare(new)
    drain(new)
    assert new.get(waiting.id).status is Status.SUCCEEDED
    assert chained.state().state == "done"
    assert [j.status for j in new.jobs(job_name="charge_child")].count(Status.SUCCEEDED) == 5
    new.replay(dead.id)
    drain(new)
    path = [e for e in new.get(dead.id).path if e.kind == "effect"]
    assert path[-1].attrs.get("replayed") is True
    assert_nowhere(dump(db_url), EMAIL, CARD, "w" + EMAIL)


def test_rotation_stops_at_a_value_under_an_unknown_key_writing_nothing_of_its_batch(
        make_app: Callable[..., App], db_url: str) -> None:
    """A value under a key the keyring lacks stops the rotation with a `DecryptionError`
    naming its key id; the batch holding it is left as it was."""
    stranger = make_app(encryption_key=OTHER_KEY)
    declare(stranger)["charge_child"].enqueue(card=CARD, order=1)
    old = make_app(encryption_key=OLD_KEY)
    declare(old)["charge_child"].enqueue(card=CARD, order=2)
    before = rawsql.fetch(db_url, "SELECT id, payload FROM jobtrail_jobs ORDER BY id")
    both = make_app(encryption_key=KEY, old_encryption_keys=[OLD_KEY])
    with pytest.raises(DecryptionError,
                       match=stranger.keyring.current.kid):  # type: ignore[union-attr]
        rotate(both.store, both.keyring)  # type: ignore[arg-type]
    assert rawsql.fetch(db_url, "SELECT id, payload FROM jobtrail_jobs ORDER BY id") == before
    assert not [e for e in both.store.events(0) if e.kind == "keys"]


def test_without_a_key_redacted_arguments_are_stored_in_clear(
        make_app: Callable[..., App], db_url: str) -> None:
    """Without an encryption key the payload keeps its values (so the worker can run it),
    and views still mask them."""
    app = make_app()
    handle = declare(app)["charge_child"].enqueue(card=CARD, order=1)
    assert CARD in dump(db_url)
    assert app.get(handle.id).args == {"card": MASK, "order": 1}
