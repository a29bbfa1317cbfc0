"""``jobtrail keys rotate``: the encryption keys of secrets at rest (`jobtrail.encryption`,
`jobtrail.rotation`)."""

from __future__ import annotations

import json

import click

from jobtrail.cli.loading import app_from, opened, source_options
from jobtrail.encryption import KEY_ENV
from jobtrail.errors import ConfigurationError
from jobtrail.rotation import DEFAULT_BATCH, RotationReport, rotate


@click.group("keys")
def keys_group() -> None:
    """The keys that redact= values are encrypted under where they are stored."""


@keys_group.command("rotate")
@source_options
@click.option("--batch", type=click.IntRange(1, 10_000), default=DEFAULT_BATCH,
              show_default=True, help="Rows re-encrypted per transaction.")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
def rotate_command(target: str | None, url: str | None, batch: int, as_json: bool) -> None:
    """Re-encrypt under the current key every stored value under an older one (waiting,
    scheduled, running, finished and dead jobs, workflows, effects, receipts), in
    transactions of --batch rows, each recorded in the audit trail. The app's keys come
    from its code (--app) or from $JOBTRAIL_ENCRYPTION_KEY and
    $JOBTRAIL_OLD_ENCRYPTION_KEYS. Running it again re-encrypts nothing more; once it
    reports nothing left, the older keys can be removed."""
    with opened(app_from(target, url)) as app:
        keyring = app.keyring
        if keyring is None:
            raise ConfigurationError(
                f"no encryption key: give the app encryption_key= or set ${KEY_ENV}, with "
                "the keys it replaces in old_encryption_keys= or $JOBTRAIL_OLD_ENCRYPTION_KEYS")

        def progress(table: str, report: RotationReport) -> None:
            if not as_json:
                click.echo(f"{table}: {report.read[table]:,} rows read, "
                           f"{report.rotated[table]:,} re-encrypted", err=True)

        report = rotate(app.store, keyring, batch=batch, progress=progress)
    if as_json:
        click.echo(json.dumps(report.to_json()))
        return
    rows = sum(report.rotated.values())
    older = ", ".join(sorted(report.old_kids)) or "none"
    click.echo(f"{rows:,} rows re-encrypted ({report.values:,} values) under key id "
               f"{report.current} (from {older})"
               + (f"; {report.changed_meanwhile:,} rows changed meanwhile: run it again"
                  if report.changed_meanwhile else ""))
