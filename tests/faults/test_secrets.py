"""Secrets stay out of what jobtrail stores and prints: a redacted value in any of the
forms text gives it, and the password of a database URL in any message or printout."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote, urlencode

import pytest

from jobtrail import App, Context, Retry
from jobtrail.errors import ArgumentError, ConfigurationError
from jobtrail.redaction import MASK, Redactor
from jobtrail.store import parse_url, redact_url
from jobtrail.testing import run_until_idle
from tests.acceptance.conftest import Cli
from tests.conftest import _empty_pg
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


PASSWORD = "hunter2-Zx"

URLS = [
    f"postgresql://ada:{PASSWORD}@[::1/jobs",
    f"postgresql://ada:{PASSWORD}%zz@127.0.0.1/jobs",
    f"postgresql://ada:{PASSWORD}/x@db:5432/jobs",
    f"mysql://ada:{PASSWORD}@db/jobs",
    f"redis://:{PASSWORD}@localhost:6379/0",
    f"host=db user=ada password={PASSWORD} dbname=jobs",
    f"host=db password='{PASSWORD} with spaces' dbname=jobs",
    f"postgresql+psycopg://db/jobs?password={PASSWORD}",
]
URL_IDS = ["ipv6", "bad-percent", "slash", "mysql", "redis", "keywords", "quoted", "query"]


@pytest.mark.parametrize("url", URLS, ids=URL_IDS)
def test_url_errors_never_show_the_password(url: str) -> None:
    """Malformed and unsupported URLs are one `ConfigurationError` with the password hidden."""
    with pytest.raises(ConfigurationError) as caught:
        App(url)
    message = str(caught.value)
    assert PASSWORD not in message and "hunter" not in message
    assert "***" in message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ada:pw@db/jobs", "postgresql://ada:***@db/jobs"),
        ("postgresql://ada:p@ss/w?rd@db:5432/jobs?sslmode=require",
         "postgresql://ada:***@db:5432/jobs?sslmode=require"),
        ("postgresql://ada@db/jobs?sslmode=require&password=pw&x=1",
         "postgresql://ada@db/jobs?sslmode=require&password=***&x=1"),
        ("postgresql://db/jobs?sslpassword=pw", "postgresql://db/jobs?sslpassword=***"),
        ("host=db password=pw dbname=jobs", "host=db password=*** dbname=jobs"),
        ("host=db password = 'a b\\' c' dbname=jobs", "host=db password = *** dbname=jobs"),
        ("postgresql://ada@db/jobs", "postgresql://ada@db/jobs"),
        ("sqlite:///data/jobs.db", "sqlite:///data/jobs.db"),
    ],
)
def test_redact_url_hides_every_way_of_giving_a_password(url: str, shown: str) -> None:
    """User info up to the last @, password= parameters and settings are hidden; nothing else."""
    assert redact_url(url) == shown


def test_the_app_repr_hides_the_password() -> None:
    """``repr(App(...))`` shows where the database is, not how to log in to it."""
    app = App(f"postgresql://ada:{PASSWORD}@db:5432/jobs")
    assert "postgresql://ada:***@db:5432/jobs" in repr(app)
    assert PASSWORD not in repr(app)


@pytest.mark.parametrize("url", URLS, ids=URL_IDS)
def test_the_cli_never_prints_a_password_of_a_bad_url(cli: Cli, url: str) -> None:
    """``jobs list --url`` with a bad URL exits 2 with one line, the password hidden."""
    run = cli("jobs", "list", "--url", url)
    assert run.code == 2
    assert PASSWORD not in run.error_line()
    assert PASSWORD not in run.stdout


def test_the_demo_never_prints_its_database_password(
    cli: Cli, pg_url: str
) -> None:
    """``jobtrail demo --url`` with a password shows *** in its next steps and errors."""
    _empty_pg(pg_url)
    scheme, rest = pg_url.split("://", 1)
    user, host = rest.split("@", 1)
    url = f"{scheme}://{user}:{PASSWORD}@{host}"  # the server trusts local users
    run = cli("demo", "--url", url, "--jobs", "5", timeout=120)
    assert run.code == 0, run.stderr
    assert PASSWORD not in run.stdout + run.stderr
    assert f"export JOBTRAIL_URL='{scheme}://{user}:***@{host}'" in run.stdout
    assert 'jobs list --url "$JOBTRAIL_URL"' in run.stdout
    assert "put its password in place of ***" in run.stdout
    again = cli("demo", "--url", url, "--jobs", "5", timeout=120)
    assert again.code == 2
    assert again.error_line().startswith(f"error: {scheme}://{user}:***@{host} already holds jobs")
    _empty_pg(pg_url)


@pytest.mark.parametrize("card", ["4111-1111-SECRET", "4111-1111-SECRET-" + "9" * 300],
                         ids=["short", "cut-short-in-the-reason"])
def test_an_orphaned_payload_never_quotes_a_redacted_value(
    make_app: Callable[..., App], card: str,
) -> None:
    """A payload that no longer fits after a deploy is orphaned with a reason that masks the
    declared-sensitive value it quotes, also when the reason quotes only its start."""
    app = make_app()

    @app.job(name="pay", redact=["card"])
    def pay_v1(card: str) -> None: ...

    handle = pay_v1.enqueue(card=card)
    deployed = App(app.url)
    try:

        @deployed.job(name="pay", redact=["card"])
        def pay_v2(card: int) -> None: ...

        run_until_idle(deployed)
        job = deployed.get(handle.id)
        assert job.status == "orphaned" and job.error is not None
        assert MARK not in job.error.message and MASK in job.error.message
    finally:
        deployed.close()


def test_an_enqueue_refused_never_quotes_a_redacted_value(make_app: Callable[..., App]) -> None:
    """The errors of an enqueue that is refused — an argument of the wrong type, a key
    function that fails, a key too long — quote the job's sensitive values masked, and
    carry no exception that still holds them."""
    app = make_app()
    card = "4111-1111-SECRET-" + "9" * 300

    @app.job(redact=["card"])
    def pay(card: str, amount: int) -> None: ...

    @app.job(redact=["card"], idempotency_key=lambda card: card[1000])
    def keyed(card: str) -> None: ...

    enqueues: list[Callable[[], object]] = [
        lambda: pay.enqueue(card, amount=card),  # type: ignore[arg-type]
        lambda: keyed.enqueue(card=card),
        lambda: pay.options(idempotency_key=card).enqueue(card=card, amount=1),
        lambda: pay.enqueue(card=card, amount=1, idempotency_key=card),  # type: ignore[call-arg]
    ]
    refusals = []
    for enqueue in enqueues:
        with pytest.raises(ArgumentError) as refused:
            enqueue()
        refusals.append(refused.value)
    for error in refusals:
        assert MARK not in str(error), str(error)
        assert error.__cause__ is None or MARK not in str(error.__cause__)
    assert MASK in str(refusals[0]) and MASK in str(refusals[1])
    assert app.jobs() == []  # nothing was stored


def test_a_redacted_argument_left_to_its_default_is_masked_too(make_app: Callable[..., App]) -> None:
    """A job that runs with the default value of a declared-sensitive argument (a token read
    from the environment at import, say) masks that value as it masks a passed one."""
    app = make_app()
    token = "tok-SECRET-from-the-environment"

    @app.job(redact=["token"], retry=Retry(max_attempts=1))
    def sync(ctx: Context, account: int, token: str = token) -> None:
        ctx.event("called", token=token, account=account)
        raise PermissionError(f"token {token} refused for account {account}")

    handle = sync.enqueue(account=7)
    run_until_idle(app)
    job = app.get(handle.id)
    assert job.status == "dead" and job.error is not None
    assert MASK in job.error.message and MARK not in job.error.message
    assert MARK not in job.error.traceback
    shown = json.dumps([e.attrs for e in job.path], default=str)
    assert MARK not in shown and MASK in shown
    dry = sync.dry_run(account=7)
    assert dry.error is not None and MARK not in dry.error.message


class _NoText:
    """A value whose text cannot be made."""

    def __str__(self) -> str:
        raise RuntimeError("no text")

    __repr__ = __str__


def test_a_refused_enqueue_of_hostile_values_still_says_what_was_refused(
    make_app: Callable[..., App],
) -> None:
    """Values a redactor cannot read (a list holding itself, an object without text) under a
    declared-sensitive field still end in a clear ArgumentError that quotes nothing of them,
    and nothing is stored."""
    app = make_app()

    @app.job(redact=["card"])
    def pay(card: list[int]) -> None: ...

    looped: list[object] = [1]
    looped.append(looped)
    for card in (looped, [_NoText()]):
        with pytest.raises(ArgumentError) as refused:
            pay.enqueue(card=card)  # type: ignore[arg-type]
        assert "job 'pay'" in str(refused.value) and refused.value.__cause__ is None
    assert app.jobs() == []
