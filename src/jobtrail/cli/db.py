"""``jobtrail db``: the database schema."""

from __future__ import annotations

import click

from jobtrail.cli.loading import app_from, opened
from jobtrail.store import URL_ENV


@click.group("db")
def db_group() -> None:
    """Manage the database schema."""


@db_group.command("upgrade")
@click.argument("target", metavar="[MODULE:APP]", required=False)
@click.option("--url", metavar="URL", help=f"Database URL [env: {URL_ENV}].")
def upgrade(target: str | None, url: str | None) -> None:
    """Apply pending schema migrations: create or update jobtrail's tables.

    \b
    SQLite: creates the database file when it does not exist (its directory must).
    PostgreSQL: the database must exist (create it with `createdb NAME` or
      CREATE DATABASE NAME); this creates or updates jobtrail's tables in it.

    The database is the one of MODULE:APP, or --url; without either,
    $JOBTRAIL_APP, then $JOBTRAIL_URL, then ./jobtrail.db.
    """
    with opened(app_from(target, url, must_exist=False)) as app:
        applied = app.upgrade()
        version = app.store.schema_version()
    if applied:
        listed = ", ".join(str(number) for number in applied)
        plural = "s" if len(applied) > 1 else ""
        click.echo(f"applied migration{plural} {listed}: now at version {version}")
    else:
        click.echo(f"already up to date (version {version})")

