"""The checks of `App`'s settings, each with an error naming the setting and the value."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeGuard

from jobtrail.errors import ConfigurationError
from jobtrail.observe.logs import LOG_FORMATS
from jobtrail.text import name_error

DEFAULT_KEY_RETENTION = 7 * 24 * 3600.0


def check_settings(
    *, lease: object, grace: object, max_payload_bytes: object,
    idempotency_retention: object, slow_factor: object, default_queue: object,
    alert_sinks: Sequence[object], log_format: object = "text",
) -> None:
    """Raise `ConfigurationError` for the first setting of ``App(...)`` that cannot work."""
    if not is_seconds(lease) or lease <= 0:
        raise ConfigurationError(f"App(lease={lease!r}): must be a positive number of seconds")
    if not is_seconds(grace) or grace < 0:
        raise ConfigurationError(f"App(grace={grace!r}): must be zero or more seconds")
    if (
        isinstance(max_payload_bytes, bool)
        or not isinstance(max_payload_bytes, int)
        or max_payload_bytes < 2
    ):
        raise ConfigurationError(
            f"App(max_payload_bytes={max_payload_bytes!r}): must be an int of at least 2 "
            "(the size of an empty payload, {})"
        )
    if idempotency_retention is not None and (
        not is_seconds(idempotency_retention) or idempotency_retention < 0
    ):
        raise ConfigurationError(
            f"App(idempotency_retention={idempotency_retention!r}): must be zero or more "
            "seconds, or None to keep keys forever"
        )
    if slow_factor is not None and not (is_seconds(slow_factor) and slow_factor > 1):
        raise ConfigurationError(
            f"App(slow_factor={slow_factor!r}): must be a number above 1, or None"
        )
    problem = name_error("default_queue", default_queue)
    if problem:
        raise ConfigurationError(f"App(default_queue=...): {problem}")
    if log_format not in LOG_FORMATS:
        raise ConfigurationError(
            f"App(log_format={log_format!r}): must be one of {', '.join(map(repr, LOG_FORMATS))}"
        )
    for sink in alert_sinks:
        if not callable(sink):
            raise ConfigurationError(f"App(alert_sinks=...): {sink!r} is not callable")


def is_seconds(value: object) -> TypeGuard[int | float]:
    """True for a finite int or float that is not a bool."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )
