#!/usr/bin/env python
"""jobtrail core benchmark: enqueue, drain, pick-up latency and claim cost.

Runs on SQLite (a temporary file) and on PostgreSQL (``--pg-url``, or the default URL
when a server answers there). See ``benchmarks/README.md`` for what each figure means.

    python benchmarks/core.py                 # every backend, full size
    python benchmarks/core.py --quick         # under a minute
    python benchmarks/core.py --backend sqlite --repeat 5 --json benchmarks/results/run.json

The benchmark itself is the ``corebench`` package beside this file. This is a script, not
a test: nothing under ``tests/`` imports it.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from corebench.command import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
