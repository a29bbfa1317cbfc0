"""Leader of one library's worker processes: ``python procgroup.py '<json list of argv>'``.

Started by the harness in a new session, so it leads a process group that holds every
worker process the commands start (forked children included). It runs the commands and
exits when they have all exited. Its standard input is a pipe from the harness: when that
closes (the harness was killed or crashed), it stops the whole group — SIGTERM, then
SIGKILL — so no worker outlives the benchmark. The harness itself stops a group by
signalling the group, never by process name.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

GRACE = 3.0


def _lifeline() -> None:
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    for sig, pause in ((signal.SIGTERM, GRACE), (signal.SIGKILL, 0.0)):
        try:
            os.killpg(0, sig)
        except ProcessLookupError:
            return
        time.sleep(pause)


def main() -> int:
    commands = json.loads(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: None)  # the group's SIGTERM is for the workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_lifeline, daemon=True).start()
    procs = [subprocess.Popen(cmd, stdin=subprocess.DEVNULL) for cmd in commands]
    codes = [p.wait() for p in procs]
    return max((abs(c) for c in codes), default=0)


if __name__ == "__main__":
    sys.exit(main())
