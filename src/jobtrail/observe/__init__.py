"""What a worker tells the world about the attempts it runs.

- `AttemptEvent` (`jobtrail.observe.events`): one finished attempt as a flat record of
  fields, the one schema that log lines (and metrics and traces) are made from;
- `JsonFormatter`, `TextFormatter`, `configure_logging`, `AttemptLog`
  (`jobtrail.observe.logs`): stdlib ``logging`` that writes one line per record, in text
  or JSON, and the worker's line per finished attempt on the ``jobtrail.attempts`` logger.
"""

from jobtrail.observe.events import ATTEMPT_STATUSES, AttemptEvent
from jobtrail.observe.logs import (
    ATTEMPTS_LOGGER,
    AttemptLog,
    JsonFormatter,
    TextFormatter,
    configure_logging,
    formatter_for,
)
from jobtrail.settings import LOG_FORMATS

__all__ = [
    "ATTEMPTS_LOGGER",
    "ATTEMPT_STATUSES",
    "LOG_FORMATS",
    "AttemptEvent",
    "AttemptLog",
    "JsonFormatter",
    "TextFormatter",
    "configure_logging",
    "formatter_for",
]
