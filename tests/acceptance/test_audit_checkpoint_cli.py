"""``jobtrail audit key | checkpoint | verify --export | prune`` in a subprocess, on both
backends: keys made and printed, checkpoints signed, an export verified by someone who
holds only the public key, and every bad key, forged checkpoint or export one clear line
with a non-zero exit that changes nothing."""

from __future__ import annotations

import getpass
import json
import time
from collections.abc import Callable
from pathlib import Path

from jobtrail import App
from tests.acceptance.conftest import Cli
from tests.acceptance.test_audit_cli import ran_jobs
from tests.support import rawsql


def made_key(cli: Cli) -> tuple[str, str]:
    """A new signing key and its public key, from ``audit key --generate``."""
    made = cli("audit", "key", "--generate", "example.com/billing")
    assert made.code == 0, made.stderr
    lines = made.stdout.splitlines()
    return lines[1], lines[3]


def test_key_checkpoint_and_an_export_verified_elsewhere(
        cli: Cli, db_url: str, make_app: Callable[..., App], tmp_path: Path) -> None:
    """The app's key signs a checkpoint; ``audit key`` prints the public key; an export
    verifies with that key alone (no database), and fails once an event in it is edited."""
    secret, public = made_key(cli)
    ran_jobs(make_app)
    assert cli("audit", "key", "--url", db_url, JOBTRAIL_AUDIT_SIGNING_KEY=secret
               ).stdout.strip() == public
    signed = cli("audit", "checkpoint", "--url", db_url, JOBTRAIL_AUDIT_SIGNING_KEY=secret)
    assert signed.code == 0, signed.stderr
    assert signed.stdout.startswith("example.com/billing\n1\n")
    (tmp_path / "head.note").write_text(signed.stdout)
    export = cli("audit", "export", "--url", db_url)
    (tmp_path / "trail.jsonl").write_text(export.stdout)
    (tmp_path / "key.pub").write_text(public + "\n")
    ok = cli("audit", "verify", "--export", str(tmp_path / "trail.jsonl"),
             "--public-key", str(tmp_path / "key.pub"))
    assert ok.code == 0, ok.stderr
    assert "intact: 1 seals" in ok.stdout
    assert "signed: checkpoint of seal 1 by example.com/billing" in ok.stdout
    with_file = cli("audit", "verify", "--url", db_url, "--public-key", public,
                    "--checkpoint", str(tmp_path / "head.note"), "--json")
    assert json.loads(with_file.stdout)["signed"] == {"seal": 1, "key": "example.com/billing"}
    edited = export.stdout.replace('"name": "succeeded"', '"name": "cancelled"', 1)
    (tmp_path / "edited.jsonl").write_text(edited)
    bad = cli("audit", "verify", "--export", str(tmp_path / "edited.jsonl"),
              "--public-key", public)
    assert bad.code == 1 and "NOT INTACT: event" in bad.stderr and "was altered" in bad.stderr


def test_a_forged_checkpoint_and_a_wrong_key_are_one_line_and_exit_1(
        cli: Cli, db_url: str, make_app: Callable[..., App], tmp_path: Path) -> None:
    """An export whose checkpoint was signed by another key, a checkpoint file altered by
    hand, and an export with no checkpoint each fail with one line on stderr."""
    secret, public = made_key(cli)
    _, other = made_key(cli)
    ran_jobs(make_app)
    cli("audit", "checkpoint", "--url", db_url, JOBTRAIL_AUDIT_SIGNING_KEY=secret)
    (tmp_path / "trail.jsonl").write_text(cli("audit", "export", "--url", db_url).stdout)
    wrong = cli("audit", "verify", "--export", str(tmp_path / "trail.jsonl"),
                "--public-key", other)
    assert wrong.code == 1
    assert wrong.stderr.count("\n") == 1 and "is not signed by key" in wrong.stderr
    note = cli("audit", "checkpoint", "--url", db_url, JOBTRAIL_AUDIT_SIGNING_KEY=secret).stdout
    lines = note.split("\n")
    lines[1] = "7"
    (tmp_path / "forged.note").write_text("\n".join(lines))
    forged = cli("audit", "verify", "--url", db_url, "--public-key", public,
                 "--checkpoint", str(tmp_path / "forged.note"))
    assert forged.code == 1 and "checkpoint of seal 7 is not signed by key" in forged.stderr
    (tmp_path / "garbage.note").write_text("not a note at all")
    damaged = cli("audit", "verify", "--url", db_url, "--public-key", public,
                  "--since", str(tmp_path / "garbage.note"))
    assert damaged.code == 1 and "not a signed note" in damaged.stderr
    rawsql.execute(db_url, "DELETE FROM jobtrail_audit_checkpoints")
    (tmp_path / "bare.jsonl").write_text(cli("audit", "export", "--url", db_url).stdout)
    bare = cli("audit", "verify", "--export", str(tmp_path / "bare.jsonl"),
               "--public-key", public)
    assert bare.code == 1 and "nothing vouches for it" in bare.stderr
    (tmp_path / "junk.jsonl").write_text('{"type": "seal"}\n')
    junk = cli("audit", "verify", "--export", str(tmp_path / "junk.jsonl"),
               "--public-key", public)
    assert junk.code == 1 and "line 1 of the export cannot be read" in junk.stderr


