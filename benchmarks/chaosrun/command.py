"""The chaos run from start to end: every backend in turn, the verdict, the JSON file, the
exit status; workers and cluster removed on Ctrl-C, SIGTERM or SIGHUP."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import random
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from pg_cluster import ClusterError

from chaosrun.backend_run import run_backend
from chaosrun.options import parse_args
from chaosrun.settings import BENCHMARKS
from jobtrail import JobtrailError

# 2 is argparse's own, for a bad option.
EXIT_OK, EXIT_BROKEN, EXIT_SETUP, EXIT_INTERRUPTED = 0, 1, 3, 130


class Interrupted(Exception):
    """SIGTERM or SIGHUP reached the run: unwind, so workers and the cluster are removed."""


def commit() -> str | None:
    """The checkout's commit (with ``-dirty`` when files changed), or ``None``."""
    try:
        out = subprocess.run(["git", "-C", str(BENCHMARKS), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


@dataclass
class Signals:
    """SIGTERM and SIGHUP raise `Interrupted` while installed."""

    previous: dict[int, Any] = field(default_factory=dict)

    def __enter__(self) -> Signals:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self.previous[sig] = signal.signal(sig, self._raise)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    @staticmethod
    def _raise(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    settings, backends, json_path = parse_args(argv)
    command = "python benchmarks/chaos.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"chaos run: {', '.join(backends)}; {settings.jobs:,} jobs each; seed "
          f"{settings.seed}; commit {commit() or 'unknown'}", flush=True)
    results: dict[str, Any] = {}
    status = EXIT_OK
    with Signals():
        for index, name in enumerate(backends):
            rng = random.Random(settings.seed * 10 + index)
            try:
                results[name] = run_backend(name, settings, rng)
            except ClusterError as exc:
                print(f"[{name}] throwaway PostgreSQL cluster: {exc}",
                      file=sys.stderr, flush=True)
                results[name] = {"backend": name, "ok": False, "setup_error": str(exc)}
                status = EXIT_SETUP
                continue
            except (JobtrailError, OSError) as exc:
                print(f"[{name}] failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                results[name] = {"backend": name, "ok": False, "error": str(exc)}
                status = EXIT_BROKEN
                continue
            except (KeyboardInterrupt, Interrupted) as exc:
                why = "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else str(exc)
                print(f"[{name}] interrupted ({why}): workers stopped, throwaway cluster "
                      "removed", file=sys.stderr, flush=True)
                return EXIT_INTERRUPTED
            if not results[name]["ok"] and status == EXIT_OK:
                status = EXIT_BROKEN
    if json_path:
        Path(json_path).write_text(json.dumps({
            "command": command, "commit": commit(),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "platform": platform.platform(),
                        "cpus": os.cpu_count()},
            "settings": asdict(settings), "backends": results,
        }, indent=1) + "\n")
    failed = [name for name, figures in results.items() if "checks" not in figures]
    broken = [name for name, figures in results.items()
              if "checks" in figures and not figures["ok"]]
    verdict = [f"BROKEN on {', '.join(broken)}"] if broken else []
    verdict += [f"could not run on {', '.join(failed)}"] if failed else []
    print(f"\n{'; '.join(verdict) or 'every check held'} — {command}", flush=True)
    return status
