"""What every benchmark job does, in every library: note when it started.

One line ``"<i> <time.time()>"`` appended to a file of its own process under
``$PEERS_RECORD_DIR`` (a RAM-backed directory when the machine has one): one ``write``
system call, no network round-trip, the same code for every library. The harness reads
the files; it never asks a library for results.
"""

from __future__ import annotations

import os
import time

_dir = os.environ.get("PEERS_RECORD_DIR", "")
_fd = -1
_pid = -1


def record(i: int) -> None:
    """Append ``i`` and the current time to this process's record file."""
    global _fd, _pid
    pid = os.getpid()
    if pid != _pid:  # first job of this process (or a forked child)
        _fd = os.open(os.path.join(_dir, str(pid)), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        _pid = pid
    os.write(_fd, b"%d %.6f\n" % (i, time.time()))
