"""prometheus_client is optional: jobtrail imports without it, and asking for metrics
without it is one clear error naming the extra to install."""

from __future__ import annotations

import importlib.util

from jobtrail.errors import ConfigurationError

#: What to install for metrics.
INSTALL = "pip install 'jobtrail[prometheus]'"


def require(what: str = "Prometheus metrics") -> None:
    """Raise `ConfigurationError` naming `INSTALL` when prometheus_client is missing."""
    try:
        found = importlib.util.find_spec("prometheus_client") is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules, a broken one
        found = False
    if not found:
        raise ConfigurationError(
            f"{what} need the prometheus_client package: {INSTALL}")
