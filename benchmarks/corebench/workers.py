"""Worker processes started as an application starts them, and stopped whatever happens."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time

from bench_app import LIFELINE_ENV

from corebench.settings import BENCHMARKS

RUNNER = BENCHMARKS / "bench_app.py"
RUNNER_COMMANDS = {
    "cli": "python -m jobtrail worker bench_app:app --processes P --concurrency C [--burst]",
    "script": "python benchmarks/bench_app.py --processes P --concurrency C [--burst]",
}


def cli_available() -> bool:
    """True when this jobtrail has the ``jobtrail worker`` command."""
    try:
        return importlib.util.find_spec("jobtrail.cli.worker") is not None
    except ImportError:
        return False


class Workers:
    """Worker processes in their own process group, started like an application's.

    ``python -m jobtrail worker bench_app:app --processes P --concurrency C [--burst]``
    (or, without the command line, ``python benchmarks/bench_app.py`` doing the same
    through ``App.work``). Stopping is forceful when it has to be: SIGTERM to the
    supervisor (it forwards it to its workers), then SIGKILL to the whole group. The
    workers also stop by themselves when the benchmark dies (their standard input, a
    pipe from here, closes).
    """

    live: set[Workers] = set()
    runner = "cli"

    def __init__(self, url: str, *, processes: int, concurrency: int, burst: bool) -> None:
        self.log = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 (closed in __exit__)
        options = ["--processes", str(processes), "--concurrency", str(concurrency)]
        if burst:
            options.append("--burst")
        if Workers.runner == "cli":
            command = [sys.executable, "-m", "jobtrail", "worker", "bench_app:app",
                       "--log-level", "warning", *options]
        else:
            command = [sys.executable, str(RUNNER), *options]
        env = dict(os.environ, JOBTRAIL_URL=url)
        env[LIFELINE_ENV] = "1"
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(BENCHMARKS), env.get("PYTHONPATH")])
        )
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True, env=env, cwd=BENCHMARKS,
        )
        self.pgid = self.proc.pid  # a new session: the supervisor leads its own group
        Workers.live.add(self)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"workers did not finish within {timeout:.0f}s") from None

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def stop(self, grace: float = 15.0) -> int | None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace)
        # Whatever is left of the group (a worker whose supervisor died first): kill it.
        deadline = time.monotonic() + 5
        while True:
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                break
            if self.proc.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(1)
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if self.proc.stdin:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        Workers.live.discard(self)
        return self.proc.returncode

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(grace=15.0 if exc[0] is None else 3.0)
        self.log.close()

    @classmethod
    def stop_all(cls) -> None:
        for group in list(cls.live):
            group.stop(grace=3.0)

