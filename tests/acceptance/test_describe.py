"""``jobtrail describe``: each job type's guarantee and why, retry policy, key, arguments
and effects, read from the code alone."""

from __future__ import annotations

import textwrap

import pytest

from tests.acceptance.conftest import Cli

BILLING_SOURCE = textwrap.dedent(
    '''
    """Job types with every kind of guarantee, for describe."""

    from jobtrail import App, Context, Retry

    app = App("sqlite:///billing.db")


    @app.job(
        queue="billing", retry=Retry(max_attempts=5, give_up_on=KeyError), timeout=30,
        idempotency_key=lambda invoice_id, note: f"inv-{invoice_id}",
    )
    def charge(ctx: Context, invoice_id: int, note: str | None = None) -> str:
        """Charge an invoice and send its receipt.

        Not part of the summary.
        """
        ctx.effect("charge", print, invoice_id, key=f"charge-{invoice_id}")
        ctx.effect("send_receipt", print, invoice_id, key=f"receipt-{invoice_id}")
        return "paid"


    @app.job(queue="mail", retry=Retry(max_attempts=5))
    def welcome(ctx: Context, user_id: int) -> None:
        ctx.effect("email", print, user_id)


    @app.job(retry=Retry(max_attempts=1))
    async def ping(host: str) -> None:
        return None


    @app.job(guarantee="effectively_once")
    def sync(ctx: Context, items: list[int]) -> None:
        ctx.effect("push", print, items)
    '''
)

#: Keys of each job type in ``describe --json``.
DESCRIBE_KEYS = {
    "name", "queue", "doc", "guarantee", "guarantee_declared", "guarantee_reason", "retry",
    "timeout", "idempotency_key", "is_async", "arguments", "effects", "owner", "runbook",
    "description", "schedule", "expect", "limits", "queue_policy", "breaker",
}
RETRY_KEYS = {
    "max_attempts", "base", "cap", "jitter", "retry_on", "give_up_on", "retry_unknown", "text",
}
CHARGE_RETRY = (
    "5 attempts, backoff 1s\N{MULTIPLICATION SIGN}2\N{SUPERSCRIPT LATIN SMALL LETTER N} "
    "capped at 300s, full jitter; retries unknown errors; gives up on KeyError"
)


@pytest.fixture
def billing(cli: Cli) -> str:
    """``billing.py`` in the working directory; returns its MODULE:APP."""
    (cli.cwd / "billing.py").write_text(BILLING_SOURCE)
    return "billing:app"


def test_describe_shows_each_guarantee_with_its_reason(cli: Cli, billing: str) -> None:
    """Every job type gets its guarantee, declared or derived, with a one-line reason; no database is touched."""
    run = cli("describe", billing)
    assert run.code == 0, run.stderr
    for line in (
        "effectively_once — derived: every effect is keyed: charge, send_receipt",
        "at_least_once — derived: retried up to 5 attempts and effect 'email' has no key",
        "at_most_once — derived: one attempt only",
        "effectively_once — declared; the code alone shows at_least_once: retried up to 3 "
        "attempts and effect 'push' has no key",
    ):
        assert line in run.stdout
    assert not (cli.cwd / "billing.db").exists()


def test_describe_one_job_shows_its_policy_key_arguments_and_effects(
    cli: Cli, billing: str
) -> None:
    """describe APP JOB shows only that job: retry policy in words, timeout, key, arguments, effects, docstring."""
    run = cli("describe", billing, "charge")
    assert run.code == 0, run.stderr
    out = run.stdout
    assert CHARGE_RETRY in out
    assert "30s per attempt" in out
    assert 'lambda invoice_id, note: f"inv-{invoice_id}"' in out
    assert "invoice_id: int, note: str | None (optional)" in out
    assert "Charge an invoice and send its receipt." in out
    assert "Not part of the summary" not in out
    assert "send_receipt" in out and "keyed" in out
    assert "welcome" not in out and "ping" not in out


