"""Helpers for testing your own jobs against a real (temporary) SQLite store.

```python
from jobtrail.testing import temporary_app, run_until_idle

def test_charge(tmp_path):
    app = temporary_app(tmp_path)
    ...declare or import jobs on app...
    handle = charge.enqueue(invoice_id=7)
    run_until_idle(app)
    assert handle.get().status == "succeeded"
```
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from typing import Any

from jobtrail.app import App
from jobtrail.worker import Worker, WorkerStats

__all__ = ["run_until_idle", "temporary_app"]


def temporary_app(directory: str | os.PathLike[str] | None = None, **options: Any) -> App:
    """An `App` on a fresh SQLite file in *directory* (a new temporary one by default)."""
    folder = os.fspath(directory) if directory is not None else tempfile.mkdtemp(prefix="jobtrail-")
    path = os.path.join(folder, f"jobtrail-test-{os.getpid()}-{id(options):x}.db")
    return App(f"sqlite:///{os.path.abspath(path)}", **options)


def run_until_idle(
    app: App, *, queues: Sequence[str] | None = None, concurrency: int = 1
) -> WorkerStats:
    """Run a worker in this thread until no job is runnable; return what it did.

    Retries whose backoff has not elapsed are not runnable yet: give tests a
    ``Retry(base=0)`` policy to see every attempt in one call.
    """
    worker = Worker(app, queues=queues, concurrency=concurrency, burst=True, install_signals=False)
    return worker.run()
