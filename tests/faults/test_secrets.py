"""Secrets stay out of what jobtrail stores: a redacted value in any of the forms text
gives it."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote, urlencode

import pytest

from jobtrail import App, Context, Retry
from jobtrail.paths.redaction import MASK, Redactor
from jobtrail.store import parse_url
from jobtrail.testing import run_until_idle
from tests.support import rawsql

#: A literal backslash (repr doubles it) and non-ASCII letters (escaped by ascii, JSON,
#: bytes and percent-encoding); every form keeps the letters "SECRET" side by side.
SECRET = "Pässwört\\SECRET"
MARK = "SECRET"

ENCODERS: dict[str, Callable[[str], str]] = {
    "raw": lambda text: text,
    "repr": repr,
    "ascii": ascii,
    "json": json.dumps,
    "json-unicode": lambda text: json.dumps(text, ensure_ascii=False),
    "list": lambda text: str([text]),
    "dict": lambda text: str({"given": text, "quote": "it's \"x\""}),
    "inside-longer-repr": lambda text: repr(f"it's \"{text}\""),
    "bytes": lambda text: repr(text.encode("utf-8")),
    "percent": lambda text: quote(text, safe=""),
    "percent-lower": lambda text: quote(text, safe="").replace("%C3%A4", "%c3%a4")
    .replace("%C3%B6", "%c3%b6").replace("%5C", "%5c"),
    "url-path": quote,
    "form": lambda text: urlencode({"pw": text}),
    "repr-of-repr": lambda text: repr(f"bad {text!r}"),
    "json-of-repr": lambda text: json.dumps(f"bad {text!r}"),
}


@pytest.mark.parametrize("how", sorted(ENCODERS))
def test_a_redactor_masks_every_form_of_a_secret_in_text(how: str) -> None:
    """Each encoding of a declared value, inside other text, is masked whole."""
    redactor = Redactor(["password"], {"password": SECRET})
    leaked = f"login failed: {ENCODERS[how](SECRET)} (try again)"
    masked = redactor.text(leaked)
    assert MARK not in masked
    assert MASK in masked and masked.startswith("login failed: ")
    assert masked.endswith(" (try again)")


def test_short_values_are_still_masked_only_under_their_field() -> None:
    """A value under 3 characters is left in free text, as before, but not under its key."""
    redactor = Redactor(["pin"], {"pin": "42"})
    assert redactor.text("tried '42'") == "tried '42'"
    assert redactor.value({"pin": "42", "note": "x"}) == {"pin": MASK, "note": "x"}


def _cells(url: str) -> list[tuple[str, str, str]]:
    """(table, column, text) of every value in every jobtrail table but the payloads."""
    backend, _ = parse_url(url)
    if backend == "sqlite":
        tables = [row[0] for row in rawsql.fetch(
            url, "SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, 9) = 'jobtrail_'")]
    else:
        tables = [row[0] for row in rawsql.fetch(
            url, "SELECT tablename FROM pg_tables WHERE left(tablename, 9) = 'jobtrail_'")]
    cells = []
    for table in tables:
        if backend == "sqlite":
            columns = [row[1] for row in rawsql.fetch(url, f"PRAGMA table_info({table})")]
        else:
            columns = [row[0] for row in rawsql.fetch(
                url, "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "ORDER BY ordinal_position", (table,))]
        for row in rawsql.fetch(url, f"SELECT * FROM {table}"):
            for column, value in zip(columns, row, strict=True):
                if value is not None and (table, column) != ("jobtrail_jobs", "payload"):
                    cells.append((table, column, str(value)))
    return cells


def test_no_form_of_a_redacted_value_reaches_any_table(
    make_app: Callable[..., App], db_url: str
) -> None:
    """Jobs that leak a password in every encoding, run by a real worker, store none."""
    app = make_app()

    @app.job(redact=["password"], retry=Retry(max_attempts=2, base=0, jitter="none"),
             expect="event(tried) step(lookup)")
    def login(ctx: Context, user: str, password: str, how: str) -> None:
        leaked = ENCODERS[how](password)
        ctx.event("tried", detail=leaked, user=user)
        ctx.decide("route", leaked)
        ctx.step("lookup", lambda: {"seen": leaked})
        raise PermissionError(f"bad password {password!r} for {user}: {leaked}")

    handles = {how: login.enqueue("ada", SECRET, how) for how in ENCODERS}
    run_until_idle(app)
    for how, handle in handles.items():
        job = handle.get()
        assert job.status == "dead", how
        assert job.error is not None and MASK in job.error.message, how
    leaks = [cell for cell in _cells(db_url) if MARK in cell[2]]
    assert leaks == [], "\n".join(map(repr, leaks))
    stored = {table for table, _, _ in _cells(db_url)}
    assert {"jobtrail_jobs", "jobtrail_events", "jobtrail_divergences"} <= stored
