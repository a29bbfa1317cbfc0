"""``jobtrail dashboard``: serve the web dashboard (`jobtrail.dashboard`) with uvicorn.

With no token configured (none stored by ``jobtrail tokens create``, none in
``$JOBTRAIL_DASHBOARD_TOKENS``) the dashboard asks nobody who they are, so it listens on
this machine only: any other host is refused, and so is any request addressed to another
name than localhost, 127.0.0.1 or [::1] (`jobtrail.dashboard.hosts`).
"""

from __future__ import annotations

import importlib.util

import click

from jobtrail.cli.loading import app_from, opened, source_options
from jobtrail.errors import ConfigurationError

#: The hosts a dashboard without tokens may listen on.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: The port it listens on unless told otherwise.
DEFAULT_PORT = 8000
INSTALL = "pip install 'jobtrail[dashboard]'"
#: Where --trace-url is read from when not given (`jobtrail.dashboard.links.TRACE_ENV`;
#: not imported from there, which needs the dashboard's packages).
TRACE_ENV = "JOBTRAIL_TRACE_URL"


def require_packages() -> None:
    """`ConfigurationError` naming the install command when a package the dashboard needs
    is missing."""
    missing = []
    for name in ("starlette", "jinja2", "uvicorn"):
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    if missing:
        raise ConfigurationError(
            f"the dashboard needs {', '.join(missing)}: {INSTALL}")


@click.command("dashboard")
@source_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; another than localhost needs a token "
                   "configured.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT,
              show_default=True, help="The port to listen on.")
@click.option("--trace-url", envvar=TRACE_ENV, metavar="URL",
              help="Link trace ids to your tracing UI: an http(s) address with {trace_id} "
                   "where the id goes, e.g. https://tracing.example/trace/{trace_id} "
                   f"[env: {TRACE_ENV}].")
def dashboard(target: str | None, url: str | None, host: str, port: int,
              trace_url: str | None) -> None:
    """Serve the web dashboard until stopped (Ctrl-C): queues, jobs, a job's timeline and
    family, dead letters (replay, discard), the audit trail, each job type's flow and
    catalog entry, each page also as JSON (?format=json).

    Once a token exists (`jobtrail tokens create`, or $JOBTRAIL_DASHBOARD_TOKENS as
    role:token,...), every request needs one. Without any, the dashboard is open to whoever
    reaches it, so it listens on 127.0.0.1, localhost or ::1 only.
    """
    require_packages()
    import uvicorn

    from jobtrail.dashboard import create_app

    with opened(app_from(target, url)) as app:
        try:
            web = create_app(app, trace_url=trace_url or "")
        except ValueError as exc:  # the trace link template
            raise click.BadParameter(str(exc), param_hint="'--trace-url'") from None
        if not web.state.guard.required:
            if host not in LOCAL_HOSTS:
                raise ConfigurationError(
                    f"no dashboard token is configured, so it will not listen on {host}: "
                    "create one (`jobtrail tokens create --role viewer --name NAME`) or set "
                    "$JOBTRAIL_DASHBOARD_TOKENS, or listen on 127.0.0.1")
            click.echo("no token configured: the dashboard is unauthenticated and "
                       "listens on this machine only", err=True)
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"serving the dashboard on http://{shown}:{port}/ (Ctrl-C stops it)",
                   err=True)
        uvicorn.run(web, host=host, port=port, log_level="warning", server_header=False)
