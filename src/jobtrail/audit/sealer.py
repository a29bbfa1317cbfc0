"""`Sealer`: a worker's thread that keeps the audit trail sealed as events are written.

Every `EVERY` seconds it appends seals over what was written since the last one
(`jobtrail.audit.sealing`), a few at most per round so that a long backlog is worked
through without holding the store. Every worker runs one; they take turns without
talking: one that finds the head appended by another less than a round ago leaves the
round to it, and if two seal at once the seal's number decides who appended it.

With a signing key, it also signs a checkpoint of the head every
`jobtrail.audit.checkpoints.EVERY` seconds when the chain moved on (several sealers store
one per seal). With the app's history retention (`jobtrail.retention`), the same thread
removes old jobs' history. Its first round writes the worker's ``worker_started`` event
(`jobtrail.audit.versions`). A store that fails is tried again after `RETRY_AFTER`
seconds, and the thread never takes the worker down.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from jobtrail.audit import checkpoints
from jobtrail.audit.notes import SigningKey
from jobtrail.audit.sealing import seal
from jobtrail.errors import StoreError
from jobtrail.retention import Retention

log = logging.getLogger("jobtrail.audit")

#: Seconds between two rounds of sealing.
EVERY = 1.0
#: Seals appended in one round, at most.
ROUND = 20
#: A sealer leaves a round to the one that appended the head less than this many rounds ago.
TAKE_TURNS = 0.9
#: Seconds before trying again after the store failed.
RETRY_AFTER = 5.0


class Sealer:
    """Seals *store*'s events on a thread of its own until `stop`."""

    def __init__(self, store: Any, *, worker_id: str = "", every: float = EVERY,
                 key: SigningKey | None = None,
                 checkpoint_every: float = checkpoints.EVERY,
                 retention: Retention | None = None, announce: str | None = None) -> None:
        self.store = store
        self.every = every
        self.key = key
        self.checkpoint_every = checkpoint_every
        self.retention = retention
        self._announce = announce  # the worker_started event, until it is written
        self.appended = 0  # seals this sealer appended
        self._signed = (0, 0.0)  # the seal last signed, and when (monotonic)
        self._last = 0  # the seal this sealer appended last
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._log = logging.LoggerAdapter(log, {"worker_id": worker_id})

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="jobtrail-sealer",
                                            daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop sealing; wait up to *timeout* for a round under way (a daemon thread: a
        store that hangs keeps no process alive)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                if self._announce is not None:
                    self.store.audit_record("worker_started", self._announce)
                    self._announce = None
                for _ in range(ROUND if self._my_turn() else 0):
                    made = seal(self.store)
                    if made is None:
                        break
                    self.appended += 1
                    self._last = made.seq
                    if self._stop.is_set():
                        break
                self._checkpoint()
                if self.retention is not None:
                    self.retention.tick(time.monotonic())
            except StoreError as exc:
                self._log.warning("audit trail: the store failed (%s); sealing again in %g s",
                                  exc, RETRY_AFTER)
                self._stop.wait(RETRY_AFTER)
            except Exception:  # a damaged seal, a bug: never silent, never fatal
                self._log.exception("audit trail: could not seal; trying again in %g s",
                                    RETRY_AFTER)
                self._stop.wait(RETRY_AFTER)

    def _my_turn(self) -> bool:
        """Whether to seal this round: unless another sealer appended the head less than a
        round ago (it is sealing; several sealers reading and hashing the same rows would
        only repeat its work). One that stops is taken over within a round or two."""
        head = self.store.audit_head()
        if head is None or int(head[0]) == self._last:
            return True
        return bool(self.store.audit_now() - float(head[1]) >= self.every * TAKE_TURNS)

    def _checkpoint(self) -> None:
        """Sign the head, when there is a key, it is time, and the chain moved on."""
        if self.key is None or time.monotonic() - self._signed[1] < self.checkpoint_every:
            return
        head = self.store.audit_head()
        if head is not None and int(head[0]) > self._signed[0]:
            made = checkpoints.checkpoint(self.store, self.key)
            if made is not None:
                self._signed = (made.seq, time.monotonic())