def test_describe_json_has_stable_keys(cli: Cli, billing: str) -> None:
    """--json is an array of job types sorted by name, or one object for JOB, with the same keys."""
    everything = cli("describe", billing, "--json").json()
    assert [job["name"] for job in everything] == ["charge", "ping", "sync", "welcome"]
    assert all(set(job) == DESCRIBE_KEYS for job in everything)
    assert all(set(job["retry"]) == RETRY_KEYS for job in everything)
    charge = cli("describe", billing, "charge", "--json").json()
    assert charge == everything[0]
    assert (charge["queue"], charge["guarantee"], charge["guarantee_declared"]) == (
        "billing", "effectively_once", False,
    )
    assert charge["retry"]["text"] == CHARGE_RETRY
    assert charge["retry"]["give_up_on"] == ["KeyError"]
    assert charge["timeout"] == 30
    assert charge["arguments"] == [
        {"name": "invoice_id", "type": "int", "required": True},
        {"name": "note", "type": "str | None", "required": False},
    ]
    assert [(e["name"], e["keyed"], e["repeat_safe"]) for e in charge["effects"]] == [
        ("charge", True, False), ("send_receipt", True, False),
    ]
    ping = everything[1]
    assert (ping["guarantee"], ping["is_async"], ping["idempotency_key"]) == (
        "at_most_once", True, None,
    )
    assert ping["effects"] == [] and ping["doc"] is None
    assert everything[2]["guarantee_declared"] is True


def test_describe_unknown_job_is_not_found(cli: Cli, billing: str) -> None:
    """An unknown JOB exits 3 with one line naming the known job types."""
    run = cli("describe", billing, "refund")
    assert run.code == 3
    assert run.error_line() == "error: no job named 'refund' (known: charge, ping, sync, welcome)"


CATALOG_SOURCE = textwrap.dedent(
    '''
    from jobtrail import App

    app = App("sqlite:///catalog.db")
    app.queue("billing", max_depth=5000, concurrency_limit=4, paused=True)


    @app.job(cron="0 9 * * 1-5", tz="Europe/Paris", catch_up=2, owner="payments",
             runbook="https://wiki.example/runbooks/invoices", expect="gather send")
    def send_invoices(ctx) -> None:
        """Send the day's invoices.

        Runs on weekday mornings.
        """
        ctx.step("gather", list)
        ctx.step("send", list)


    @app.job(every=300, description="Refresh the exchange rates.", queue="billing",
             concurrency_limit=2, concurrency_key=lambda: "all", rate_limit="100/m")
    def refresh_rates() -> None:
        return None
    '''
)


def test_describe_shows_the_catalog_and_the_schedule(cli: Cli) -> None:
    """Owner, runbook, description (given, or the docstring's first paragraph), schedule and
    expected path, in JSON and in the panel."""
    (cli.cwd / "catalog.py").write_text(CATALOG_SOURCE)
    done = cli("describe", "catalog:app", "--json")
    assert done.code == 0, done.stderr
    invoices, rates = done.json()[1], done.json()[0]
    assert set(invoices) == DESCRIBE_KEYS
    assert (invoices["owner"], invoices["runbook"], invoices["description"]) == (
        "payments", "https://wiki.example/runbooks/invoices", "Send the day's invoices.")
    assert invoices["schedule"] == {"text": "cron 0 9 * * 1-5 (Europe/Paris)",
                                    "cron": "0 9 * * 1-5", "every": None,
                                    "tz": "Europe/Paris", "catch_up": 2}
    assert invoices["expect"] == "gather send"
    assert rates["description"] == "Refresh the exchange rates." and rates["owner"] is None
    assert rates["schedule"]["text"] == "every 300 s"
    assert rates["limits"] == {"concurrency_limit": 2, "concurrency_key": 'lambda: "all"',
                               "rate_limit": "100/m"}
    assert rates["queue_policy"] == {"name": "billing", "max_depth": 5000, "max_latency": None,
                                     "concurrency_limit": 4, "rate_limit": None, "paused": True}
    assert invoices["queue_policy"] is None and invoices["limits"]["rate_limit"] is None
    limited = cli("describe", "catalog:app", "refresh_rates", COLUMNS="200")
    assert ('2 at once per lambda: "all"; at most 100/m; queue billing: max depth 5000, '
            "concurrency 4, paused") in limited.stdout, limited.stdout
    panel = cli("describe", "catalog:app", "send_invoices", COLUMNS="200")
    assert panel.code == 0, panel.stderr
    for text in ("Schedule", "cron 0 9 * * 1-5 (Europe/Paris), catches up to 2 missed ticks",
                 "Owner", "payments", "Runbook", "https://wiki.example/runbooks/invoices",
                 "Expected path", "gather send", "Send the day's invoices."):
        assert text in panel.stdout, panel.stdout
