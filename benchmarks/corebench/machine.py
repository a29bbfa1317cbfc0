"""The machine a run is on: its load, CPUs, memory, Python and platform."""

from __future__ import annotations

import contextlib
import os
import platform
from typing import Any


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def machine() -> dict[str, Any]:
    memory = None
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/meminfo") as f:
        memory = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    return {
        "cpus": os.cpu_count(), "memory_gib": memory, "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }
