"""``jobtrail flows``: show, lock, the CI gate and its exit codes (in a subprocess)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.conftest import Cli

SOURCE = '''
from jobtrail import App, Context

app = App("sqlite:///flows.db")

@app.job(expect="load decide:paid=true exit:paid | load decide:paid=false effect:charge save")
def bill(ctx: Context, invoice: int) -> None:
    ctx.step("load", lambda: invoice)
    if ctx.decide("paid", invoice % 2 == 0):
        return ctx.exit("paid")
    ctx.effect("charge", lambda: "ch", key=f"charge-{invoice}")
    ctx.step("save", lambda: True)
'''


def write(tmp_path: Path, source: str) -> None:
    (tmp_path / "billing.py").write_text(source)


def test_flows_show_prints_mermaid_dot_and_text(cli: Cli, tmp_path: Path) -> None:
    """Each format names the job's steps, decision values and exit."""
    write(tmp_path, SOURCE)
    mermaid = cli("flows", "show", "billing:app", "bill", "--format", "mermaid")
    assert mermaid.code == 0, mermaid.stderr
    assert mermaid.stdout.startswith("flowchart TD") and '"paid=true"' in mermaid.stdout
    dot = cli("flows", "show", "billing:app", "--format", "dot")
    assert dot.code == 0 and "digraph" in dot.stdout and "exit:paid" in dot.stdout
    unknown = cli("flows", "show", "billing:app", "nope")
    assert unknown.code == 2 and "nope" in unknown.error_line()


def test_the_ci_gate_fails_on_a_lost_step_then_on_lint_then_passes(cli: Cli, tmp_path: Path) -> None:
    """check exits 1 on a flow change against the lock, 2 on a lint finding, 0 when clean."""
    write(tmp_path, SOURCE)
    missing = cli("flows", "check", "billing:app")
    assert missing.code == 1 and "flows lock" in missing.error_line()
    assert cli("flows", "lock", "billing:app").code == 0
    locked = json.loads((tmp_path / "jobtrail.flows.json").read_text())
    assert locked["jobs"]["bill"]["steps"] == ["load", "save"]
    assert locked["jobs"]["bill"]["decisions"] == {"paid": ["paid=false", "paid=true"]}
    assert cli("flows", "check", "billing:app").code == 0

    write(tmp_path, SOURCE.replace('    ctx.step("save", lambda: True)\n', ""))
    changed = cli("flows", "check", "billing:app")
    assert changed.code == 1 and "- bill: step save" in changed.stdout
    report = cli("flows", "check", "billing:app", "--json").json()
    assert {"job": "bill", "section": "steps", "sign": "-", "item": "save"} in report["changes"]

    silent = SOURCE.replace("        return ctx.exit(\"paid\")", "        return None")
    write(tmp_path, silent)
    assert cli("flows", "lock", "billing:app").code == 0
    linted = cli("flows", "check", "billing:app")
    assert linted.code == 2 and "silent-exit" in linted.stdout

    allowed = silent.replace("        return None",
                             "        return None  # jobtrail: allow silent-exit — paid invoices need no record")
    write(tmp_path, allowed)
    clean = cli("flows", "check", "billing:app")
    assert clean.code == 0 and "1 silenced" in clean.stdout


def test_a_damaged_lock_is_one_clear_line_and_a_failed_gate(cli: Cli, tmp_path: Path) -> None:
    """A lock that is not JSON, of another version, or with a damaged job entry fails the gate with one line."""
    write(tmp_path, SOURCE)
    lock = tmp_path / "jobtrail.flows.json"
    for text, words in (("{not json", "not valid JSON"), ('{"version": 9, "jobs": {}}', "version 1"),
                        ('{"version": 1, "jobs": {"bill": []}}', "job 'bill' is damaged")):
        lock.write_text(text)
        checked = cli("flows", "check", "billing:app")
        assert checked.code == 1 and words in checked.error_line(), checked.stderr
