"""What a worker tells the world about the attempts it runs.

- `AttemptEvent` (`jobtrail.observe.events`): one finished attempt as a flat record of
  fields, the one schema that log lines (and metrics and traces) are made from;
- `JsonFormatter`, `TextFormatter`, `configure_logging` (`jobtrail.observe.logs`):
  stdlib ``logging`` that writes one line per record, in text or JSON;
- `AttemptLog` (`jobtrail.observe.attempts`): the worker's line per finished attempt, on
  the ``jobtrail.attempts`` logger.
"""

from jobtrail.observe.attempts import ATTEMPTS_LOGGER, AttemptLog
from jobtrail.observe.events import ATTEMPT_STATUSES, AttemptEvent
from jobtrail.observe.logs import (
    LOG_FORMATS,
    JsonFormatter,
    TextFormatter,
    configure_logging,
    formatter_for,
)

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
