"""``jobtrail graph``: which job types enqueue which, read from the code and from recorded
runs, as text, Mermaid or DOT (see `jobtrail.flows.jobgraph`)."""

from __future__ import annotations

import click

from jobtrail.cli.loading import code_app, load_app, opened
from jobtrail.cli.output import emit_json
from jobtrail.flows.jobgraph import FORMATS, add_runs, cycles, from_code, render


@click.command("graph")
@code_app()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text: one edge a line; mermaid or dot: a diagram's source.")
@click.option("--code-only", is_flag=True, help="Read the code alone, not the recorded runs.")
@click.option("--json", "as_json", is_flag=True, help="Print jobs, edges and cycles as JSON.")
def graph(target: str, fmt: str, code_only: bool, as_json: bool) -> None:
    """Draw which job types of MODULE:APP enqueue which: from their code (ctx.enqueue,
    and the calls they prepare for chains and groups) and from recorded runs (jobs whose
    parent is of another type, with how many). Cycles are listed after the graph."""
    with opened(load_app(target)) as app:
        drawn = from_code(app.registry)
        if not code_only:
            add_runs(drawn, app.store.job_links())
    if as_json:
        emit_json(drawn.to_json())
        return
    click.echo(render(drawn, fmt))
    found = cycles(drawn)
    if found and fmt == "text":
        for cycle in found:
            click.echo(f"cycle: {' -> '.join(cycle)}")
