"""``jobtrail cancel``: cancel jobs that have not started yet."""

from __future__ import annotations

import click

from jobtrail.cli.bulk import Report
from jobtrail.cli.loading import app_from, opened, source_options


@click.command("cancel")
@click.argument("job_ids", metavar="ID...", type=int, nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of results, one per job.")
@source_options
def cancel(target: str | None, url: str | None, job_ids: tuple[int, ...], as_json: bool) -> int:
    """Cancel the jobs with these ids that still wait to run (queued or retrying).

    One line per job: cancelled, or why not (an unknown id, a job that already started or
    finished), the others cancelled all the same. Exits 0 when every job was cancelled,
    3 when the only failures are unknown ids, 1 otherwise.
    """
    report = Report("cancel", as_json)
    with opened(app_from(target, url)) as app:
        report.batch(app.cancel_many(job_ids))
    return report.finish(summary=len(set(job_ids)) > 1)
