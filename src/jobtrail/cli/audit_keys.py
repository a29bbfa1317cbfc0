"""Reading the audit trail's keys and checkpoints from the command line: a public key given
as text or as a file, the app's own key, a checkpoint file (`jobtrail.cli.audit`)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from jobtrail.app import App
from jobtrail.audit.checkpoints import Checkpoint
from jobtrail.audit.notes import VerifierKey


def verifier(given: str | None, app: App | None) -> VerifierKey | None:
    """The public key to check checkpoints with: *given* (a key, or a file holding one),
    else the public half of the app's signing key, else None."""
    if given is not None:
        return VerifierKey.parse(_text(given, "--public-key"))
    if app is not None and app.audit_key is not None:
        return app.audit_key.verifier
    return None


def read_checkpoint(path: str, key: VerifierKey | None, option: str) -> Checkpoint:
    """The checkpoint in the file *path*, its signature checked with *key*."""
    if key is None:
        raise click.UsageError(f"{option} {path}: a checkpoint is checked with a public key: "
                               "give --public-key (or configure the app's signing key)")
    return Checkpoint.parse(_text(path, option, file_only=True), key)


def seal_or_checkpoint(value: str) -> int | str:
    """``--since`` and ``--before``: a seal number, or the path of a checkpoint file."""
    return int(value) if value.isdigit() else value


def _text(value: str, option: str, *, file_only: bool = False) -> str:
    path = Path(value)
    if os.path.isfile(path):
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise click.UsageError(f"{option} {value}: cannot read it ({exc})") from None
    if file_only:
        raise click.UsageError(f"{option} {value}: no such file")
    return value
