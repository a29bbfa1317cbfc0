"""Run several worker processes of one app and keep them running.

The supervisor forks its children before opening any connection (the app's store
opens lazily), forwards SIGTERM/SIGINT to them, and restarts a child that dies
unexpectedly (a crash, the OOM killer) after a short pause. In burst mode it waits
for every child to finish and restarts none.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobtrail.app import App

log = logging.getLogger("jobtrail.supervisor")

RESTART_PAUSE = 0.5


class Supervisor:
    """Forks ``processes`` workers; `run` returns when they have all stopped."""

    def __init__(
        self,
        app: App,
        *,
        processes: int,
        queues: Sequence[str] | None = None,
        concurrency: int = 4,
        burst: bool = False,
        grace: float | None = None,
    ) -> None:
        if processes < 1:
            raise ValueError(f"processes must be at least 1, got {processes}")
        self.app = app
        self.processes = processes
        self.queues = queues
        self.concurrency = concurrency
        self.burst = burst
        self.grace = grace
        self.children: dict[int, int] = {}  # pid -> slot
        self.exit_codes: dict[int, int] = {}
        self._stopping = False

    def _spawn(self, slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # the child: run one worker and leave without running parent cleanup
            code = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                from jobtrail.worker import Worker

                Worker(
                    self.app, queues=self.queues, concurrency=self.concurrency,
                    burst=self.burst, grace=self.grace,
                ).run()
                code = 0
            except BaseException:
                log.exception("worker process %d failed", os.getpid())
            finally:
                os._exit(code)
        self.children[pid] = slot
        log.info("started worker process %d (slot %d)", pid, slot)

    def _forward(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def run(self) -> dict[int, int]:
        """Start the children and supervise them; return each slot's last exit code."""
        self.app.close()  # no connection may cross the fork
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
        for sig in previous:
            signal.signal(sig, self._forward)
        try:
            for slot in range(self.processes):
                self._spawn(slot)
            while self.children:
                try:
                    pid, status = os.wait()
                except ChildProcessError:
                    break
                except InterruptedError:
                    continue
                if pid not in self.children:
                    continue
                slot = self.children.pop(pid)
                code = os.waitstatus_to_exitcode(status)
                self.exit_codes[slot] = code
                if self._stopping or (self.burst and code == 0):
                    continue
                log.error("worker process %d (slot %d) exited with %d; restarting", pid, slot, code)
                time.sleep(RESTART_PAUSE)
                if not self._stopping:
                    self._spawn(slot)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.exit_codes
