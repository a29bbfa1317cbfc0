"""Secrets at rest from the command line, on both backends: ``jobtrail enqueue`` and a real
``jobtrail worker`` process with keys from the environment, and ``jobtrail keys rotate``."""

from __future__ import annotations

import textwrap
from pathlib import Path

from jobtrail.redaction import MASK
from tests.acceptance.conftest import Cli
from tests.support import rawsql

SOURCE = textwrap.dedent(
    '''
    """Secrets at rest: the keys come from the environment."""

    from jobtrail import App, Retry

    app = App(retry=Retry(max_attempts=1))


    @app.job(redact=["token"])
    def use(token: str, n: int) -> int:
        assert token.startswith("tok-"), token
        return n
    '''
)
OLD = "old-key-" + "o" * 30
NEW = "new-key-" + "n" * 30
TOKEN = "tok-very-secret-value"


def keyed(cli: Cli, env: dict[str, str]) -> Cli:
    """*cli* with *env* added to its environment."""
    return Cli(cli.cwd, {**cli.env, **env})


def setup(cli: Cli, db_url: str) -> dict[str, str]:
    (Path(cli.cwd) / "vault.py").write_text(SOURCE)
    return {"JOBTRAIL_URL": db_url, "JOBTRAIL_ENCRYPTION_KEY": OLD}


def test_a_worker_process_decrypts_what_the_command_line_encrypted(
        cli: Cli, db_url: str) -> None:
    """``jobtrail enqueue`` stores the token encrypted; a ``jobtrail worker`` process with
    the key runs the job with the token in clear."""
    env = setup(cli, db_url)
    enqueued = keyed(cli, env)("enqueue", "vault:app", "use", "--arg", f"token={TOKEN}",
                               "--arg", "n=5", "--json")
    assert enqueued.code == 0, enqueued.stderr
    (payload,), = rawsql.fetch(db_url, "SELECT payload FROM jobtrail_jobs")
    assert TOKEN not in payload and "$jobtrail_encrypted" in payload
    ran = keyed(cli, env)("worker", "vault:app", "--burst")
    assert ran.code == 0, ran.stderr
    shown = keyed(cli, env)("jobs", "show", str(enqueued.json()["id"]), "--app", "vault:app",
                            "--json")
    job = shown.json()["job"]
    assert job["status"] == "succeeded" and job["result"] == 5 and job["args"]["token"] == MASK
    assert TOKEN not in shown.stdout and "$jobtrail_encrypted" not in shown.stdout


def test_keys_rotate_reencrypts_then_finds_nothing_and_the_old_key_can_go(
        cli: Cli, db_url: str) -> None:
    """``keys rotate --json`` re-encrypts under the new key what the old one holds; a second
    run re-encrypts nothing; a worker with only the new key runs the jobs."""
    env = setup(cli, db_url)
    for n in range(3):
        assert keyed(cli, env)("enqueue", "vault:app", "use", "--arg", f"token={TOKEN}{n}",
                               "--arg", f"n={n}").code == 0
    both = {**env, "JOBTRAIL_ENCRYPTION_KEY": NEW, "JOBTRAIL_OLD_ENCRYPTION_KEYS": OLD}
    first = keyed(cli, both)("keys", "rotate", "--app", "vault:app", "--json", "--batch", "2")
    assert first.code == 0, first.stderr
    assert first.json()["rows_reencrypted"]["jobs"] == 3
    second = keyed(cli, both)("keys", "rotate", "--url", db_url)
    assert second.code == 0, second.stderr
    assert second.stdout.startswith("0 rows re-encrypted (0 values)")
    only_new = {**env, "JOBTRAIL_ENCRYPTION_KEY": NEW}
    assert keyed(cli, only_new)("worker", "vault:app", "--burst").code == 0
    statuses = rawsql.fetch(db_url, "SELECT DISTINCT status FROM jobtrail_jobs")
    assert statuses == [("succeeded",)]


def test_keys_rotate_without_the_old_key_says_so_in_one_line(cli: Cli, db_url: str) -> None:
    """A rotation whose keyring lacks the key a value is under exits non-zero with one line
    naming that key id, and changes nothing; without any key it says how to give one."""
    env = setup(cli, db_url)
    assert keyed(cli, env)("enqueue", "vault:app", "use", "--arg", f"token={TOKEN}",
                           "--arg", "n=1").code == 0
    before = rawsql.fetch(db_url, "SELECT payload FROM jobtrail_jobs")
    wrong = keyed(cli, {**env, "JOBTRAIL_ENCRYPTION_KEY": NEW})("keys", "rotate", "--app",
                                                                "vault:app")
    assert wrong.code != 0
    assert "which is not in the keyring" in wrong.error_line()
    assert rawsql.fetch(db_url, "SELECT payload FROM jobtrail_jobs") == before
    keyless = cli("keys", "rotate", "--url", db_url)
    assert keyless.code != 0 and "no encryption key" in keyless.error_line()
