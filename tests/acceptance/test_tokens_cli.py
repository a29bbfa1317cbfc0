"""``jobtrail tokens create | revoke | list`` in a subprocess, on both backends: a token
shown once and stored hashed, its creation and revocation on the audit trail under the OS
user, and bad input refused on one line with nothing written."""

from __future__ import annotations

import getpass
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from jobtrail import App, NotAuthenticated
from tests.acceptance.conftest import Cli
from tests.support import rawsql


def stored(db_url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every token row and every event row, to compare before and after a command."""
    return (rawsql.fetch(db_url, "SELECT * FROM jobtrail_tokens ORDER BY id"),
            rawsql.fetch(db_url, "SELECT * FROM jobtrail_events ORDER BY id"))


def test_create_shows_the_token_once_and_it_authenticates(
        cli: Cli, db_url: str, make_app: Callable[..., App]) -> None:
    """``create`` prints the token on its first line and says it will not be shown again;
    the token authenticates as ``token:alice``; ``list`` never shows it nor its hash."""
    app = make_app()
    done = cli("tokens", "create", "--role", "operator", "--name", "alice", "--url", db_url)
    assert done.code == 0, done.stderr
    token, note = done.stdout.splitlines()
    assert token.startswith("jt_") and len(token) == 46
    assert note == "created token 'alice' (operator); it will not be shown again: store it now"
    assert app.authenticate(token).label == "token:alice"
    listed = cli("tokens", "list", "--url", db_url)
    as_json = cli("tokens", "list", "--url", db_url, "--json")
    assert listed.code == as_json.code == 0
    digest = hashlib.sha256(token.encode()).hexdigest()
    for output in (listed.stdout, as_json.stdout):
        assert token not in output and token[3:] not in output and digest not in output
    header, _, row = listed.stdout.splitlines()[:3]
    assert header.split("  ")[0] == "name" and "created by" in header and "last used" in header
    assert row.split()[:2] == ["alice", "operator"] and f"os:{getpass.getuser()}" in row
    assert header.index("role") == row.index("operator")


def test_create_as_json_gives_the_token_and_its_record(cli: Cli, db_url: str,
                                                       make_app: Callable[..., App]) -> None:
    """``create --json`` prints one object: the token, its name, role and creator."""
    make_app()
    done = cli("tokens", "create", "--role", "viewer", "--name", "ci-bot", "--json",
               "--url", db_url)
    assert done.code == 0, done.stderr
    answer = done.json()
    assert answer["token"].startswith("jt_")
    assert {k: answer[k] for k in ("name", "role", "live", "created_by", "revoked_at")} == {
        "name": "ci-bot", "role": "viewer", "live": True,
        "created_by": f"os:{getpass.getuser()}", "revoked_at": None}


def test_revoke_ends_a_token_and_the_trail_records_both_and_verifies(
        cli: Cli, db_url: str, make_app: Callable[..., App]) -> None:
    """After ``revoke`` the token no longer authenticates and ``list`` shows who revoked
    it; the trail holds ``token_created`` and ``token_revoked`` by the OS user, and
    ``audit verify`` exits 0."""
    app = make_app()
    token = cli("tokens", "create", "--role", "admin", "--name", "alice", "--json",
                "--url", db_url).json()["token"]
    done = cli("tokens", "revoke", "alice", "--url", db_url)
    assert done.code == 0, done.stderr
    assert done.stdout.strip() == "revoked token 'alice' (admin)"
    with pytest.raises(NotAuthenticated):
        app.authenticate(token)
    (record,) = cli("tokens", "list", "--json", "--url", db_url).json()
    user = f"os:{getpass.getuser()}"
    assert record["live"] is False and record["revoked_by"] == user
    verified = cli("audit", "verify", "--url", db_url)
    assert verified.code == 0, verified.stderr
    exported = [json.loads(line) for line in
                cli("audit", "export", "--url", db_url).stdout.splitlines()]
    access = [(e["job_id"], e["name"], json.loads(e["attrs"])) for e in exported
              if e["type"] == "event" and e["kind"] == "access"]
    assert access == [
        (0, "token_created", {"name": "alice", "role": "admin", "actor": user}),
        (0, "token_revoked", {"name": "alice", "role": "admin", "actor": user})]


def test_an_empty_list_says_how_to_create_one(cli: Cli, db_url: str,
                                              make_app: Callable[..., App]) -> None:
    """With no token, ``list`` says so and how to make one; ``--json`` is an empty array."""
    make_app()
    assert "no tokens yet" in cli("tokens", "list", "--url", db_url).stdout
    assert cli("tokens", "list", "--json", "--url", db_url).json() == []


BAD_INPUT = [
    (("create", "--role", "root", "--name", "bob"), 2,
     "error: role 'root' does not exist: choose one of viewer, operator, admin"),
    (("create", "--role", "viewer", "--name", ""), 2, "error: token name '': empty"),
    (("create", "--role", "viewer", "--name", "b" * 65), 2, "is 65 characters long"),
    (("create", "--role", "viewer", "--name", "bob\nadmin"), 2,
     r"error: token name 'bob\nadmin' cannot be used"),
    (("create", "--role", "viewer", "--name", "bob\x1b[2J"), 2,
     r"error: token name 'bob\x1b[2J' cannot be used"),
    (("create", "--role", "viewer", "--name", "-x"), 2, "cannot be used"),
    (("create", "--role", "admin", "--name", "alice"), 2,
     "error: a live token is already named 'alice'"),
    (("create", "--name", "bob"), 2, "Missing option '--role'"),
    (("revoke", "ghost"), 3, "error: no token is named 'ghost'"),
    (("revoke", "carol"), 3, "error: token 'carol' is already revoked"),
    (("revoke", "bad name"), 2, "error: token name 'bad name' cannot be used"),
]


@pytest.mark.parametrize(("args", "code", "said"), BAD_INPUT,
                         ids=[" ".join(args).replace("\n", "\\n") for args, _, _ in BAD_INPUT])
def test_bad_input_is_one_line_a_non_zero_exit_and_nothing_written(
        cli: Cli, db_url: str, make_app: Callable[..., App], args: tuple[str, ...],
        code: int, said: str) -> None:
    """An unknown role, an unusable name (empty, too long, control characters), a live
    name taken, an unknown or revoked name to revoke: one line on stderr saying what is
    wrong, exit 2 (usage) or 3 (not found), and no row written or changed."""
    app = make_app()
    app.tokens.create("alice", "operator")
    app.tokens.create("carol", "viewer")
    app.tokens.revoke("carol")
    before = stored(db_url)
    done = cli("tokens", *args, "--url", db_url)
    assert done.code == code
    assert said in done.error_line()
    assert done.stdout == ""
    assert stored(db_url) == before