def test_bad_keys_are_usage_errors(cli: Cli, db_url: str,
                                   make_app: Callable[..., App]) -> None:
    """A signing key that cannot be read, a missing one, a public key that is not one, and
    --export without --public-key: one line, exit 2, the key never echoed."""
    ran_jobs(make_app)
    secret, _ = made_key(cli)
    broken = secret[:-6] + "AAAAAA"
    bad = cli("audit", "checkpoint", "--url", db_url, JOBTRAIL_AUDIT_SIGNING_KEY=broken)
    assert bad.code == 2 and "JOBTRAIL_AUDIT_SIGNING_KEY" in bad.stderr
    material = secret.split("+", 4)[-1]  # PRIVATE+KEY+name+hash+base64 (which may hold "+")
    assert len(material) > 40 and material[:20] not in bad.stderr
    missing = cli("audit", "checkpoint", "--url", db_url)
    assert missing.code == 2 and "no audit signing key" in missing.stderr
    assert not rawsql.fetch(db_url, "SELECT seq FROM jobtrail_audit_checkpoints")
    not_key = cli("audit", "verify", "--url", db_url, "--public-key", "hello")
    assert not_key.code == 1 and "not a verifier key" in not_key.stderr
    no_public = cli("audit", "verify", "--export", "/dev/null")
    assert no_public.code == 2 and "--public-key" in no_public.stderr


def test_prune_keeps_the_trail_verifiable_from_the_checkpoint(
        cli: Cli, db_url: str, make_app: Callable[..., App]) -> None:
    """``audit prune --before SEQ`` removes the seals before a stored checkpoint; the trail
    then verifies from it with the key; without a checkpoint, or on a trail that does not
    verify, nothing is removed."""
    secret, _ = made_key(cli)
    ran_jobs(make_app)
    first = json.loads(cli("audit", "checkpoint", "--url", db_url, "--json",
                           JOBTRAIL_AUDIT_SIGNING_KEY=secret).stdout)
    ran_jobs(make_app)
    second = json.loads(cli("audit", "checkpoint", "--url", db_url, "--json",
                            JOBTRAIL_AUDIT_SIGNING_KEY=secret).stdout)
    assert second["seq"] > first["seq"]
    none = cli("audit", "prune", "--url", db_url, "--before", str(second["seq"] + 5),
               JOBTRAIL_AUDIT_SIGNING_KEY=secret)
    assert none.code == 1 and "no checkpoint is stored for seal" in none.stderr
    rawsql.execute(db_url, "UPDATE jobtrail_events SET attrs = '{}' WHERE id = 3")
    refused = cli("audit", "prune", "--url", db_url, "--before", str(second["seq"]),
                  JOBTRAIL_AUDIT_SIGNING_KEY=secret)
    assert refused.code == 1 and "nothing was removed" in refused.stderr
    assert len(rawsql.fetch(db_url, "SELECT seq FROM jobtrail_audit")) >= second["seq"]


def test_prune_on_an_intact_trail(cli: Cli, db_url: str, make_app: Callable[..., App]) -> None:
    """On an intact trail, prune removes the seals before the checkpoint and verify (with
    the public key) still passes, saying where the trail is signed."""
    secret, public = made_key(cli)
    ran_jobs(make_app)
    cli("audit", "checkpoint", "--url", db_url, JOBTRAIL_AUDIT_SIGNING_KEY=secret)
    ran_jobs(make_app)
    second = json.loads(cli("audit", "checkpoint", "--url", db_url, "--json",
                            JOBTRAIL_AUDIT_SIGNING_KEY=secret).stdout)
    pruned = cli("audit", "prune", "--url", db_url, "--before", str(second["seq"]),
                 JOBTRAIL_AUDIT_SIGNING_KEY=secret)
    assert pruned.code == 0, pruned.stderr
    assert pruned.stdout.startswith(f"removed {second['seq'] - 1} seals before seal ")
    assert [r[0] for r in rawsql.fetch(db_url, "SELECT min(seq) FROM jobtrail_audit")] == [
        second["seq"]]
    after = cli("audit", "verify", "--url", db_url, "--public-key", public)
    assert after.code == 0, after.stderr
    assert "signed: checkpoint of seal" in after.stdout
    unkeyed = cli("audit", "verify", "--url", db_url)
    assert unkeyed.code == 1 and "the seals before were pruned" in unkeyed.stderr


def test_prune_history_from_the_command_line(
        cli: Cli, db_url: str, make_app: Callable[..., App]) -> None:
    """``jobtrail prune --older-than`` removes old finished jobs (the newest stays), says
    how many, records who did it in the trail, and the trail still verifies; without a
    retention it is one line and exit 2."""
    ran_jobs(make_app)
    missing = cli("prune", "--url", db_url)
    assert missing.code == 2 and "--older-than" in missing.stderr
    assert missing.stderr.count("\n") == 1
    time.sleep(0.3)
    done = cli("prune", "--url", db_url, "--older-than", "0.2s", "--json")
    assert done.code == 0, done.stderr
    assert json.loads(done.stdout)["jobs"] == 5
    assert [row[0] for row in rawsql.fetch(db_url, "SELECT count(*) FROM jobtrail_jobs")] == [1]
    verified = cli("audit", "verify", "--url", db_url)
    assert verified.code == 0, verified.stderr
    lines = [json.loads(line) for line in cli("audit", "export", "--url", db_url).stdout
             .splitlines()]
    record = next(line for line in lines if line.get("name") == "history_pruned")
    assert json.loads(record["attrs"])["actor"] == f"os:{getpass.getuser()}"
