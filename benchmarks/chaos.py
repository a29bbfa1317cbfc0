#!/usr/bin/env python
"""The long chaos run: thousands of jobs with keyed effects while workers are killed.

    python benchmarks/chaos.py                       # SQLite, then PostgreSQL; 5,000 jobs each
    python benchmarks/chaos.py --quick               # 1,000 jobs per backend, about a minute
    python benchmarks/chaos.py --backend postgres --jobs 20000 --json chaos.json

Per backend: enqueue the jobs of ``chaos_jobs.chaos_pay`` (a step, one or two keyed
effects that each append a line to a ledger file, sleeps, sometimes a transient failure),
start real worker processes (``python -m jobtrail worker chaos_jobs:app``), and until every
job is final, SIGKILL or SIGTERM a random worker every few tenths of a second to two
seconds, starting a replacement each time. On PostgreSQL the run makes a throwaway
cluster of its own (see ``pg_cluster.py``) and restarts it mid-run. Then it checks what
jobtrail promises: no job lost, no effect key performed twice, the ledger and the store
agree. Exit status 1 when a check fails (the evidence is kept under the temporary
directory printed), 2 on bad options, 3 when the PostgreSQL cluster cannot be made, 130
when interrupted (workers and cluster removed first).

The run itself is the ``chaosrun`` package beside this file. See ``benchmarks/README.md``
("Chaos run"). This is a script, not a test.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from chaosrun.command import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
