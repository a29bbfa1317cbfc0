"""Run worker processes of one app, keep them running, and watch what they cannot see.

The supervisor forks its children before opening any connection (the app's store opens
lazily), forwards SIGTERM/SIGINT to them, and restarts a child that dies unexpectedly (a
crash, the OOM killer) after a short pause. In burst mode it restarts none that exit
cleanly. A child that stops because its store cannot be used (`FATAL_EXIT`: the database
file gone, or a burst worker facing an unusable store) is not restarted: the supervisor
stops the others and reports it.

It also stands watch over what a process cannot see of itself:

- **Frozen children.** Each child beats a pulse into memory shared with the supervisor,
  from a thread of its own. Python code always lets that thread run; C code that holds the
  interpreter (a catastrophic regular expression, a long call into an extension) stops it,
  and with it the heartbeats that renew the child's leases. A child silent for longer than
  `freeze_limit` (half the lease, so before its leases can run out and another worker take
  its jobs while it still runs them) is killed, and restarted.
- **Dead children.** When a child dies other than by a clean exit (killed, crashed, a job
  calling ``os._exit()``), its leases are ended at once (`Store.expire_worker`) with the
  reason, rather than running out later as a bare ``LeaseExpired``.

Children die with the supervisor (``PR_SET_PDEATHSIG`` on Linux): killing it kills them
all. Each child runs in a process group of its own, so a Ctrl-C in a terminal reaches it
once, through the supervisor, not twice.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import mmap
import os
import signal
import socket
import struct
import threading
import time
import uuid
from collections.abc import Sequence
from types import FrameType
from typing import Protocol

from jobtrail.errors import StoreError
from jobtrail.records import ErrorInfo
from jobtrail.worker import DEFAULT_CONCURRENCY, Worker, WorkerHost

#: Each slot's last exit code, once a supervisor stopped.
ExitCodes = dict[int, int]


class SupervisorHost(WorkerHost, Protocol):
    """What a supervisor needs of the app (an `App`): its workers', and a way to close
    its connections before each fork."""

    def close(self) -> None: ...

log = logging.getLogger("jobtrail.supervisor")

RESTART_PAUSE = 0.5
#: Seconds between two pulses of a child, and between two looks of the supervisor.
PULSE_EVERY = 0.1
#: A child exits with this code when it cannot go on and a restart would not help.
FATAL_EXIT = 4
_PULSE = struct.Struct("d")
_PR_SET_PDEATHSIG = 1


class Supervisor:
    """Forks ``processes`` workers; `run` returns when they have all stopped."""

    def __init__(
        self,
        app: SupervisorHost,
        *,
        processes: int,
        queues: Sequence[str] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        burst: bool = False,
        scheduler: bool = True,
        grace: float | None = None,
    ) -> None:
        if processes < 1:
            raise ValueError(f"processes must be at least 1, got {processes}")
        self.app = app
        self.processes = processes
        self.queues = queues
        self.concurrency = concurrency
        self.burst = burst
        self.scheduler = scheduler
        self.grace = grace
        #: Seconds without a pulse after which a child counts as frozen and is killed.
        self.freeze_limit = max(1.0, app.lease / 2)
        self.children: dict[int, tuple[int, str]] = {}  # pid -> (slot, worker id)
        self.exit_codes: dict[int, int] = {}
        self._stopping = False
        self._frozen: set[int] = set()
        self._pulses = mmap.mmap(-1, _PULSE.size * processes)
        self._hostname = socket.gethostname()

    # -- the children ---------------------------------------------------------------------
    def _spawn(self, slot: int) -> None:
        suffix = uuid.uuid4().hex[:8]
        _PULSE.pack_into(self._pulses, slot * _PULSE.size, 0.0)  # not started yet
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: run one worker and leave without running parent cleanup
            os._exit(self._child(slot, parent, f"{self._hostname}:{os.getpid()}:{suffix}"))
        self.children[pid] = (slot, f"{self._hostname}:{pid}:{suffix}")
        log.info("started worker process %d (slot %d)", pid, slot)

    def _child(self, slot: int, parent: int, worker_id: str) -> int:
        code = 1
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the supervisor's handler
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            with contextlib.suppress(OSError):
                os.setpgid(0, 0)
            _die_with(parent)
            threading.Thread(target=self._beat, args=(slot,), name="jobtrail-pulse",
                             daemon=True).start()
            worker = Worker(
                self.app, queues=self.queues, concurrency=self.concurrency,
                burst=self.burst, grace=self.grace, worker_id=worker_id,
                scheduler=self.scheduler,
            )
            for sig in (signal.SIGTERM, signal.SIGINT):  # a stop before the loop starts
                signal.signal(sig, lambda signum, frame: worker.stop())
            worker.run()
            code = 0
        except StoreError as exc:
            log.error("worker process %d stopped: %s", os.getpid(), exc)
            code = FATAL_EXIT
        except BaseException:
            log.exception("worker process %d failed", os.getpid())
        return code

    def _beat(self, slot: int) -> None:
        """The child's pulse: proof that its interpreter still runs Python code."""
        while True:
            _PULSE.pack_into(self._pulses, slot * _PULSE.size, time.monotonic())
            time.sleep(PULSE_EVERY)

    # -- watching -----------------------------------------------------------------------
    def _forward(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def _check_pulses(self) -> None:
        now = time.monotonic()
        for pid, (slot, _) in list(self.children.items()):
            (last,) = _PULSE.unpack_from(self._pulses, slot * _PULSE.size)
            if last and now - last > self.freeze_limit and pid not in self._frozen:
                log.error("worker process %d has not answered for %.1fs (a job holding the "
                          "interpreter in C code?): killing it", pid, now - last)
                self._frozen.add(pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def run(self) -> ExitCodes:
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
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    self._check_pulses()
                    time.sleep(PULSE_EVERY)
                    continue
                if pid in self.children:
                    self._ended(pid, os.waitstatus_to_exitcode(status))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.exit_codes

    def _ended(self, pid: int, code: int) -> None:
        slot, worker_id = self.children.pop(pid)
        self.exit_codes[slot] = code
        if code not in (0, FATAL_EXIT):  # a fatal exit said why itself; its store is unusable
            self._end_leases(pid, worker_id, code)
        if code == FATAL_EXIT and not self._stopping:
            log.error("worker process %d cannot go on (see above): stopping the others", pid)
            self._forward(signal.SIGTERM, None)
        if self._stopping or (self.burst and code == 0):
            return
        log.error("worker process %d (slot %d) exited with %d; restarting", pid, slot, code)
        time.sleep(RESTART_PAUSE)
        if not self._stopping:
            self._spawn(slot)

    def _end_leases(self, pid: int, worker_id: str, code: int) -> None:
        """End the leases of a child that died, saying how it died."""
        error = death_of(pid, code, frozen=pid in self._frozen, limit=self.freeze_limit)
        self._frozen.discard(pid)
        try:
            ended = self.app.store.expire_worker(worker_id, error)
            if ended:
                log.warning("worker process %d died while running jobs %s: %s", pid,
                            ", ".join(map(str, ended)), error.message)
                # Observers (the summary of a run that died with it) may read the store.
                self.app.observers.lease_expired(ended)
        except StoreError as exc:
            log.warning("could not end the leases of worker process %d (they expire by "
                        "themselves): %s", pid, exc)
        finally:
            self.app.close()  # no connection may cross the next fork


def death_of(pid: int, code: int, *, frozen: bool, limit: float) -> ErrorInfo:
    """Why the jobs of a dead worker process stopped, as their error."""
    others = ("; every job that process was running stopped with it, so only one of them "
              "may be the cause")
    if frozen:
        return ErrorInfo("WorkerFrozen", f"worker process {pid} stopped answering for over "
                         f"{limit:g}s (C code holding the interpreter: a regular expression, "
                         f"a long call into an extension) and was killed{others}")
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        return ErrorInfo("WorkerKilled", f"worker process {pid} was killed by {name} (the "
                         f"out-of-memory killer, an operator, a crash){others}")
    return ErrorInfo("WorkerExited", f"worker process {pid} exited with code {code} (a job "
                     f"calling os._exit(), or a failure of the worker itself){others}")


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when *parent* dies (Linux); leave at once if it
    is already gone."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)
