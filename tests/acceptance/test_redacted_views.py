"""No command prints a redacted value: ``jobs show``, ``jobs list``, ``dlq show``,
``paths show`` and ``dlq resolve``, as tables and as JSON, with the app or only its
database URL."""

from __future__ import annotations

import textwrap

from tests.acceptance.conftest import Cli

CARD = "4111111111111111"

VAULT_SOURCE = textwrap.dedent(
    '''
    """Charges a card it must never show."""

    from jobtrail import App, Context, Permanent, Retry

    app = App("sqlite:///vault.db")


    @app.job(redact=["card"], retry=Retry(max_attempts=1))
    def charge(ctx: Context, invoice: int, card: str) -> dict:
        receipt = ctx.effect("charge", lambda: {"card": card}, key=f"charge-{invoice}-{card}")
        ctx.event("charged", card=card)
        if invoice == 2:
            raise Permanent(f"card {card} declined after charging")
        return {"paid_with": card, "receipt": receipt}
    '''
)


def test_no_command_prints_a_redacted_value(cli: Cli) -> None:
    """A worker runs two charges (one ends dead); every view of them masks the card."""
    (cli.cwd / "vault.py").write_text(VAULT_SOURCE)
    for invoice in (1, 2):
        enqueued = cli("enqueue", "vault:app", "charge", "--args-json",
                       f'{{"invoice": {invoice}, "card": "{CARD}"}}')
        assert enqueued.code == 0, enqueued.stderr
    worked = cli("worker", "vault:app", "--burst")
    assert worked.code == 0, worked.stderr
    url = "sqlite:///vault.db"
    outputs = []
    for source in (["--app", "vault:app"], ["--url", url]):
        for command in (["jobs", "show", "1"], ["jobs", "show", "2"], ["jobs", "list"],
                        ["dlq", "show", "2"], ["dlq", "list"], ["paths", "show", "2"]):
            for form in ([], ["--json"]):
                run = cli(*command, *source, *form)
                assert run.code == 0, (command, run.stderr)
                outputs.append((command, form, run.stdout + run.stderr))
    resolved = cli("dlq", "resolve", "2", "charge", "not_done", "--url", url)
    outputs.append((["dlq", "resolve"], [], resolved.stdout + resolved.stderr))
    leaks = [(command, form) for command, form, text in outputs if CARD in text]
    assert leaks == []
    shown = cli("jobs", "show", "1", "--url", url, "--json").json()
    assert shown["job"]["args"]["card"] == "[redacted]"
    assert shown["job"]["result"] == {"paid_with": "[redacted]", "receipt": {"card": "[redacted]"}}
    assert [e["key"] for e in shown["effects"]] == ["charge-1-[redacted]"]
    table = cli("dlq", "show", "2", "--url", url).stdout
    assert "Effects" in table and "charge-2-[redacted]" in table
