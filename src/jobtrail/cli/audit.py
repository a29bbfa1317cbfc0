"""``jobtrail audit seal | verify | export | key | checkpoint | prune``: the audit trail's
chain of seals and its signed checkpoints (`jobtrail.audit`)."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import IO

import click

from jobtrail.audit import checkpoints, exported
from jobtrail.audit.checkpoints import Checkpoint
from jobtrail.audit.exported import ExportedTrail
from jobtrail.audit.notes import SigningKey, VerifierKey
from jobtrail.audit.sealing import head_of, seal_all
from jobtrail.audit.verify import Problem, Verdict, verify
from jobtrail.cli import exits
from jobtrail.cli.audit_keys import read_checkpoint, seal_or_checkpoint, verifier
from jobtrail.cli.loading import app_from, opened, source_options
from jobtrail.errors import ConfigurationError


@click.group("audit")
def audit_group() -> None:
    """The audit trail: every change to every job, sealed in a hash chain."""


@audit_group.command("seal")
@source_options
@click.option("--json", "as_json", is_flag=True, help="Print the new head as JSON.")
def seal_command(target: str | None, url: str | None, as_json: bool) -> None:
    """Seal the events written since the last seal (workers do it as they run)."""
    with opened(app_from(target, url)) as app:
        appended = seal_all(app.store)
        head = head_of(app.store)
    if as_json:
        click.echo(json.dumps({"appended": appended,
                               "head": None if head is None else head.to_json()}))
    elif head is None:
        click.echo("nothing to seal: no event has been written yet")
    else:
        click.echo(f"{appended:,} seals appended; head: seal {head.seq:,} {head.hash} "
                   f"(events through {head.through:,})")


@audit_group.command("verify")
@source_options
@click.option("--since", default="1", show_default=True, metavar="SEQ|CHECKPOINT",
              help="Start at this seal, taking the one before it as good; or after the "
                   "seal of a checkpoint file, checked with the public key.")
@click.option("--public-key", metavar="KEY|FILE",
              help="Check checkpoints' signatures with this key (default: the public half "
                   "of the app's signing key).")
@click.option("--checkpoint", "checkpoint_files", multiple=True, metavar="FILE",
              help="A checkpoint kept elsewhere, which the trail must reach and match "
                   "(repeatable).")
@click.option("--export", "export_file", type=click.File("r", encoding="utf-8"),
              metavar="FILE", help="Verify an export (`jobtrail audit export`) instead of "
                                   "the database: needs --public-key.")
@click.option("--no-seal", is_flag=True, help="Verify what is sealed, without sealing first.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def verify_command(target: str | None, url: str | None, since: str, public_key: str | None,
                   checkpoint_files: tuple[str, ...], export_file: IO[str] | None,
                   no_seal: bool, as_json: bool) -> int:
    """Recompute the chain's hashes and every sealed event's digest, and check the signed
    checkpoints; name the first event, seal or checkpoint that was altered, removed,
    inserted, reordered or forged. Exits 0 when the trail is intact, 1 when it is not."""
    start = seal_or_checkpoint(since)
    if export_file is not None:
        if public_key is None:
            raise click.UsageError("--export: give --public-key to check the export's "
                                   "checkpoints (`jobtrail audit key` prints it)")
        key = verifier(public_key, None)
        assert key is not None
        anchors = [read_checkpoint(path, key, "--checkpoint") for path in checkpoint_files]
        trail = ExportedTrail.read(export_file)
        verdict = verify(trail, since=_first(start, key, anchors), key=key, anchors=anchors,
                         partial=trail.partial, excerpt=True)
        if verdict.ok and verdict.signed is None:
            verdict = dataclasses.replace(verdict, problem=Problem(
                "chain_unanchored", None, None, "no checkpoint in the export is signed by "
                f"key {key.name!r} (or none is reached): nothing vouches for it"))
        return _report(verdict, as_json)
    with opened(app_from(target, url)) as app:
        key = verifier(public_key, app)
        anchors = [read_checkpoint(path, key, "--checkpoint") for path in checkpoint_files]
        first = _first(start, key, anchors)
        if not no_seal:
            seal_all(app.store)
        verdict = verify(app.store, since=first, key=key, anchors=anchors)
    return _report(verdict, as_json)


def _first(start: int | str, key: VerifierKey | None, anchors: list[Checkpoint]) -> int:
    """The seal to start at: a number, or the one after a checkpoint file's seal (which
    then joins *anchors*, so the seal it starts after must match it)."""
    if isinstance(start, int):
        if start < 1:
            raise click.UsageError("--since: a seal number is 1 or more")
        return start
    made = read_checkpoint(start, key, "--since")
    anchors.append(made)
    return made.seq + 1


def _report(verdict: Verdict, as_json: bool) -> int:
    head, signed = verdict.head, verdict.signed
    if as_json:
        click.echo(json.dumps({
            "ok": verdict.ok, "seals": verdict.seals, "events": verdict.events,
            "head": None if head is None else head.to_json(),
            "signed": None if signed is None else {"seal": signed.seq, "key": signed.origin},
            "checkpoints": verdict.checkpoints,
            "problem": None if verdict.problem is None else {
                "kind": verdict.problem.kind, "seal": verdict.problem.seq,
                "event": verdict.problem.event_id, "message": verdict.problem.message}}))
    elif verdict.problem is None:
        where = "no seal yet" if head is None else f"head: seal {head.seq:,} {head.hash}"
        click.echo(f"intact: {verdict.seals:,} seals, {verdict.events:,} events; {where}")
        if signed is not None and head is not None:
            after = head.seq - signed.seq
            click.echo(f"signed: checkpoint of seal {signed.seq:,} by {signed.origin}"
                       + (f" ({after:,} newer seals chained, not signed yet)" if after else ""))
        elif verdict.checkpoints:
            click.echo(f"{verdict.checkpoints:,} stored checkpoints match, their signatures "
                       "not checked (no public key)")
    else:
        click.echo(f"NOT INTACT: {verdict.problem.message}", err=True)
    return exits.OK if verdict.ok else exits.FAILURE


@audit_group.command("export")
@source_options
@click.option("--since", type=click.IntRange(min=1), default=1, show_default=True,
              metavar="SEQ", help="Start at this seal.")
@click.option("--job", "job_id", type=click.IntRange(min=1), default=None,
              help="Only the events of this job (the seals still come whole).")
def export_command(target: str | None, url: str | None, since: int,
                   job_id: int | None) -> None:
    """Write the sealed trail as JSON lines: a header, then each seal ({"type": "seal",
    ...}), the events it covers ({"type": "event", "seal": SEQ, ...}) and its signed
    checkpoint if any ({"type": "checkpoint", ...}), in order."""
    with opened(app_from(target, url)) as app:
        seal_all(app.store)
        exported.write(app.store, sys.stdout, since=since, job_id=job_id)


@audit_group.command("key")
@source_options
@click.option("--generate", "name", metavar="NAME",
              help="Print a new signing key named NAME (say, example.com/billing) and its "
                   "public key, instead.")
def key_command(target: str | None, url: str | None, name: str | None) -> None:
    """Print the public key that checks the app's checkpoints (give it to whoever verifies
    an export), or make a new signing key."""
    if name is not None:
        made = SigningKey.generate(name)
        click.echo(f"signing key (keep it secret; set JOBTRAIL_AUDIT_SIGNING_KEY or "
                   f"App(audit_signing_key=...)):\n{made.text()}\n"
                   f"public key:\n{made.verifier.text()}")
        return
    app = app_from(target, url, must_exist=False)
    if app.audit_key is None:
        raise ConfigurationError(NO_KEY)
    click.echo(app.audit_key.verifier.text())


NO_KEY = ("no audit signing key: set App(audit_signing_key=...) or JOBTRAIL_AUDIT_SIGNING_KEY "
          "(`jobtrail audit key --generate NAME` makes one)")


@audit_group.command("checkpoint")
@source_options
@click.option("--json", "as_json", is_flag=True, help="Print it as JSON.")
def checkpoint_command(target: str | None, url: str | None, as_json: bool) -> None:
    """Seal what is new, sign a checkpoint of the head, store it and print it (keep a copy
    elsewhere: it is what a rewritten trail can no longer match)."""
    with opened(app_from(target, url)) as app:
        if app.audit_key is None:
            raise ConfigurationError(NO_KEY)
        seal_all(app.store)
        made = checkpoints.checkpoint(app.store, app.audit_key)
    if made is None:
        raise click.ClickException("nothing to sign: no event has been sealed yet")
    if as_json:
        click.echo(json.dumps({"seq": made.seq, "hash": made.hash, "key": made.origin,
                               "note": made.note}))
    else:
        click.echo(made.note, nl=False)


@audit_group.command("prune")
@source_options
@click.option("--before", "before", required=True, metavar="SEQ|CHECKPOINT",
              help="The checkpointed seal the trail will start at: its number (a checkpoint "
                   "of it is stored) or a checkpoint file.")
@click.option("--public-key", metavar="KEY|FILE",
              help="Check the checkpoint with this key (default: the app's).")
def prune_command(target: str | None, url: str | None, before: str,
                  public_key: str | None) -> None:
    """Remove the seals before a signed checkpoint, once the whole trail verifies: the
    trail then starts at that seal, vouched for by the checkpoint. The events stay (they
    are the jobs' history: `jobtrail prune` removes old jobs)."""
    start = seal_or_checkpoint(before)
    with opened(app_from(target, url)) as app:
        key = verifier(public_key, app)
        if key is None:
            raise click.UsageError("a pruned trail is vouched for by a signed checkpoint: "
                                   "give --public-key or configure the app's signing key")
        store = app.store
        if isinstance(start, int):
            found = store.audit_checkpoints(start, 1)
            if not found or found[0][0] != start:
                raise click.ClickException(
                    f"no checkpoint is stored for seal {start}: `jobtrail audit checkpoint` "
                    "signs one of the head; nothing removed")
            made = Checkpoint.parse(found[0][1], key)
        else:
            made = read_checkpoint(start, key, "--before")
        seal_all(store)
        verdict = verify(store, key=key, anchors=[made])
        if not verdict.ok:
            assert verdict.problem is not None
            raise click.ClickException(f"the trail does not verify, so nothing was removed "
                                       f"(pruning would erase the evidence): "
                                       f"{verdict.problem.message}")
        removed = store.audit_prune(made.seq)
    click.echo(f"removed {removed:,} seals before seal {made.seq:,}; the trail starts at "
               f"seal {made.seq:,}, vouched for by its checkpoint")
