"""``jobtrail metrics serve``: Prometheus metrics and the health endpoint over HTTP; and the
metrics of ``jobtrail worker`` (``--metrics-dir``, ``--metrics-port``: `worker_metrics`).

The worker's ``--metrics-port`` runs ``jobtrail metrics serve`` beside its processes, in a
process of its own: the supervisor forks worker processes, and neither a listening
thread nor a store connection of a server may be inherited by them. Both share the
multiprocess directory (``--metrics-dir``, ``$PROMETHEUS_MULTIPROC_DIR``, or a temporary
one removed at the end).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator

import click

from jobtrail.app import App
from jobtrail.cli.loading import app_from, opened, source_options
from jobtrail.metrics import instrument, multiprocess, require
from jobtrail.observe.logs import configure_logging

log = logging.getLogger("jobtrail.metrics")

DEFAULT_PORT = 9464
#: Seconds a worker waits for the metrics server it started to listen.
SERVER_START = 20.0
DIR_HELP = ("The directory where every worker process writes its metrics, for a scrape to "
            "add them up (prometheus_client's multiprocess mode); empty it before the "
            "workers start.")


@click.group("metrics")
def metrics_group() -> None:
    """Prometheus metrics and a health endpoint (see docs/metrics.md)."""


@metrics_group.command("serve")
@source_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT,
              show_default=True, help="The port to listen on (0: any free port).")
@click.option("--metrics-dir", type=click.Path(file_okay=False), envvar=multiprocess.ENV,
              help=f"{DIR_HELP} [env: {multiprocess.ENV}]")
@click.option("--parent", type=int, hidden=True)
def serve(target: str | None, url: str | None, host: str, port: int,
          metrics_dir: str | None, parent: int | None) -> None:
    """Serve /metrics (Prometheus), /healthz (the health checks: 200, or 503 naming what
    is wrong) and /livez over HTTP until stopped (SIGTERM, Ctrl-C).

    /metrics holds the gauges read from the store at each scrape (jobs by queue, job
    and status, oldest waiting job, running attempts, live workers, effects, breakers)
    and, with --metrics-dir, the counters every worker process wrote there."""
    require("jobtrail metrics serve")
    if metrics_dir:  # before anything imports prometheus_client: the app's module may
        multiprocess.use_directory(metrics_dir)
    configure_logging("info", "text", sys.stderr)
    from jobtrail.metrics.endpoints import Endpoints
    from jobtrail.metrics.server import MetricsServer
    from jobtrail.metrics.server import serve as serve_http

    def ready(server: MetricsServer) -> None:
        bound_host, bound_port = str(server.server_address[0]), server.server_address[1]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        click.echo(f"serving metrics on http://{shown}:{bound_port} (/metrics, /healthz, "
                   "/livez)", err=True)

    with opened(app_from(target, url)) as app:
        try:
            serve_http(Endpoints(app), host, port, ready=ready, parent=parent)
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


class WorkerMetrics:
    """The metrics of one ``jobtrail worker`` command: where its processes write them,
    and the server it started beside them (see the module docstring)."""

    def __init__(self, directory: str | None, host: str, port: int | None) -> None:
        self.directory = directory
        self.host = host
        self.port = port
        self.temporary: str | None = None
        self.server: subprocess.Popen[bytes] | None = None

    @property
    def on(self) -> bool:
        return self.directory is not None or self.port is not None

    def prepare(self) -> None:
        """Point this process's metrics at the directory (a temporary one for a port
        alone), before the app's module is imported."""
        if not self.on:
            return
        require("--metrics-dir and --metrics-port")
        if self.directory is None:
            self.directory = self.temporary = tempfile.mkdtemp(prefix="jobtrail-metrics-")
        self.directory = multiprocess.use_directory(self.directory)

    def start(self, app: App, target: str) -> None:
        """Count *app*'s attempts, and start the server when a port was given."""
        if not self.on:
            if app.metrics is not None:
                log.warning("the app counts metrics, but its worker processes' counts reach "
                            "no scrape: give --metrics-port or --metrics-dir")
            return
        instrument(app)
        if self.port is None or self.directory is None:
            return
        self.server = subprocess.Popen(
            [sys.executable, "-m", "jobtrail", "metrics", "serve", "--app", target,
             "--host", self.host, "--port", str(self.port), "--metrics-dir", self.directory,
             "--parent", str(os.getpid())],
            process_group=0,  # a Ctrl-C stops the workers first; this server, after them
        )
        self._wait_listening()

    def _wait_listening(self) -> None:
        """Wait for the server to listen: connections answered, and the server still up
        (another process on the port answers too, while the server fails to bind)."""
        assert self.server is not None and self.port is not None
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        deadline = time.monotonic() + SERVER_START
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise click.ClickException(
                    f"the metrics server could not start on {self.host}:{self.port} "
                    f"(see above)")
            with contextlib.suppress(OSError), \
                    socket.create_connection((host, self.port), timeout=0.5):
                if self._serving():
                    return
            time.sleep(0.05)
        raise click.ClickException(
            f"the metrics server did not listen on {self.host}:{self.port} within "
            f"{SERVER_START:g}s")

    def _serving(self) -> bool:
        """Whether the server process answers its own /livez (not another's port)."""
        assert self.server is not None
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(self.host, self.host)
        try:
            with urllib.request.urlopen(f"http://{host}:{self.port}/livez", timeout=1) as answer:
                said: list[str] = answer.read(64).decode("ascii", "replace").split()
        except (OSError, ValueError):
            return False
        return said == ["ok", str(self.server.pid)]

    def close(self) -> None:
        """Stop the server and remove a temporary directory."""
        server, self.server = self.server, None
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if self.temporary is not None:
            shutil.rmtree(self.temporary, ignore_errors=True)


@contextlib.contextmanager
def worker_metrics(directory: str | None, host: str, port: int | None
                   ) -> Iterator[WorkerMetrics]:
    """The metrics of a worker command, prepared; closed at the end."""
    metrics = WorkerMetrics(directory, host, port)
    try:
        metrics.prepare()
        yield metrics
    finally:
        metrics.close()
