"""``jobtrail breakers``: each breaker's state from the store, as a table and as JSON, and
forcing one open or closed (in a subprocess, on both backends)."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable

from jobtrail import App
from tests.acceptance.conftest import Cli
from tests.support import rawsql

SOURCE = '''
import os
from jobtrail import App

app = App(os.environ["BREAKER_URL"])
app.breaker("gateway", failures=3, window=30, reset_after=10)
app.breaker("mailer")


@app.job(breaker="gateway")
def charge(n: int) -> None: ...
'''

KEYS = {"name", "state", "failures", "window", "reset_after", "recent_failures", "opened_at",
        "reopens_at", "changed_at"}


def test_breakers_lists_states_and_forces_one(cli: Cli, db_url: str,
                                              make_app: Callable[..., App]) -> None:
    """``breakers`` lists each breaker's state; ``--force`` changes one, and each change is
    an event of the audit trail naming who forced it."""
    make_app()
    (cli.cwd / "pay.py").write_text(SOURCE)
    listed = cli("breakers", "pay:app", "--json", BREAKER_URL=db_url)
    assert listed.code == 0, listed.stderr
    gateway, mailer = listed.json()
    assert mailer["name"] == "mailer" and mailer["failures"] == 5
    assert set(gateway) == KEYS and gateway["name"] == "gateway"
    assert (gateway["state"], gateway["failures"], gateway["reopens_at"]) == ("closed", 3, None)
    forced = cli("breakers", "pay:app", "--force", "gateway=open", "--json", BREAKER_URL=db_url)
    assert forced.code == 0, forced.stderr
    assert forced.json()[0]["state"] == "open" and forced.json()[0]["reopens_at"] is not None
    table = cli("breakers", "pay:app", BREAKER_URL=db_url, COLUMNS="200")
    assert "gateway" in table.stdout and "open" in table.stdout
    assert "opens after 3 in 30s, probes after 10s" in table.stdout
    bad = cli("breakers", "pay:app", "--force", "bank=open", BREAKER_URL=db_url)
    assert bad.code != 0 and "no breaker named 'bank'" in bad.error_line()
    typo = cli("breakers", "pay:app", "--force", "gateway=ajar", BREAKER_URL=db_url)
    assert typo.code == 2 and "write NAME=open or NAME=closed" in typo.stderr
    closed = cli("breakers", "pay:app", "--force", "gateway=closed", "--json",
                 BREAKER_URL=db_url)
    assert closed.json()[0]["state"] == "closed"
    changes = rawsql.fetch(db_url, "SELECT name, attrs FROM jobtrail_events WHERE job_id = 0 "
                                   "AND kind = 'breaker' ORDER BY id")
    actor = f"os:{getpass.getuser()}"
    assert [(name, json.loads(attrs)) for name, attrs in changes] == [
        ("open", {"breaker": "gateway", "from": "closed", "to": "open", "action": "open",
                  "actor": actor}),
        ("closed", {"breaker": "gateway", "from": "open", "to": "closed", "action": "closed",
                    "actor": actor})]
