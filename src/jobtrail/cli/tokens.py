"""``jobtrail tokens create | revoke | list``: the access tokens of the dashboard and any
HTTP API (`jobtrail.tokens`), created and revoked by the OS user running the command, who
is recorded as their actor on the audit trail."""

from __future__ import annotations

from typing import Any

import click

from jobtrail.access import Role
from jobtrail.cli.loading import app_from, opened, source_options
from jobtrail.cli.output import console, emit_json, iso, when, wide_option
from jobtrail.cli.tables import Column, table
from jobtrail.store.tokens import TokenRecord
from jobtrail.tokens import check_name

ROLES = "|".join(role.value for role in Role)
COLUMNS = (
    Column("name", "elide"),
    Column("role"),
    Column("created (UTC)"),
    Column("created by", "elide", optional=True),
    Column("revoked (UTC)"),
    Column("revoked by", "elide", optional=True),
    Column("last used (UTC)", optional=True),
)


@click.group("tokens")
def tokens_group() -> None:
    """Access tokens of the dashboard and HTTP API: each has a name and a role (viewer,
    operator or admin), and is stored only as a hash."""


@tokens_group.command("create")
@source_options
@click.option("--name", required=True, metavar="NAME",
              help="Who or what the token is for, as the audit trail will name it "
              "(token:NAME): letters, digits and . _ - @.")
@click.option("--role", required=True, metavar=ROLES,
              help="What it may do: viewer reads, operator also acts on jobs, admin also "
              "manages tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print the token and its record as JSON.")
def create_command(target: str | None, url: str | None, name: str, role: str,
                   as_json: bool) -> None:
    """Create a token and print it, once: only its hash is stored, so it cannot be shown
    again (revoke it and create another if it is lost)."""
    checked, parsed = check_name(name), Role.parse(role)
    with opened(app_from(target, url)) as app:
        token, record = app.tokens.issue(checked, parsed)
    if as_json:
        emit_json({"token": token, **token_json(record)})
        return
    click.echo(token)
    click.echo(f"created token {checked!r} ({parsed.value}); it will not be shown again: "
               "store it now")


@tokens_group.command("revoke")
@source_options
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the revoked token's record as JSON.")
def revoke_command(target: str | None, url: str | None, name: str, as_json: bool) -> None:
    """Revoke the live token NAME: it no longer authenticates, from now on."""
    checked = check_name(name)
    with opened(app_from(target, url)) as app:
        record = app.tokens.revoke(checked)
    if as_json:
        emit_json(token_json(record))
    else:
        click.echo(f"revoked token {checked!r} ({record.role})")


@tokens_group.command("list")
@source_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object each.")
@wide_option
def list_command(target: str | None, url: str | None, as_json: bool, wide: bool) -> None:
    """Every token, live and revoked, oldest first: its name, role, who created and who
    revoked it and when, and when it was last used (to the minute). Never the token."""
    with opened(app_from(target, url)) as app:
        records = app.tokens.list()
    if as_json:
        emit_json([token_json(record) for record in records])
        return
    if not records:
        click.echo("no tokens yet (`jobtrail tokens create --role ROLE --name NAME`)")
        return
    rows = [(r.name, r.role, when(r.created_at), r.created_by or "-", when(r.revoked_at),
             r.revoked_by or "-", when(r.last_used_at)) for r in records]
    out = console(wide)
    out.print(table(COLUMNS, rows, out.width))


def token_json(record: TokenRecord) -> dict[str, Any]:
    """The JSON shape of one token's record (never its text nor its hash)."""
    return {"name": record.name, "role": record.role, "live": record.live,
            "created_at": iso(record.created_at), "created_by": record.created_by,
            "revoked_at": iso(record.revoked_at), "revoked_by": record.revoked_by,
            "last_used_at": iso(record.last_used_at)}
