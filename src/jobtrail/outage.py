"""What a worker does while its store fails: back off with jitter, say so without flooding
the log, and know when to give up.

A worker's loop reports each store error to its `Outage` and each pass that worked to
`over`. The pause after *n* failures in a row grows exponentially to `MAX_BACKOFF`, spread
by jitter so that many workers do not come back in step. The first error of a kind is
logged at once; the same error again is logged at most every `REPEAT_LOG_EVERY` seconds,
with how often it happened meanwhile.

Some errors are not worth waiting out: `StoreLost` (the database file was deleted,
replaced or damaged) ends any worker; a ``--burst`` worker also gives up at once on a
database that needs ``jobtrail db upgrade`` and after `BURST_TRIES` failures in a row of
any other kind, since nobody waits for it to come back.
"""

from __future__ import annotations

import logging
import random
import time

from jobtrail.errors import SchemaOutdated, StoreError, StoreLost

log = logging.getLogger("jobtrail.worker")

MAX_BACKOFF = 5.0
FIRST_BACKOFF = 0.1
REPEAT_LOG_EVERY = 30.0
BURST_TRIES = 5


class Outage:
    """The store errors of one worker's loop, in a row."""

    def __init__(self, *, burst: bool, url: str) -> None:
        self.burst = burst
        self.url = url
        self.failures = 0
        self._backoff = 0.0
        self._last_message: str | None = None
        self._last_logged = 0.0
        self._repeats = 0

    @property
    def ongoing(self) -> bool:
        """True while the last store call failed."""
        return self.failures > 0

    def over(self) -> None:
        """A pass of the loop worked: the store is back (said once, if it was away)."""
        if self.failures:
            log.info("store reachable again after %d failed tries", self.failures)
        self.failures = 0
        self._backoff = 0.0
        self._last_message = None

    def failed(self, exc: StoreError) -> float:
        """Count *exc*; return how long to pause before trying again. Raise a `StoreError`
        that ends the worker when waiting is pointless (see the module docstring)."""
        self.failures += 1
        if isinstance(exc, StoreLost):
            raise exc
        if self.burst and isinstance(exc, SchemaOutdated):
            raise SchemaOutdated(f"{exc} (jobtrail db upgrade --url {self.url})") from exc
        if self.burst and self.failures >= BURST_TRIES:
            raise StoreError(
                f"gave up after {self.failures} failed tries in a row: {exc}"
            ) from exc
        self._backoff = min(MAX_BACKOFF, max(FIRST_BACKOFF, self._backoff * 2))
        pause = random.uniform(self._backoff / 2, self._backoff)
        self._log(exc, pause)
        return pause

    def _log(self, exc: StoreError, pause: float) -> None:
        message = str(exc)
        now = time.monotonic()
        if message == self._last_message and now - self._last_logged < REPEAT_LOG_EVERY:
            self._repeats += 1
            log.debug("store error again (retrying in %.1fs): %s", pause, message)
            return
        again = f" ({self._repeats + 1} times in {now - self._last_logged:.0f}s)" \
            if message == self._last_message else ""
        log.error("store error%s (retrying in %.1fs): %s", again, pause, message)
        self._last_message, self._last_logged, self._repeats = message, now, 0
