"""``jobtrail audit seal | verify | export``: the audit trail's chain of seals
(`jobtrail.audit`)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from jobtrail.audit import verify
from jobtrail.audit.encoding import Row, Seal, moment, seal_from_row
from jobtrail.audit.sealing import head_of, seal_all
from jobtrail.cli import exits
from jobtrail.cli.loading import app_from, opened, source_options
from jobtrail.store.base import Store


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
@click.option("--since", type=click.IntRange(min=1), default=1, show_default=True,
              metavar="SEQ", help="Start at this seal, taking the one before it as good.")
@click.option("--no-seal", is_flag=True, help="Verify what is sealed, without sealing first.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def verify_command(target: str | None, url: str | None, since: int, no_seal: bool,
                   as_json: bool) -> int:
    """Recompute the chain's hashes and every sealed event's digest; name the first event
    or seal that was altered, removed, inserted or reordered. Exits 0 when the trail is
    intact, 1 when it is not."""
    with opened(app_from(target, url)) as app:
        if not no_seal:
            seal_all(app.store)
        verdict = verify(app.store, since=since)
    head = verdict.head
    if as_json:
        click.echo(json.dumps({
            "ok": verdict.ok, "seals": verdict.seals, "events": verdict.events,
            "head": None if head is None else head.to_json(),
            "problem": None if verdict.problem is None else {
                "kind": verdict.problem.kind, "seal": verdict.problem.seq,
                "event": verdict.problem.event_id, "message": verdict.problem.message}}))
    elif verdict.problem is None:
        where = "no seal yet" if head is None else f"head: seal {head.seq:,} {head.hash}"
        click.echo(f"intact: {verdict.seals:,} seals, {verdict.events:,} events; {where}")
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
    """Write the sealed trail as JSON lines: each seal ({"type": "seal", ...}), then the
    events it covers ({"type": "event", "seal": SEQ, ...}), in order."""
    out = sys.stdout
    with opened(app_from(target, url)) as app:
        store = app.store
        seal_all(store)
        expected = since
        while True:
            page = store.audit_seals(expected, 200)
            for row in page:
                current = seal_from_row(row)
                out.write(json.dumps({"type": "seal", **current.to_json()}) + "\n")
                for event in _covered_rows(store, current):
                    if job_id is None or event[1] == job_id:
                        out.write(json.dumps(event_json(event, current.seq)) + "\n")
                expected += 1
            if len(page) < 200:
                break


def _covered_rows(store: Store, current: Seal) -> list[Row]:
    found: list[Row] = []
    for first, last in current.covered:
        found.extend(store.audit_rows(first, last))
    return found


def event_json(row: Row, seq: int) -> dict[str, Any]:
    """One sealed event as an export line."""
    event_id, job_id, attempt, kind, name, at_us, duration, attrs, path, claim = row
    return {"type": "event", "seal": seq, "id": event_id, "job_id": job_id,
            "attempt": attempt, "kind": kind, "name": name, "at": moment(at_us / 1e6),
            "at_us": at_us, "duration": duration, "attrs": attrs, "path": path,
            "claim": None if claim is None else str(claim)}

