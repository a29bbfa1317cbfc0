"""Metrics of several processes: prometheus_client's multiprocess mode.

A ``jobtrail worker`` runs its jobs in processes it forks (``--processes N``; one, even,
by default), so what one process counts must reach a scrape served by another. With
``PROMETHEUS_MULTIPROC_DIR`` naming a directory, each process writes its counters and
histograms to files of its own there (a forked process opens its own at its first
increment), and a scrape adds up every file (`registry_for`): counters of a process that
died or was restarted stay counted. The directory should be emptied before the workers
start, and is shared only by the processes whose metrics it adds up.

prometheus_client chooses the mode when it is first imported, from the environment:
`use_directory` sets it, and refuses when the package was already imported without it.
No gauge of jobtrail lives in these files (the gauges are read from the store at each
scrape: `jobtrail.metrics.collector`), so nothing needs marking when a process dies.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from jobtrail.errors import ConfigurationError

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

#: The variable that turns prometheus_client's multiprocess mode on, and names its directory.
ENV = "PROMETHEUS_MULTIPROC_DIR"


def directory() -> str | None:
    """The directory of this process's multiprocess metrics, or ``None``."""
    return os.environ.get(ENV) or None


def use_directory(path: str) -> str:
    """Have this process, and the processes it forks or starts, write their metrics in
    *path* (made if missing); return its absolute path. `ConfigurationError` when
    prometheus_client was imported before, outside multiprocess mode: the variable must
    then be set before the process starts."""
    path = os.path.abspath(path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"cannot use {path!r} for metrics: {exc}") from exc
    values = sys.modules.get("prometheus_client.values")
    current = os.environ.get(ENV)
    if values is not None and not getattr(values.ValueClass, "_multiprocess", False):
        raise ConfigurationError(
            f"prometheus_client was imported before metrics were pointed at {path!r}: "
            f"set {ENV}={path} in the environment of the process instead")
    if values is not None and current and os.path.abspath(current) != path:
        raise ConfigurationError(
            f"metrics are written to {current!r} ({ENV}) already, not {path!r}")
    os.environ[ENV] = path
    return path


def registry_for(path: str) -> CollectorRegistry:
    """A registry whose scrape adds up the metrics every process wrote in *path*."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return registry
